using EventProfiles.Commands.CalculatedAttributes;
using EventProfiles.Commands.Streams;
using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Profiles;
using EventProfiles.Projections.CalculatedAttributes;
using Marten;
using Microsoft.Extensions.Logging;
using Npgsql;
using Wolverine;
using Wolverine.Attributes;

namespace EventProfiles.Commands.Audiences;

/// <summary>Durable job: once an audience's event counters are initialised, start evaluating it and evaluate everyone it may hold.</summary>
public sealed record InitialiseAudience(int AudienceId, Guid Activation);

/// <summary>
/// Activation, deactivation and deletion of audiences. Each event criterion gets a hidden event counter (an internal
/// calculated attribute: count within the criterion's period, with its conditions), so counting, initialisation by
/// replay and rebuilds are the calculated attributes' own; the audience starts being evaluated when they are ready.
/// </summary>
public static class AudienceLifecycle
{
    public const int PeoplePerChunk = 1_000;

    public static async Task<IReadOnlyList<object>> ActivateAsync(Audience audience, IDocumentSession session, NpgsqlDataSource db,
        CalculatedAttributeLimits limits, string by, DateTimeOffset now, CancellationToken ct)
    {
        await ForgetCountersAsync(session, audience.Id, ct);
        var liveAfter = await CalculatedAttributeActivation.HighWaterMarkAsync(db, session.DocumentStore.Options.DatabaseSchemaName, ct);
        audience.Activation = Guid.NewGuid();
        audience.Status = AudienceStatus.Calculating;
        audience.ActivatedOn = now;
        audience.LastModifiedBy = by;
        audience.LastModifiedOn = now;
        audience.Counters = [];
        var messages = new List<object>();
        for (var i = 0; i < audience.Criteria.Count; i++)
        {
            var criterion = audience.Criteria[i];
            if (criterion.Kind != CriterionKinds.Event) { audience.Counters.Add(0); continue; }
            var counter = new CalculatedAttribute
            {
                WorkspaceId = criterion.WorkspaceId ?? audience.WorkspaceIds[0],
                Name = $"~audience {audience.Id} criterion {i + 1} ({audience.Activation.Value.ToString("N")[..8]})",
                OwnerAudienceId = audience.Id,
                DraftDefinition = Audience.CounterFor(criterion, limits.RealTimeLookbackDays),
                Status = CalculatedAttributeStatus.Draft,
                CreatedBy = by,
                CreatedOn = now,
            };
            counter.Activate(by, now, liveAfter);
            session.Store(counter); // the id is assigned here
            audience.Counters.Add(counter.Id);
            session.Store(new Initialisation { Id = counter.Id, Activation = counter.Activation!.Value, StartedAt = now });
            messages.Add(new InitialiseCalculatedAttribute(counter.Id, counter.Activation!.Value));
        }
        session.Store(audience);
        // On the same sequential queue after the counters' replays: the audience is evaluated once they are done.
        messages.Add(new InitialiseAudience(audience.Id, audience.Activation.Value));
        return messages;
    }

    public static async Task DeactivateAsync(Audience audience, IDocumentSession session, string by, DateTimeOffset now, CancellationToken ct)
    {
        await ForgetCountersAsync(session, audience.Id, ct);
        audience.Status = AudienceStatus.Inactive;
        audience.Activation = null;
        audience.Counters = [];
        audience.LastModifiedBy = by;
        audience.LastModifiedOn = now;
        session.DeleteWhere<AudienceMember>(m => m.AudienceId == audience.Id);
        session.Store(audience);
    }

    private static async Task ForgetCountersAsync(IDocumentSession session, int audienceId, CancellationToken ct)
    {
        var counters = await session.Query<CalculatedAttribute>().Where(c => c.OwnerAudienceId == audienceId).ToListAsync(ct);
        foreach (var counter in counters)
        {
            session.Delete(counter);
            CalculatedAttributeActivation.ForgetInitialisation(session, counter.Id);
        }
    }
}

