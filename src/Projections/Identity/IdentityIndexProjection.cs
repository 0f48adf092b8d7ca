using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;
using JasperFx.Events;
using Marten;
using Marten.Events.Projections;
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
    private readonly IdentitySettings _identity;

    public IdentityIndexProjection(string schema, IdentitySettings identity)
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
        if (!_identity.IsMatchable(type, value)) return;
        ops.QueueSqlCommand(
            $"insert into {_table} (identity_type, identity_value, mpid, is_unique, workspace_id, linked_at) values (?, ?, ?, ?, ?, ?)",
            type, value, mpid, _identity.IsUnique(type), workspaceId, at);
    }

    private void Unlink(IDocumentOperations ops, string type, string value, long mpid) =>
        ops.QueueSqlCommand($"delete from {_table} where identity_type = ? and identity_value = ? and mpid = ?", type, value, mpid);

    private static long MpidOf(IEvent e) =>
        StreamKey.TryParse(e.StreamKey, out var mpid) ? mpid : throw new InvalidOperationException($"Stream key '{e.StreamKey}' is not an MPID.");
}
