using EventProfiles.Commands.Forwarding;
using EventProfiles.Projections.CalculatedAttributes;
using EventProfiles.Projections.Privacy;
using Marten;
using Npgsql;
using Wolverine;
using Wolverine.Persistence.Durability.DeadLetterManagement;
using Wolverine.Runtime;

namespace EventProfiles.Commands.Privacy;

/// <summary>
/// Queued work that holds a person's data (deliveries to outputs), keyed by the person and the workspace it belongs to
/// (<see cref="PersonWorkRecord.Table"/>). The work id is the Wolverine envelope id of the message (set by an
/// envelope rule from the message's own id), so it stays the same while the message waits, is retried, scheduled or
/// dead-lettered. An erasure removes exactly the envelopes recorded for the people and workspace it erases — never by
/// looking into message bodies, where one person's identity can be part of another's data.
/// </summary>
public static class PersonWork
{
    /// <summary>The same people and workspaces for a message queued again under a new id (a paused output's delivery).</summary>
    public static async Task CopyAsync(NpgsqlDataSource db, string schema, Guid from, Guid to, CancellationToken ct)
    {
        await using var command = db.CreateCommand(
            $"insert into {schema}.{PersonWorkRecord.Table} (work_id, mpid, workspace_id) select $2, mpid, workspace_id from {schema}.{PersonWorkRecord.Table} " +
            "where work_id = $1 on conflict do nothing");
        command.Parameters.Add(new NpgsqlParameter { Value = from });
        command.Parameters.Add(new NpgsqlParameter { Value = to });
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The work recorded for these people: all of it, or only one workspace's.</summary>
    public static async Task<Guid[]> OfAsync(IDocumentSession session, long[] mpids, int? workspaceId, CancellationToken ct)
    {
        await using var command = ((NpgsqlConnection)session.Connection!).CreateCommand();
        command.CommandText = $"select distinct work_id from {session.DocumentStore.Options.DatabaseSchemaName}.{PersonWorkRecord.Table} " +
                              "where mpid = any($1) and ($2::int is null or workspace_id = $2)";
        command.Parameters.Add(new NpgsqlParameter { Value = mpids });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)workspaceId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        var ids = new List<Guid>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) ids.Add(reader.GetGuid(0));
        return ids.ToArray();
    }

    /// <summary>
    /// Deletes the work through Wolverine's storage (waiting, scheduled and retried messages from the inbox; dead letters
    /// through the dead-letter API) and its rows, in the erasure's transaction. Work shared with people who are not erased
    /// (a standard audience's chunk) goes too: it is queued again by nobody, but it held the erased person's data.
    /// </summary>
    public static async Task RemoveAsync(IDocumentSession session, IWolverineRuntime runtime, Guid[] workIds, CancellationToken ct)
    {
        if (workIds.Length == 0) return;
        var storage = runtime.Storage;
        // An incoming envelope is identified by its id and the durable local queue it waits in (one per kind of work).
        object[] kinds = [new DeliverBatch("", "", Guid.Empty, Guid.Empty, 0, "", "", ""), new AudienceMembershipsChanged([]), new ReevaluateAudiencesAt(0, default)];
        var queues = kinds.Select(k => runtime.RoutingFor(k.GetType()).RouteForSend(k, null).Single().Destination).Distinct().ToList();
        foreach (var id in workIds)
            foreach (var queue in queues)
                await storage.Inbox.DeleteIncomingEnvelopeAsync(new Envelope { Id = id, Destination = queue });
        await storage.DeadLetters.DiscardAsync(new DeadLetterEnvelopeQuery(workIds), ct);
        session.QueueSqlCommand($"delete from {session.DocumentStore.Options.DatabaseSchemaName}.{PersonWorkRecord.Table} where work_id = any(?)", (object)workIds);
    }

    /// <summary>
    /// Forgets work that is over: rows older than a day (every delivery is delivered, refused or dead-lettered by then, and
    /// Wolverine has dropped its handled envelopes) whose envelope is not a dead letter. Rows of dead letters stay while
    /// the dead letter does (looked at again a day later). Returns the rows forgotten.
    /// </summary>
    public static async Task<int> ForgetFinishedAsync(NpgsqlDataSource db, string schema, IWolverineRuntime runtime, CancellationToken ct)
    {
        var table = $"{schema}.{PersonWorkRecord.Table}";
        var old = new List<Guid>();
        // The database's clock on both sides: created_at is its own.
        await using (var command = db.CreateCommand($"select distinct work_id from {table} where created_at < now() - interval '1 day' limit 1000"))
        {
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) old.Add(reader.GetGuid(0));
        }
        if (old.Count == 0) return 0;
        var dead = (await runtime.Storage.DeadLetters.QueryAsync(new DeadLetterEnvelopeQuery(old.ToArray()) { PageSize = old.Count }, ct))
            .Envelopes.Select(e => e.Id).ToArray();
        await using var batch = db.CreateBatch();
        var forget = new NpgsqlBatchCommand($"delete from {table} where work_id = any($1) and not (work_id = any($2))");
        forget.Parameters.Add(new NpgsqlParameter { Value = old.ToArray() });
        forget.Parameters.Add(new NpgsqlParameter { Value = dead });
        var later = new NpgsqlBatchCommand($"update {table} set created_at = now() where work_id = any($1)");
        later.Parameters.Add(new NpgsqlParameter { Value = dead });
        batch.BatchCommands.Add(forget);
        batch.BatchCommands.Add(later);
        return await batch.ExecuteNonQueryAsync(ct);
    }
}
