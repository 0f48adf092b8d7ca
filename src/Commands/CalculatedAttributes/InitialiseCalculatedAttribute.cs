using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Profiles;
using EventProfiles.Projections.CalculatedAttributes;
using Marten;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;
using Wolverine.Attributes;

namespace EventProfiles.Commands.CalculatedAttributes;

/// <summary>Durable background job: compute one activation of a definition over the retained events.</summary>
public sealed record InitialiseCalculatedAttribute(int DefinitionId, Guid Activation);

/// <summary>
/// Initialisation by replay (§A3): reads the selected events up to the activation's position
/// (<see cref="ActiveDefinition.LiveAfterSequence"/>) person by person, runs the same Domain calculation as the live
/// projection, and stores each person's part as an <see cref="InitialisedCalculation"/>. Only the real-time lookback
/// is read (§R5), or with Lifetime Profiles a "since" date back to the retention period. Progress is saved with every chunk, so a restarted job continues where it stopped.
/// </summary>
public static class InitialiseCalculatedAttributeHandler
{
    /// <summary>People per transaction (<c>EventProfiles:CalculatedAttributes:ReplayChunk</c>).</summary>
    public const int PeoplePerChunk = 500;

    [MessageTimeout(24 * 60 * 60)] // a replay over millions of events runs for minutes, not the default 60 s
    public static async Task Handle(
        InitialiseCalculatedAttribute job, IDocumentStore store, NpgsqlDataSource db, CalculatedAttributeLimits limits,
        TimeProvider clock, IConfiguration configuration, ILogger<InitialiseCalculatedAttribute> logger, CancellationToken ct)
    {
        await using var query = store.QuerySession();
        var attribute = await query.LoadAsync<CalculatedAttribute>(job.DefinitionId, ct);
        var progress = await query.LoadAsync<Initialisation>(job.DefinitionId, ct);
        if (attribute?.Computed() is not { } definition || definition.Activation != job.Activation || progress is null
            || progress.Activation != job.Activation || progress.IsFinished)
            return; // deactivated, re-activated or deleted meanwhile, or already done

        var now = clock.GetUtcNow();
        var from = ReadFrom(definition, limits, await Privacy.RetentionSettingsStore.LoadAsync(query, ct), now);
        // Events a split or merge moved away count for the person who received them (issue 21).
        var hidden = await Streams.VisibleEvents.HiddenAsync(store, db, null, ct);
        var selection = new Selection(store, definition, from, progress.DoneThroughStream, hidden);
        // Only the progress report needs the total: counted beside the read (a second pass over the events) and
        // recorded with the first chunk saved after it is known (a resumed job counts what is left and adds what was done).
        using var stopCounting = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var doneBefore = progress.EventsDone;
        async Task<long> TotalAsync() => doneBefore + await selection.CountAsync(db, stopCounting.Token);
        var counting = progress.EventsTotal == 0 ? TotalAsync() : Task.FromResult(progress.EventsTotal);

        var peoplePerChunk = Math.Max(1, configuration.GetValue("EventProfiles:CalculatedAttributes:ReplayChunk", PeoplePerChunk));
        var chunk = new List<InitialisedCalculation>();
        string? currentStream = null;
        Calculation? current = null;
        long events = 0;
        // The previous chunk's commit (false: the definition changed meanwhile): a chunk commits while the next is read.
        var committed = Task.FromResult(true);

        async Task<bool> SaveAsync(InitialisedCalculation[] parts, Initialisation saved, Task<bool> previous)
        {
            await using var session = store.LightweightSession();
            // Stop when the definition changed meanwhile: its state would be ignored anyway.
            var latest = await session.LoadAsync<CalculatedAttribute>(job.DefinitionId, ct);
            if (latest?.Activation != job.Activation) return false;
            session.Store(parts);
            // In order: a restarted job resumes after the last chunk committed, so no chunk commits before the one ahead.
            if (!await previous) return false;
            session.Store(saved);
            await session.SaveChangesAsync(ct);
            return true;
        }

        // Hands the chunk to its commit and waits for the one before it. False when the definition changed meanwhile.
        Task<bool> FlushAsync(string? doneThrough)
        {
            progress.People += chunk.Count;
            progress.EventsDone += events;
            progress.DoneThroughStream = doneThrough ?? progress.DoneThroughStream;
            if (counting.IsCompletedSuccessfully) progress.EventsTotal = counting.Result;
            var previous = committed;
            committed = SaveAsync([.. chunk], progress.Copy(), previous);
            chunk.Clear();
            events = 0;
            return previous;
        }

        void Finish(string streamId, Calculation calculation)
        {
            if (calculation.Total is null && calculation.Buckets is not { Count: > 0 } && calculation.Seed is null) return;
            var mpid = long.Parse(streamId, System.Globalization.CultureInfo.InvariantCulture);
            chunk.Add(new InitialisedCalculation
            {
                Id = InitialisedCalculation.IdFor(definition.Id, mpid), Mpid = mpid, DefinitionId = definition.Id,
                Activation = definition.Activation, Calculation = calculation,
            });
        }

        try
        {
            await foreach (var (streamId, data) in selection.ReadAsync(db, ct))
            {
                if (streamId != currentStream)
                {
                    if (currentStream is not null)
                    {
                        Finish(currentStream, current!);
                        if (chunk.Count >= peoplePerChunk && !await FlushAsync(currentStream)) return;
                    }
                    currentStream = streamId;
                    current = Calculation.For(definition);
                }
                events++;
                switch (data)
                {
                    case EventCaptured captured when captured.Timestamp >= from:
                        foreach (var observation in definition.Observe(captured)) current!.Observe(definition, observation, now);
                        break;
                    case CalculatedAttributeSeeded seed when definition.AcceptsSeed(seed):
                        current!.TakeSeed(definition, seed);
                        break;
                }
            }
            if (currentStream is not null) Finish(currentStream, current!);
            progress.EventsTotal = await counting;
            progress.FinishedAt = clock.GetUtcNow();
            if (!await FlushAsync(currentStream) || !await committed) return;
        }
        finally
        {
            // Thrown out of the read: the chunk still committing finishes (or fails) before the job is retried.
            await ((Task)committed).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await stopCounting.CancelAsync();
            await ((Task)counting).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        logger.LogInformation("Calculated attribute {Id} initialised: {People} people, {Events} events in {Seconds:0.0} s",
            definition.Id, progress.People, progress.EventsDone, (progress.FinishedAt.Value - progress.StartedAt).TotalSeconds);
    }

    /// <summary>
    /// Events older than the real-time lookback are not read (§R5), nor those before the since date or seeding cutoff,
    /// nor those already outside a rolling window. With Lifetime Profiles on, a "since" definition reads from its date
    /// as far back as the data retention period (its date was checked against that bound).
    /// </summary>
    private static DateTimeOffset ReadFrom(ActiveDefinition definition, CalculatedAttributeLimits limits, Domain.Privacy.RetentionSettings retention, DateTimeOffset now)
    {
        var reach = retention.LifetimeProfiles && !definition.Period.IsRolling ? retention.DataRetentionDays : limits.RealTimeLookbackDays;
        var from = now - TimeSpan.FromDays(reach);
        if (definition.CountsFrom is { } start && start > from) from = start;
        if (definition.Period.IsRolling && now - definition.Period.Window - definition.BucketWidth is var windowStart && windowStart > from) from = windowStart;
        return from;
    }

    /// <summary>The stored events one definition reads: its workspace's captured events of its type, and its seeds.</summary>
    private sealed class Selection(IDocumentStore store, ActiveDefinition definition, DateTimeOffset from, string? after, Streams.HiddenEvents hidden)
    {
        private readonly string _schema = store.Options.Events.DatabaseSchemaName;
        private readonly string _captured = ((Marten.Events.EventGraph)((StoreOptions)store.Options).Events).EventMappingFor(typeof(EventCaptured)).EventTypeName;
        private readonly string _seeded = ((Marten.Events.EventGraph)((StoreOptions)store.Options).Events).EventMappingFor(typeof(CalculatedAttributeSeeded)).EventTypeName;

        private string Where =>
            $"""
            seq_id <= $1 and is_archived = false and stream_id > $5
              and ((type = '{_captured}' and data->>'WorkspaceId' = $2 and data->>'EventType' = $3 and (data->>'Timestamp')::timestamptz >= $6)
                or (type = '{_seeded}' and data->>'WorkspaceId' = $2 and data->>'AttributeName' = $4))
              and {Streams.HiddenEvents.Sql("$7", "$8")}
            """;

        private NpgsqlCommand Command(NpgsqlDataSource db, string sql)
        {
            var command = db.CreateCommand(sql);
            command.Parameters.Add(new NpgsqlParameter { Value = definition.LiveAfterSequence });
            command.Parameters.Add(new NpgsqlParameter { Value = definition.WorkspaceId.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            command.Parameters.Add(new NpgsqlParameter { Value = definition.Definition.Selector!.EventType! });
            command.Parameters.Add(new NpgsqlParameter { Value = definition.Name });
            command.Parameters.Add(new NpgsqlParameter { Value = after ?? "" });
            command.Parameters.Add(new NpgsqlParameter { Value = from });
            command.Parameters.Add(new NpgsqlParameter { Value = hidden.Streams });
            command.Parameters.Add(new NpgsqlParameter { Value = hidden.Versions });
            command.CommandTimeout = 0; // a full replay may read for a long time
            return command;
        }

        public async Task<long> CountAsync(NpgsqlDataSource db, CancellationToken ct)
        {
            await using var command = Command(db, $"select count(*) from {_schema}.mt_events where {Where}");
            return Convert.ToInt64(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
        }

        public async IAsyncEnumerable<(string StreamId, object Data)> ReadAsync(
            NpgsqlDataSource db, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
        {
            var serializer = store.Options.Serializer();
            await using var command = Command(db, $"select stream_id, type, data from {_schema}.mt_events where {Where} order by stream_id, seq_id");
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var type = reader.GetString(1);
                object data = type == _captured
                    ? serializer.FromJson<EventCaptured>(reader, 2)
                    : serializer.FromJson<CalculatedAttributeSeeded>(reader, 2);
                yield return (reader.GetString(0), data);
            }
        }
    }
}
