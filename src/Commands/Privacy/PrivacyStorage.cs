using EventProfiles.Domain.Privacy;
using Marten;
using Npgsql;
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

        var requests = new Table($"{opts.DatabaseSchemaName}.{DsrRequestsTable}");
        requests.AddColumn<int>("workspace_id").AsPrimaryKey();
        requests.AddColumn<DateTimeOffset>("window_start").NotNull();
        requests.AddColumn<int>("requests").NotNull();
        opts.Storage.ExtendedSchemaObjects.Add(requests);
        return opts;
    }

    /// <summary>OpenDSR requests of each workspace's current one-minute window, shared by every node (the rate limit of §4.1).</summary>
    public const string DsrRequestsTable = "ep_dsr_request_counts";
}

/// <summary>Our SQL against <see cref="PrivacyStorage.DsrRequestsTable"/>: one statement per OpenDSR request.</summary>
public sealed class DsrRequestCounts(NpgsqlDataSource db, IDocumentStore store)
{
    private string Table => $"{store.Options.DatabaseSchemaName}.{PrivacyStorage.DsrRequestsTable}";

    /// <summary>
    /// Counts one request (atomically: concurrent requests on any node each count) and returns the count and start of
    /// the window it fell in. A window starts at its first request and lasts <paramref name="window"/>; the next request
    /// after it starts a new one in the same row, so the table holds one row per workspace and needs no sweep.
    /// </summary>
    public async Task<(int Requests, DateTimeOffset WindowStart)> AddAsync(int workspace, DateTimeOffset now, TimeSpan window, CancellationToken ct)
    {
        // SET reads the row's old values, so both columns agree.
        await using var command = db.CreateCommand(
            $"insert into {Table} as c (workspace_id, window_start, requests) values ($1, $2, 1) " +
            "on conflict (workspace_id) do update set " +
            "requests = case when c.window_start <= $2 - $3 then 1 else c.requests + 1 end, " +
            "window_start = case when c.window_start <= $2 - $3 then $2 else c.window_start end " +
            "returning requests, window_start");
        command.Parameters.Add(new NpgsqlParameter { Value = workspace });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        command.Parameters.Add(new NpgsqlParameter { Value = window });
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return (reader.GetInt32(0), reader.GetFieldValue<DateTimeOffset>(1));
    }
}
