using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Operations;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Privacy;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Wolverine;
using Wolverine.Http;
using Wolverine.Marten;
using Wolverine.Runtime;

namespace EventProfiles.Commands.Privacy;

public sealed record RetentionBody(
    [property: JsonPropertyName("data_retention_days")] int? DataRetentionDays,
    [property: JsonPropertyName("profile_lifetime_days")] int? ProfileLifetimeDays,
    [property: JsonPropertyName("lifetime_profiles")] bool? LifetimeProfiles);

public sealed record RetentionView(
    [property: JsonPropertyName("data_retention_days")] int DataRetentionDays,
    [property: JsonPropertyName("real_time_lookback_days")] int RealTimeLookbackDays,
    [property: JsonPropertyName("profile_lifetime_days")] int ProfileLifetimeDays,
    [property: JsonPropertyName("lifetime_profiles")] bool LifetimeProfiles)
{
    public static RetentionView Of(RetentionSettings s, CalculatedAttributeLimits limits) =>
        new(s.DataRetentionDays, limits.RealTimeLookbackDays, s.ProfileLifetimeDays, s.LifetimeProfiles);
}

public static class RetentionSettingsStore
{
    public static async Task<RetentionSettings> LoadAsync(IQuerySession session, CancellationToken ct) =>
        await session.LoadAsync<RetentionSettings>(RetentionSettings.DocumentId, ct) ?? new RetentionSettings();
}

/// <summary><c>GET /api/admin/retention</c>: the org's retention period, real-time lookback, profile lifetime and Lifetime Profiles.</summary>
public static class GetRetentionEndpoint
{
    [WolverineGet("/api/admin/retention", Name = "Get the retention settings")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession, Policy = ApiAuthorization.EveryWorkspace)] // org-wide; the console edits it with its session
    public static async Task<RetentionView> Get(IQuerySession session, CalculatedAttributeLimits limits, CancellationToken ct) =>
        RetentionView.Of(await RetentionSettingsStore.LoadAsync(session, ct), limits);
}

/// <summary><c>PUT /api/admin/retention</c>: change them (the lookback is the deployment's, <c>EventProfiles:CalculatedAttributes:RealTimeLookbackDays</c>).</summary>
public static class PutRetentionEndpoint
{
    [WolverinePut("/api/admin/retention", Name = "Change the retention settings")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession, Policy = ApiAuthorization.EveryWorkspace)] // org-wide; the console edits it with its session
    public static async Task<IResult> Put(RetentionBody body, IDocumentSession session, CalculatedAttributeLimits limits, CancellationToken ct)
    {
        var current = await RetentionSettingsStore.LoadAsync(session, ct);
        var next = current with
        {
            DataRetentionDays = body.DataRetentionDays ?? current.DataRetentionDays,
            ProfileLifetimeDays = body.ProfileLifetimeDays ?? current.ProfileLifetimeDays,
            LifetimeProfiles = body.LifetimeProfiles ?? current.LifetimeProfiles,
        };
        var problems = next.Problems(limits.RealTimeLookbackDays);
        if (problems.Count > 0) return Results.Problem(ApiProblems.Invalid(problems.Select(p => new FieldError(p.Field, p.Reason)).ToList(), "The retention settings are invalid"));
        session.Store(next);
        await session.SaveChangesAsync(ct);
        return Results.Ok(RetentionView.Of(next, limits));
    }
}

