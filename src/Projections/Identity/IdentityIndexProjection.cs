using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;
using JasperFx.Events;
using Marten;
using Marten.Events.Projections;
using NpgsqlTypes;
using Weasel.Postgresql.Tables;

namespace EventProfiles.Projections.Identity;

/// <summary>
/// The identity index: (identity type, value) → the profiles holding it, one row per (identity, MPID). A value of a
/// unique type (customer id, email by default) may be held by one profile only, enforced by a partial unique index;
/// other identities (a device) may be shared. Inline, so it commits with the append: two concurrent batches that
/// both claim a new unique identity cannot both succeed, and the loser is re-resolved onto the winner's profile.
/// </summary>
public partial class IdentityIndexProjection : EventProjection
{
    public const string TableName = "ep_identity_index";
    private readonly string _table;
    /// <summary>The org's identity rules as they are now (they change while the store runs: docs/identity.md).</summary>
    private readonly Func<IdentitySettings> _identity;

    public IdentityIndexProjection(string schema, Func<IdentitySettings> identity)
    {
        Name = "IdentityIndex";
        _identity = identity;
        var table = new Table($"{schema}.{TableName}");
        _table = table.Identifier.QualifiedName;
        table.AddColumn<string>("identity_type").AsPrimaryKey();
        table.AddColumn<string>("identity_value").AsPrimaryKey();
        table.AddColumn<long>("mpid").AsPrimaryKey();
        table.AddColumn<bool>("is_unique").NotNull().DefaultValueByExpression("false");
        table.AddColumn<int>("workspace_id").NotNull();
        table.AddColumn<DateTimeOffset>("linked_at").NotNull();
        table.Indexes.Add(new IndexDefinition("ix_ep_identity_index_mpid") { Columns = ["mpid"] });
        table.Indexes.Add(new IndexDefinition("ux_ep_identity_index_unique")
        {
            Columns = ["identity_type", "identity_value"], IsUnique = true, Predicate = "is_unique",
        });
        // The web UI's prefix search on emails and customer ids (LIKE 'abc%'): a "C"-collated index serves it under any
        // database collation.
        table.Indexes.Add(new IndexDefinition("ix_ep_identity_index_prefix") { Columns = ["identity_type", "identity_value"], Collation = "C" });
        SchemaObjects.Add(table);
        Options.DeleteDataInTableOnTeardown(_table);
    }

    public void Project(IEvent<UserIdentityAdded> e, IDocumentOperations ops) =>
        Link(ops, e.Data.IdentityType, e.Data.Value, MpidOf(e), e.Data.WorkspaceId, e.Data.At);

    public void Project(IEvent<UserIdentityChanged> e, IDocumentOperations ops)
    {
        Unlink(ops, e.Data.IdentityType, e.Data.OldValue, MpidOf(e));
        Link(ops, e.Data.IdentityType, e.Data.NewValue, MpidOf(e), e.Data.WorkspaceId, e.Data.At);
    }

    public void Project(IEvent<UserIdentityRemoved> e, IDocumentOperations ops) =>
        Unlink(ops, e.Data.IdentityType, e.Data.Value, MpidOf(e));

    private void Link(IDocumentOperations ops, string type, string value, long mpid, int workspaceId, DateTimeOffset at)
    {
        // Placeholders are never indexed, also when replaying events stored before the org ignored them.
        var identity = _identity();
        if (!identity.IsMatchable(type, value)) return;
        ops.QueueSqlCommand(
            $"insert into {_table} (identity_type, identity_value, mpid, is_unique, workspace_id, linked_at) values (?, ?, ?, ?, ?, ?)",
            type, value, mpid, identity.IsUnique(type), workspaceId, at);
    }

    private void Unlink(IDocumentOperations ops, string type, string value, long mpid) =>
        ops.QueueSqlCommand($"delete from {_table} where identity_type = ? and identity_value = ? and mpid = ?", type, value, mpid);

