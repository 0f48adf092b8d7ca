using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;
using JasperFx.Events;
using Marten;
using Marten.Events.Projections;
using Weasel.Postgresql.Tables;

namespace EventProfiles.Projections.Identity;

/// <summary>
/// The identity index: (identity type, value) → MPID, one row per identity, unique across the org.
/// Inline, so it commits with the append: two concurrent batches that both claim a new identity cannot both
/// succeed, and the loser is re-resolved onto the winner's profile.
/// </summary>
public partial class IdentityIndexProjection : EventProjection
{
    public const string TableName = "ep_identity_index";
    private readonly string _table;

    public IdentityIndexProjection(string schema)
    {
        Name = "IdentityIndex";
        var table = new Table($"{schema}.{TableName}");
        _table = table.Identifier.QualifiedName;
        table.AddColumn<string>("identity_type").AsPrimaryKey();
        table.AddColumn<string>("identity_value").AsPrimaryKey();
        table.AddColumn<long>("mpid").NotNull();
        table.AddColumn<int>("workspace_id").NotNull();
        table.AddColumn<DateTimeOffset>("linked_at").NotNull();
        table.Indexes.Add(new IndexDefinition("ix_ep_identity_index_mpid") { Columns = ["mpid"] });
        SchemaObjects.Add(table);
        Options.DeleteDataInTableOnTeardown(_table);
    }

    public void Project(IEvent<UserIdentityAdded> e, IDocumentOperations ops) =>
        ops.QueueSqlCommand(
            $"insert into {_table} (identity_type, identity_value, mpid, workspace_id, linked_at) values (?, ?, ?, ?, ?)",
            e.Data.IdentityType, e.Data.Value, MpidOf(e), e.Data.WorkspaceId, e.Data.At);

    public void Project(IEvent<UserIdentityChanged> e, IDocumentOperations ops)
    {
        ops.QueueSqlCommand(
            $"delete from {_table} where identity_type = ? and identity_value = ? and mpid = ?",
            e.Data.IdentityType, e.Data.OldValue, MpidOf(e));
        ops.QueueSqlCommand(
            $"insert into {_table} (identity_type, identity_value, mpid, workspace_id, linked_at) values (?, ?, ?, ?, ?)",
            e.Data.IdentityType, e.Data.NewValue, MpidOf(e), e.Data.WorkspaceId, e.Data.At);
    }

    private static long MpidOf(IEvent e) =>
        StreamKey.TryParse(e.StreamKey, out var mpid) ? mpid : throw new InvalidOperationException($"Stream key '{e.StreamKey}' is not an MPID.");
}
