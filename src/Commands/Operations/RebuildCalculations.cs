using System.Globalization;
using EventProfiles.Commands.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Operations;
using EventProfiles.Domain.Profiles;
using EventProfiles.Projections.CalculatedAttributes;
using EventProfiles.Commands.CalculatedAttributes;
using Marten;
using Npgsql;

namespace EventProfiles.Commands.Operations;

/// <summary>
/// Rebuilds the async read model (calculated attributes, real-time audience memberships) in place, with the same rule as
/// the profiles: old documents are served until each group of people is replaced. The daemon's shard is stopped for the
/// duration and the people are rebuilt from their events up to the shard's position P, so at every moment every
/// document reflects exactly the events up to P; when the rebuild ends (finished, paused, cancelled or failed) the shard
/// starts again at P and applies what arrived meanwhile. Replayed parts from activations are kept, as in a live run; aged-out (archived) people are left as
/// they are, since the daemon does not read archived events either.
/// Runs on any node: with several nodes the shard is paused wherever it runs through Wolverine's agent restrictions
/// (<see cref="CalculationsShard"/>), and the leader starts it again afterwards, on whichever node it picks.
/// </summary>
public sealed class RebuildCalculations(IDocumentStore store, NpgsqlDataSource db, CalculationsShard shard, TimeProvider clock)
{
    public const string ShardName = CalculationsShard.ShardName;
    private const string CursorPrefix = RebuildTargets.Calculations + ":";

    public async Task RunAsync(OperationJob job, JobProgress progress, long? person, CancellationToken ct)
    {
        await using (await shard.PauseAsync(ct))
        {
            var position = await SettledPositionAsync(ct);
            var schema = store.Options.DatabaseSchemaName;
            var cursor = (job.Cursor ?? "").StartsWith(CursorPrefix, StringComparison.Ordinal) ? job.Cursor![CursorPrefix.Length..] : "";
            var (done, events) = (job.Cursor?.StartsWith(CursorPrefix, StringComparison.Ordinal) == true ? job.Done : 0, job.Events);
            var total = person is null ? await PeopleInKeyOrder.CountAsync(db, schema, includeArchived: false, ct) : 1;
            var projection = new PersonCalculationsProjection(); // its own page context, apart from the daemon's instance
            while (true)
            {
                var keys = await PeopleInKeyOrder.NextGroupAsync(db, schema, person, cursor, includeArchived: false, ct);
                if (keys.Count == 0) break;
                events += await RebuildGroupAsync(projection, keys, position, ct);
                done += keys.Count;
                cursor = keys[^1];
                await progress.CheckpointAsync(CursorPrefix + cursor, done, events, total, ct);
            }
        }
    }

    private async Task<int> RebuildGroupAsync(PersonCalculationsProjection projection, IReadOnlyList<string> keys, long position, CancellationToken ct)
    {
        await using var session = store.LightweightSession();
        var events = await session.Events.QueryAllRawEvents()
            .Where(e => keys.Contains(e.StreamKey) && e.Sequence <= position)
            .OrderBy(e => e.Sequence)
            .ToListAsync(ct);
        var rebuilt = await projection.FoldAsync(session, events, ct);
        var before = (await session.LoadManyAsync<PersonCalculations>(ct, keys.ToArray())).ToDictionary(p => p.Id);
        foreach (var key in keys)
        {
            if (!rebuilt.TryGetValue(key, out var state))
            {
                if (before.ContainsKey(key)) session.Delete<PersonCalculations>(key);
                continue;
            }
            var old = before.GetValueOrDefault(key);
            // "Member since" needs no patching: the projection takes time from the events, so the rebuild folds the live times.
            // The next moment a verdict can change is scheduled, as the live projection does.
            state.ReevaluationScheduledFor = old?.ReevaluationScheduledFor;
            if (state.AudiencesChangeAt is { } next && (state.ReevaluationScheduledFor is not { } scheduled || next < scheduled || scheduled <= clock.GetUtcNow()))
            {
                state.ReevaluationScheduledFor = next;
                await ReevaluateAudiencesAtHandler.Handle(new ReevaluateAudiencesAt(state.Mpid, next), session, ct);
            }
            session.Store(state);
        }
        // The synchronous part (issue 16 §7) is folded again from the stream by each person's next batch; until then
        // reads take the rebuilt documents.
        session.QueueSqlCommand(CalculatedAttributes.SynchronousCalculationsStorage.DeleteSql(store.Options.DatabaseSchemaName),
            keys.Select(k => long.Parse(k, CultureInfo.InvariantCulture)).ToArray());
        await session.SaveChangesAsync(ct);
        return events.Count;
    }

    /// <summary>The stopped shard's position, read until two reads agree (a page in flight when it stopped may still commit).</summary>
    private async Task<long> SettledPositionAsync(CancellationToken ct)
    {
        var position = await ShardPositionAsync(ct);
        for (var i = 0; i < 50; i++)
        {
            await Task.Delay(100, ct);
            var again = await ShardPositionAsync(ct);
            if (again == position) return position;
            position = again;
        }
        throw new InvalidOperationException($"The {ShardName} shard kept moving after it was stopped; try again.");
    }

    private async Task<long> ShardPositionAsync(CancellationToken ct)
    {
        await using var command = db.CreateCommand($"select coalesce((select last_seq_id from {store.Options.DatabaseSchemaName}.mt_event_progression where name = $1), 0)");
        command.Parameters.AddWithValue(ShardName);
        return Convert.ToInt64(await command.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
    }
}