public static class InitialiseAudienceHandler
{
    [MessageTimeout(24 * 60 * 60)]
    public static async Task<object?> Handle(InitialiseAudience job, IDocumentStore store, NpgsqlDataSource db, TimeProvider clock,
        Forwarding.EnrichmentDefinitionsCache enrichment, CancellationToken ct)
    {
        await using (var session = store.LightweightSession())
        {
            var audience = await session.LoadAsync<Audience>(job.AudienceId, ct);
            if (audience is not { Status: AudienceStatus.Calculating } || audience.Activation != job.Activation) return null;
            var counters = audience.Counters.Where(c => c != 0).ToArray();
            var progress = counters.Length == 0 ? [] : await session.LoadManyAsync<Initialisation>(ct, counters);
            if (progress.Count < counters.Length || progress.Any(p => !p.IsFinished)) return job.DelayedFor(TimeSpan.FromSeconds(1));
            audience.Status = AudienceStatus.Active;
            session.Store(audience);
            await session.SaveChangesAsync(ct);
            enrichment.Forget();
        }

        // Everyone who sent data to the audience's workspaces is evaluated once, through their own stream.
        var schema = store.Options.DatabaseSchemaName;
        var audienceNow = await store.QuerySession().LoadAsync<Audience>(job.AudienceId, ct);
        var workspaces = audienceNow!.WorkspaceIds.Select(w => w.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var people = new List<long>();
        await using (var command = db.CreateCommand($"select (data->>'Mpid')::bigint from {schema}.{Projections.Profiles.ProfileProjection.TableName} where data->'Workspaces' ?| $1 and data->>'AgedOutAt' is null"))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = workspaces });
            command.CommandTimeout = 0;
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) people.Add(reader.GetInt64(0));
        }
        foreach (var chunk in people.Chunk(AudienceLifecycle.PeoplePerChunk))
        {
            await using var session = store.LightweightSession();
            var keys = await StreamLocks.LockAsync(session, chunk, ct);
            var now = clock.GetUtcNow();
            var live = (await session.LoadManyAsync<Profile>(ct, keys)).Where(p => p.IsLive).Select(p => p.Id); // not aged out meanwhile
            foreach (var key in live) session.Events.Append(key, new AudiencesReevaluationDue(now));
            await session.SaveChangesAsync(ct);
        }
        return null;
    }
}

/// <summary>A person whose memberships must be evaluated again at <see cref="DueAt"/> (time alone changes a verdict then).</summary>
public sealed class ScheduledReevaluation
{
    public string Id { get; set; } = "";
    public long Mpid { get; set; }
    public DateTimeOffset DueAt { get; set; }
}

public static class ReevaluateAudiencesAtHandler
{
    /// <summary>From the projection: remember the earliest moment a verdict of this person can change.</summary>
    public static async Task Handle(ReevaluateAudiencesAt request, IDocumentSession session, CancellationToken ct)
    {
        var key = StreamKey.For(request.Mpid);
        var existing = await session.LoadAsync<ScheduledReevaluation>(key, ct);
        if (existing is not null && existing.DueAt <= request.At) return;
        session.Store(new ScheduledReevaluation { Id = key, Mpid = request.Mpid, DueAt = request.At });
    }
}

/// <summary>
/// Carries out due re-evaluations: every second it takes the people whose moment has come (an indexed look-up of due
/// rows, never a scan of all profiles) and records <see cref="AudiencesReevaluationDue"/> on their streams, so the
/// projection evaluates them again. Uses the Host's clock, so tests can move time forward.
/// </summary>
public sealed class ReevaluationScheduler(IDocumentStore store, TimeProvider clock, Microsoft.Extensions.Logging.ILogger<ReevaluationScheduler> logger)
    : Microsoft.Extensions.Hosting.BackgroundService
{
    private const int PerRound = 500;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                while (await RunOnceAsync(stoppingToken) == PerRound) { }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Audience re-evaluation round failed; it is retried in a second");
            }
        }
    }

    public async Task<int> RunOnceAsync(CancellationToken ct)
    {
        await using var session = store.LightweightSession();
        var now = clock.GetUtcNow();
        var due = await session.Query<ScheduledReevaluation>().Where(r => r.DueAt <= now).OrderBy(r => r.DueAt).Take(PerRound).ToListAsync(ct);
        if (due.Count == 0) return 0;
        var keys = await StreamLocks.LockAsync(session, due.Select(d => d.Mpid), ct);
        // Erased people have no profile; aged-out ones are archived and in no audience until they come back.
        var existing = (await session.LoadManyAsync<Profile>(ct, keys)).Where(p => p.IsLive).Select(p => p.Id).ToHashSet();
        foreach (var key in keys.Where(existing.Contains)) session.Events.Append(key, new AudiencesReevaluationDue(now));
        foreach (var row in due) session.Delete(row);
        await session.SaveChangesAsync(ct);
        return due.Count;
    }
}
