using System.Globalization;
using EventProfiles.Commands.Forwarding;
using EventProfiles.Commands.Streams;
using EventProfiles.Domain.Forwarding;
using EventProfiles.Domain.Operations;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using Marten;
using Marten.Events.Archiving;
using Npgsql;
using Wolverine.Runtime;

namespace EventProfiles.Commands.Operations;

/// <summary>
/// Data replay (forwarding.md §8): the stored batches one input of a workspace received in a time range, in the order
/// they were stored, sent again to one connection's output — each batch with its stored events, enriched from the
/// profile as it is now and passed through the connection's data filter and consent rules as they are now, marked as a
/// replay (<c>source_info.is_replay</c>, <c>replay.replay_id</c>). Deliveries go through the same durable queue as live
/// ones (retries, dead letters), written in the transaction that moves the cursor, so a stopped or restarted replay
/// sends each batch once. Historical batches are not replayed (they were never forwarded); erased people are gone.
/// </summary>
public sealed class ReplayBatches(IDocumentStore store, NpgsqlDataSource db, WorkspaceDirectory directory, IWolverineRuntime runtime, LiveStream live,
    TimeProvider clock, EnrichmentDefinitionsCache definitions) : IOperation
{
    public const int GroupSize = 200;

    public string Kind => OperationKinds.Replay;

    public async Task<string?> RunAsync(OperationJob job, JobProgress progress, CancellationToken ct)
    {
        var input = directory.InputByName(job.Parameter("input")) ?? throw new InvalidOperationException($"Input {job.Parameter("input")} no longer exists.");
        var (from, to) = (JobRequests.TryTime(job.Parameter("from"))!.Value, JobRequests.TryTime(job.Parameter("to"))!.Value);
        var schema = store.Options.DatabaseSchemaName;
        var cursor = long.TryParse(job.Cursor, CultureInfo.InvariantCulture, out var c) ? c : 0;
        var (done, events) = (job.Done, job.Events);
        // A batch a split or merge moved is replayed once, from the person who received it (issue 21).
        var hidden = await VisibleEvents.HiddenAsync(store, db, null, ct);
        var total = await CountAsync(schema, job.WorkspaceId, input.Name, from, to, hidden, ct);
        await progress.CheckpointAsync(cursor.ToString(CultureInfo.InvariantCulture), done, events, total, ct);
        while (true)
        {
            await using var session = store.LightweightSession();
            var connection = await session.LoadAsync<Connection>(job.Parameter("connection"), ct)
                ?? throw new InvalidOperationException($"Connection {job.Parameter("connection")} no longer exists.");
            var batches = await NextBatchesAsync(schema, job.WorkspaceId, input.Name, from, to, cursor, hidden, ct);
            if (batches.Count == 0) break;
            var stored = await StoredEventsAsync(session, schema, batches, hidden, ct);
            var profiles = (await session.LoadManyAsync<Profile>(ct, batches.Select(b => b.Stream).Distinct().ToArray())).ToDictionary(p => p.Id);
            var plan = ForwardingPlan.ForReplay(connection, live, clock, definitions);
            var now = clock.GetUtcNow();
            foreach (var (sequence, stream) in batches)
            {
                var received = (BatchReceived)stored[sequence].Data;
                var captured = stored.Values.Where(e => e.StreamKey == stream && e.Data is EventCaptured ec && ec.BatchId == received.BatchId)
                    .OrderBy(e => e.Sequence).Select(e => (EventCaptured)e.Data).ToList();
                events += captured.Count;
                if (!profiles.TryGetValue(stream, out var profile)) continue;
                var origin = new BatchOrigin(received.WorkspaceId, received.BatchId, received.ReceivedAt, input.Kind, received.IsHistorical);
                if (OutboundBatch.Replayed(received.Batch, captured, profile, origin, job.Id, now) is { } outbound)
                    plan.AddReplayed(outbound, profile, origin, input.Name, received.Environment);
            }
            await plan.EnlistAsync(session, runtime);
            cursor = batches[^1].Sequence;
            done += batches.Count;
            // The cursor moves in the same transaction as the deliveries it covers.
            progress.Stage(cursor.ToString(CultureInfo.InvariantCulture), done, events, total);
            session.Store(progress.Job);
            await session.SaveChangesAsync(ct);
            await progress.SaveAsync(ct);
        }
        return $"replayed {done} batches ({events} events) of {input.Name} to connection {job.Parameter("connection")}";
    }

    private async Task<long> CountAsync(string schema, int workspace, string input, DateTimeOffset from, DateTimeOffset to, HiddenEvents hidden, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"select count(*) from {schema}.mt_events where {Filter}");
        AddFilter(command.Parameters, workspace, input, from, to, 0, hidden);
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    private static readonly string Filter =
        "type = 'batch_received' and seq_id > $5 and data->>'Input' = $2 and (data->>'WorkspaceId')::int = $1 " +
        "and (data->>'ReceivedAt')::timestamptz >= $3 and (data->>'ReceivedAt')::timestamptz < $4 and not (data->>'IsHistorical')::boolean " +
        "and " + HiddenEvents.Sql("$6", "$7");

    private static void AddFilter(NpgsqlParameterCollection parameters, int workspace, string input, DateTimeOffset from, DateTimeOffset to, long after,
        HiddenEvents hidden)
    {
        parameters.AddWithValue(workspace);
        parameters.AddWithValue(input);
        parameters.AddWithValue(from);
        parameters.AddWithValue(to);
        parameters.AddWithValue(after);
        parameters.AddWithValue(hidden.Streams);
        parameters.AddWithValue(hidden.Versions);
    }

    private async Task<List<(long Sequence, string Stream)>> NextBatchesAsync(string schema, int workspace, string input, DateTimeOffset from, DateTimeOffset to,
        long after, HiddenEvents hidden, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"select seq_id, stream_id from {schema}.mt_events where {Filter} order by seq_id limit {GroupSize}");
        AddFilter(command.Parameters, workspace, input, from, to, after, hidden);
        var batches = new List<(long, string)>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) batches.Add((reader.GetInt64(0), reader.GetString(1)));
        return batches;
    }

    /// <summary>The batches' records and their captured events, loaded (and deserialised) by Marten by sequence number.</summary>
    private async Task<Dictionary<long, JasperFx.Events.IEvent>> StoredEventsAsync(IQuerySession session, string schema, List<(long Sequence, string Stream)> batches,
        HiddenEvents hidden, CancellationToken ct)
    {
        var sequences = batches.Select(b => b.Sequence).ToList();
        await using (var command = db.CreateCommand(
            $"select e.seq_id from {schema}.mt_events b join {schema}.mt_events e on e.stream_id = b.stream_id and e.type = 'event_captured' " +
            "and e.data->>'BatchId' = b.data->>'BatchId' where b.seq_id = any($1) and " + HiddenEvents.Sql("$2", "$3", "e.")))
        {
            command.Parameters.AddWithValue(batches.Select(b => b.Sequence).ToArray());
            command.Parameters.AddWithValue(hidden.Streams);
            command.Parameters.AddWithValue(hidden.Versions);
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) sequences.Add(reader.GetInt64(0));
        }
        var loaded = await session.Events.QueryAllRawEvents().Where(e => e.MaybeArchived() && sequences.Contains(e.Sequence)).ToListAsync(ct);
        return loaded.ToDictionary(e => e.Sequence);
    }
}