    /// <summary>The index rows an event changes, in the order the projection applies them (for set-based writers).</summary>
    public static IEnumerable<(bool Link, string Type, string Value, int WorkspaceId, DateTimeOffset At)> Changes(object data) => data switch
    {
        UserIdentityAdded a => [(true, a.IdentityType, a.Value, a.WorkspaceId, a.At)],
        UserIdentityChanged c => [(false, c.IdentityType, c.OldValue, c.WorkspaceId, c.At), (true, c.IdentityType, c.NewValue, c.WorkspaceId, c.At)],
        UserIdentityRemoved r => [(false, r.IdentityType, r.Value, 0, default)],
        _ => [],
    };

    private static long MpidOf(IEvent e) =>
        StreamKey.TryParse(e.StreamKey, out var mpid) ? mpid : throw new InvalidOperationException($"Stream key '{e.StreamKey}' is not an MPID.");
}

/// <summary>
/// The identity-index rows of many events written set-based (the ingestion writer's group append): what
/// <see cref="IdentityIndexProjection"/> would do event by event, as one delete and one insert. Per (type, value, MPID)
/// the last change wins; a row unlinked anywhere in the group is deleted before the insert, so unlink-then-link ends
/// linked, as the projection's sequence of statements would. The rules are the group's (one snapshot per transaction).
/// </summary>
public sealed class IdentityIndexWriter(string schema)
{
    public sealed class Rows
    {
        internal readonly HashSet<(string Type, string Value, long Mpid)> Unlinked = [];
        internal readonly Dictionary<(string Type, string Value, long Mpid), (int WorkspaceId, DateTimeOffset At)?> Last = [];

        public void Add(long mpid, object data)
        {
            foreach (var (link, type, value, workspaceId, at) in IdentityIndexProjection.Changes(data))
            {
                if (!link) Unlinked.Add((type, value, mpid));
                Last[(type, value, mpid)] = link ? (workspaceId, at) : null;
            }
        }
    }

    private readonly TypedSql _delete = new(
        $"delete from {schema}.{IdentityIndexProjection.TableName} t using unnest(?::text[], ?::text[], ?::bigint[]) u(ty, va, mp) " +
        "where t.identity_type = u.ty and t.identity_value = u.va and t.mpid = u.mp");
    private readonly TypedSql _insert = new(
        $"insert into {schema}.{IdentityIndexProjection.TableName} (identity_type, identity_value, mpid, is_unique, workspace_id, linked_at) " +
        "select * from unnest(?::text[], ?::text[], ?::bigint[], ?::boolean[], ?::integer[], ?::timestamptz[])");

    public void Queue(IDocumentOperations ops, Rows rows, IdentitySettings identity)
    {
        const NpgsqlDbType texts = NpgsqlDbType.Array | NpgsqlDbType.Text, bigints = NpgsqlDbType.Array | NpgsqlDbType.Bigint;
        if (rows.Unlinked.Count > 0)
            _delete.Queue(ops, TypedSql.Of(rows.Unlinked.Select(r => r.Type).ToArray(), texts), TypedSql.Of(rows.Unlinked.Select(r => r.Value).ToArray(), texts),
                TypedSql.Of(rows.Unlinked.Select(r => r.Mpid).ToArray(), bigints));
        // Placeholders are never indexed (the projection's rule).
        var links = rows.Last.Where(r => r.Value is not null && identity.IsMatchable(r.Key.Type, r.Key.Value)).ToList();
        if (links.Count > 0)
            _insert.Queue(ops, TypedSql.Of(links.Select(r => r.Key.Type).ToArray(), texts), TypedSql.Of(links.Select(r => r.Key.Value).ToArray(), texts),
                TypedSql.Of(links.Select(r => r.Key.Mpid).ToArray(), bigints),
                TypedSql.Of(links.Select(r => identity.IsUnique(r.Key.Type)).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Boolean),
                TypedSql.Of(links.Select(r => r.Value!.Value.WorkspaceId).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Integer),
                TypedSql.Of(links.Select(r => r.Value!.Value.At.ToUniversalTime()).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.TimestampTz));
    }
}
