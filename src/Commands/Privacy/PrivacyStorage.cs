using EventProfiles.Domain.Privacy;
using Marten;
using Weasel.Postgresql.Tables;

namespace EventProfiles.Commands.Privacy;

public static class PrivacyStorage
{
    /// <summary>
    /// (work id, mpid, workspace) of every queued piece of work that holds a person's data: the key an erasure deletes
    /// queued, retried, scheduled and dead-lettered messages by (the work id is the Wolverine envelope id), instead of
    /// searching message bodies. Written in the transaction that queues the work.
    /// </summary>
    public const string PersonWorkTable = Projections.Privacy.PersonWorkRecord.Table;

    public static StoreOptions AddPrivacyDocuments(this StoreOptions opts)
    {
        opts.Schema.For<DataSubjectRequest>().DocumentAlias("dsr_request").Index(r => r.WorkspaceId).Index(r => r.Status).Index(r => r.GroupId);
        opts.Schema.For<DsrExport>().DocumentAlias("dsr_export").Index(e => e.ExpiresAt);
        opts.Schema.For<RetentionSettings>().DocumentAlias("retention_settings");

        var work = new Table($"{opts.DatabaseSchemaName}.{PersonWorkTable}");
        work.AddColumn<Guid>("work_id").AsPrimaryKey();
        work.AddColumn<long>("mpid").AsPrimaryKey();
        work.AddColumn<int>("workspace_id").AsPrimaryKey();
        work.AddColumn<DateTimeOffset>("created_at").NotNull().DefaultValueByExpression("now()");
        work.Indexes.Add(new IndexDefinition($"{PersonWorkTable}_mpid") { Columns = ["mpid"] });
        work.Indexes.Add(new IndexDefinition($"{PersonWorkTable}_created") { Columns = ["created_at"] }); // the sweep that forgets finished work
        opts.Storage.ExtendedSchemaObjects.Add(work);
        return opts;
    }
}