/// <summary>
/// Enforces the data retention period (§1, R1, R11) in the background, in bounded steps that never hold ingestion up
/// for long: captured events and batch records received (stored) before the period are deleted for good, whatever
/// their own timestamps say (historical imports live their full period) — a cursor sweeps the event table 5,000 rows
/// per statement; and a person whose profile was last updated by a batch before the period disappears entirely (the
/// erasure of data-subject requests, removal messages included), unless it was aliased to a profile updated since
/// (<see cref="RetentionClock"/>).
/// The events that make up the profile's state (identities, attributes, consent) stay while the profile does.
/// </summary>
public sealed class RetentionEnforcer(IDocumentStore store, NpgsqlDataSource db, WorkspaceDirectory directory, TimeProvider clock, IWolverineRuntime runtime,
    RebuildProjections rebuild, ILogger<RetentionEnforcer> logger) : BackgroundService
{
    private const int RowsPerStatement = 5_000;
    private const int ProfilesPerRound = 100;

    private long _cursor;
    private DateTimeOffset? _passStartedAt;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(1));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var now = clock.GetUtcNow();
            // Profiles, exports and finished work every minute; the event sweep goes on with its pass, or starts a new one when due.
            var sweep = EventSweep.IsDue(_cursor, _passStartedAt, now);
            if (sweep && _cursor == 0) _passStartedAt = now;
            try { await RunOnceAsync(stoppingToken, maxStatements: sweep ? 200 : 0); }
            catch (Exception ex) when (ex is not OperationCanceledException) { logger.LogWarning(ex, "Retention round failed; it runs again in a minute"); }
        }
    }

    /// <summary>
    /// One round: up to <paramref name="maxStatements"/> steps of the event sweep (continuing where the last round stopped,
    /// starting over at the end of the table; a full sweep from the start when unlimited; none with 0), then the expired profiles.
    /// Returns (events deleted, people removed).
    /// </summary>
    public async Task<(long Events, int People)> RunOnceAsync(CancellationToken ct, int maxStatements = int.MaxValue)
    {
        await using var query = store.QuerySession();
        var settings = await RetentionSettingsStore.LoadAsync(query, ct);
        var cutoff = clock.GetUtcNow() - settings.DataRetention;
        var schema = store.Options.DatabaseSchemaName;
        var events = ((StoreOptions)store.Options).Events;
        var graph = (Marten.Events.EventGraph)events;
        var captured = graph.EventMappingFor(typeof(EventCaptured)).EventTypeName;
        var received = graph.EventMappingFor(typeof(BatchReceived)).EventTypeName;

        var ceiling = maxStatements > 0 ? await ProcessDataSubjectRequestHandler.DeletionCeilingAsync(db, schema, ct) : 0;
        long deleted = 0;
        if (maxStatements == int.MaxValue) _cursor = 0;
        for (var step = 0; step < maxStatements; step++)
        {
            // The next 5,000 rows by sequence: delete the expired among them, then move on.
            await using var command = db.CreateCommand($"""
                with batch_window as (select seq_id, type, timestamp, data from {schema}.mt_events where seq_id > $1 order by seq_id limit {RowsPerStatement}),
                     gone as (delete from {schema}.mt_events e using batch_window w
                              where e.seq_id = w.seq_id and w.seq_id <= $3 and ((w.type = '{captured}' and w.timestamp < $2)
                                                          or (w.type = '{received}' and (w.data->>'ReceivedAt')::timestamptz < $2))
                              returning 1)
                select (select max(seq_id) from batch_window), (select count(*) from gone)
                """);
            command.Parameters.Add(new NpgsqlParameter { Value = _cursor });
            command.Parameters.Add(new NpgsqlParameter { Value = cutoff });
            command.Parameters.Add(new NpgsqlParameter { Value = ceiling });
            await using var reader = await command.ExecuteReaderAsync(ct);
            await reader.ReadAsync(ct);
            if (reader.IsDBNull(0)) { _cursor = 0; break; } // end of the table: the next round starts over
            _cursor = reader.GetInt64(0);
            deleted += reader.GetInt64(1);
        }

        var people = 0;
        var kept = 0; // past the period by their own clock, but aliased to a profile that is not: they stay first in the order
        while (true)
        {
            await using var session = store.LightweightSession();
            var candidates = await session.Query<Profile>().Where(p => p.LastStoredAt < cutoff).OrderBy(p => p.LastStoredAt).ThenBy(p => p.Id)
                .Skip(kept).Take(ProfilesPerRound).ToListAsync(ct);
            if (candidates.Count == 0) break;
            var known = await WithAliasDestinationsAsync(session, candidates, ct);
            var expired = candidates.Where(p => RetentionClock.LastUpdate(p, known) < cutoff).ToList();
            kept += candidates.Count - expired.Count;
            if (expired.Count == 0) continue;
            // The erasure path of data-subject requests, for the whole person (no workspace: retention is the org's).
            var erased = await ProcessDataSubjectRequestHandler.EraseAsync(session, db, runtime, expired.Select(p => p.Mpid).ToList(), null, directory, null, clock, ct);
            if (erased is null) break; // the daemon is behind: next round
            // Removal messages to audience outputs are committed with the erasure (transactional outbox).
            var outbox = new MartenOutbox(runtime, session);
            foreach (var message in erased.Messages) await outbox.SendAsync(message);
            await session.SaveChangesAsync(ct);
            if (erased.RebuildAfterCommit.Count > 0) await rebuild.RebuildGroupAsync(erased.RebuildAfterCommit, ct);
            people += expired.Count;
        }

        // Access exports past their download time are deleted, not only refused; queued work that is over is forgotten.
        await using (var session = store.LightweightSession())
        {
            var now = clock.GetUtcNow();
            session.HardDeleteWhere<DsrExport>(e => e.ExpiresAt < now);
            await session.SaveChangesAsync(ct);
        }
        await PersonWork.ForgetFinishedAsync(db, schema, runtime, ct);
        var (agedOut, archived) = await ProfileLifetime.RunAsync(store, db, settings, clock.GetUtcNow(), ct);
        if (agedOut > 0 || archived > 0) logger.LogInformation("Profile lifetime: {AgedOut} people aged out, {Archived} streams archived", agedOut, archived);
        if (deleted > 0 || people > 0) logger.LogInformation("Retention: {Events} events and {People} people past {Days} days removed", deleted, people, settings.DataRetentionDays);
        return (deleted, people);
    }

    /// <summary>The profiles, and the profiles they were aliased to (followed along chains), by MPID.</summary>
    private static async Task<Dictionary<long, Profile>> WithAliasDestinationsAsync(IQuerySession session, IReadOnlyList<Profile> profiles, CancellationToken ct)
    {
        var known = profiles.ToDictionary(p => p.Mpid);
        var asked = known.Keys.ToHashSet();
        var missing = profiles.SelectMany(RetentionClock.DestinationsOf).Where(asked.Add).ToArray();
        for (var depth = 0; missing.Length > 0 && depth < 10; depth++) // a gone (erased) destination is asked for once
        {
            var loaded = await session.LoadManyAsync<Profile>(ct, missing.Select(StreamKey.For).ToArray());
            foreach (var p in loaded) known[p.Mpid] = p;
            missing = loaded.SelectMany(RetentionClock.DestinationsOf).Where(asked.Add).ToArray();
        }
        return known;
    }
}
