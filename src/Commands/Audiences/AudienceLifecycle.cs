using EventProfiles.Commands.CalculatedAttributes;
using EventProfiles.Commands.Streams;
using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using EventProfiles.Projections.CalculatedAttributes;
using Marten;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;
using Wolverine;
using Wolverine.Attributes;
using Wolverine.Marten;
using Wolverine.Runtime;

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
    /// <summary>People per transaction of an activation's evaluation (<c>EventProfiles:Audiences:EvaluationChunk</c>).</summary>
    public const int PeoplePerChunk = 1_000;

    public static async Task<IReadOnlyList<object>> ActivateAsync(Audience audience, IDocumentSession session, NpgsqlDataSource db,
        CalculatedAttributeLimits limits, CalculationsFeedKeeper feed, string by, DateTimeOffset now, CancellationToken ct)
    {
        await ForgetCountersAsync(session, audience.Id, ct);
        // The daemon's shard fetches every event again before the live start is taken (it fetches none while nothing is active).
        await feed.FetchEverythingAsync(ct);
        var liveAfter = await CalculatedAttributeActivation.HighWaterMarkAsync(db, session.DocumentStore.Options.DatabaseSchemaName, ct);
        audience.Activation = Guid.NewGuid();
        audience.Status = AudienceStatus.Calculating;
        audience.ActivatedOn = now;
        audience.LastModifiedBy = by;
        audience.LastModifiedOn = now;
        audience.Counters = [];
        // Decided at activation, as the product leaves existing audiences unchanged when Lifetime Profiles is turned on.
        var retention = await Privacy.RetentionSettingsStore.LoadAsync(session, ct);
        DateTimeOffset? countsSince = retention.LifetimeProfiles ? now - TimeSpan.FromDays(limits.RealTimeLookbackDays) : null;
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
                DraftDefinition = Audience.CounterFor(criterion, limits.RealTimeLookbackDays, countsSince),
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

    /// <summary>The counters, initial memberships and evaluation progress of the previous activation.</summary>
    private static async Task ForgetCountersAsync(IDocumentSession session, int audienceId, CancellationToken ct)
    {
        session.DeleteWhere<InitialisedCalculation>(c => c.AudienceId == audienceId);
        session.Delete<AudienceInitialisation>(audienceId);
        var counters = await session.Query<CalculatedAttribute>().Where(c => c.OwnerAudienceId == audienceId).ToListAsync(ct);
        foreach (var counter in counters)
        {
            session.Delete(counter);
            CalculatedAttributeActivation.ForgetInitialisation(session, counter.Id);
        }
    }
}

/// <summary>
/// How far an activation's evaluation of everyone got (one per audience): the people are taken in stream-key order,
/// <see cref="DoneThrough"/> is the last key done, <see cref="Deferred"/> the people whose events the daemon had not
/// applied yet when their turn came (they are evaluated again in a later pass). A restarted job continues from here.
/// </summary>
public sealed class AudienceInitialisation
{
    public int Id { get; set; }
    public Guid Activation { get; set; }
    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public string? DoneThrough { get; set; }
    public List<string> Deferred { get; set; } = [];
    /// <summary>Everyone the evaluation takes (set when the job starts or restarts); with <see cref="PeopleDone"/>, its progress.</summary>
    public long PeopleTotal { get; set; }
    /// <summary>People whose turn is over: evaluated, left to the projection's own verdict, gone meanwhile or handed to their streams.</summary>
    public long PeopleDone { get; set; }
    /// <summary>People evaluated by this job (the projection had no verdict of its own for them).</summary>
    public long People { get; set; }
    public long Members { get; set; }
    /// <summary>Members of an earlier definition (the audience was edited) the new one no longer holds: removed, with the message.</summary>
    public long Dropped { get; set; }
    /// <summary>People who stayed behind the daemon through every pass: recorded <see cref="AudiencesReevaluationDue"/> instead.</summary>
    public long ReevaluatedThroughStream { get; set; }

    /// <summary>A copy to store while this one goes on counting (its only reference field, the list, copied too).</summary>
    public AudienceInitialisation Copy()
    {
        var copy = (AudienceInitialisation)MemberwiseClone();
        copy.Deferred = [.. Deferred];
        return copy;
    }
}

/// <summary>
/// Evaluates everyone an activated audience may hold, set-based, without writing to their streams: once the counters
/// are initialised the audience is active (the projection evaluates it from the people's next events on), and this job
/// takes everyone else, 1,000 people per transaction: under their stream locks (no event of theirs can commit
/// meanwhile) it evaluates each person the projection has no verdict of its own for, with the same code as the
/// projection, and stores the members as initial memberships (<see cref="InitialisedCalculation.InitialMember"/>), with
/// their membership changes recorded as the membership handler records the projection's (member list, change records,
/// the outputs' deliveries) in the same transaction, and the moment time alone can change a verdict
/// (<see cref="ScheduledReevaluation"/>). Readers combine the initial verdict with the projection's own
/// (<see cref="AudienceMemberships"/>); the projection takes it over at the person's next relevant event.
/// A person whose events the daemon has not applied yet is evaluated in a later pass (their counters must include
/// those events); a person who stays behind through every pass gets <see cref="AudiencesReevaluationDue"/> on their
/// stream, so the projection evaluates them in order.
/// </summary>
public static class InitialiseAudienceHandler
{
    private const int RetryPasses = 3;

    [MessageTimeout(24 * 60 * 60)]
    public static async Task<object?> Handle(InitialiseAudience job, IDocumentStore store, NpgsqlDataSource db, TimeProvider clock,
        Forwarding.EnrichmentDefinitionsCache enrichment, IWolverineRuntime runtime, WorkspaceDirectory directory, IConfiguration configuration, ILogger<InitialiseAudience> logger, CancellationToken ct)
    {
        AudienceInitialisation progress;
        Audience audience;
        await using (var session = store.LightweightSession())
        {
            var loaded = await session.LoadAsync<Audience>(job.AudienceId, ct);
            if (loaded is null || loaded.Activation != job.Activation) return null;
            audience = loaded;
            var existing = await session.LoadAsync<AudienceInitialisation>(job.AudienceId, ct);
            if (audience.Status == AudienceStatus.Calculating)
            {
                var counters = audience.Counters.Where(c => c != 0).ToArray();
                var counting = counters.Length == 0 ? [] : await session.LoadManyAsync<Initialisation>(ct, counters);
                if (counting.Count < counters.Length || counting.Any(p => !p.IsFinished)) return job.DelayedFor(TimeSpan.FromSeconds(1));
                // Active first: from now on the projection evaluates the audience on people's events, this job the rest.
                audience.Status = AudienceStatus.Active;
                session.Store(audience);
                existing = null;
            }
            else if (audience.Status != AudienceStatus.Active) return null;
            progress = existing is not null && existing.Activation == job.Activation
                ? existing
                : new AudienceInitialisation { Id = audience.Id, Activation = job.Activation, StartedAt = clock.GetUtcNow() };
            if (progress.FinishedAt is not null) return null;
            session.Store(progress);
            await session.SaveChangesAsync(ct);
            enrichment.Forget();
        }

        var run = new Run(store, db, runtime, directory, audience, progress, new PersonCalculationsProjection().IncludedEventTypes, clock);
        var pending = await run.PeopleAsync(ct);
        // A restarted job: who was deferred before the restart waits for the next pass with whoever is deferred now.
        var carried = progress.Deferred.ToList();
        progress.PeopleTotal = progress.PeopleDone + pending.Count + carried.Count;
        // A chunk's transaction commits while the next chunk is locked, read and evaluated (in order: each records the
        // progress through its end after the one before it committed).
        var committed = Task.CompletedTask;
        try
        {
            for (var pass = 0; pending.Count > 0 || carried.Count > 0; pass++)
            {
                var behind = new List<string>(carried);
                carried = [];
                foreach (var chunk in pending.Chunk(Math.Max(1, configuration.GetValue("EventProfiles:Audiences:EvaluationChunk", AudienceLifecycle.PeoplePerChunk))))
                {
                    var evaluated = await run.EvaluateAsync(chunk, lastPass: pass >= RetryPasses, firstPass: pass == 0, committed, ct);
                    if (evaluated is not { } result)
                    {
                        await committed;
                        return null; // the audience changed meanwhile: its new activation starts over
                    }
                    committed = result.Committed;
                    behind.AddRange(result.Deferred);
                }
                await committed;
                pending = behind;
                if (pending.Count > 0) await run.WaitForDaemonAsync(ct);
            }
        }
        finally
        {
            // Thrown out of the loop: the chunk still committing finishes (or fails) before the job is retried.
            await committed.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        if (!await run.DropOutsidersAsync(ct)) return null;

        await using (var session = store.LightweightSession())
        {
            progress.FinishedAt = clock.GetUtcNow();
            progress.Deferred = [];
            session.Store(progress);
            await session.SaveChangesAsync(ct);
        }
        logger.LogInformation("Audience {Id} initialised: {People} people evaluated, {Members} members, {Dropped} earlier members dropped, {Reevaluated} re-evaluated through their streams, in {Seconds:0.0} s",
            audience.Id, progress.People, progress.Members, progress.Dropped, progress.ReevaluatedThroughStream, (progress.FinishedAt.Value - progress.StartedAt).TotalSeconds);
        return null;
    }

    private sealed class Run(IDocumentStore store, NpgsqlDataSource db, IWolverineRuntime runtime, WorkspaceDirectory directory, Audience audience,
        AudienceInitialisation progress, IReadOnlyList<Type> includedTypes, TimeProvider clock)
    {
        private readonly string _schema = store.Options.DatabaseSchemaName;
        private readonly string[] _types = includedTypes
            .Select(t => ((Marten.Events.EventGraph)((StoreOptions)store.Options).Events).EventMappingFor(t).EventTypeName).ToArray();

        /// <summary>Everyone who sent data to the audience's workspaces and is not aged out, in stream-key order, after the cursor.</summary>
        public async Task<List<string>> PeopleAsync(CancellationToken ct)
        {
            var workspaces = audience.WorkspaceIds.Select(w => w.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            var people = new List<string>();
            await using var command = db.CreateCommand(
                $"select id from {_schema}.{Projections.Profiles.ProfileProjection.TableName} where data->'Workspaces' ?| $1 and data->>'AgedOutAt' is null and id > $2 order by id");
            command.Parameters.Add(new NpgsqlParameter { Value = workspaces });
            command.Parameters.Add(new NpgsqlParameter { Value = progress.DoneThrough ?? "" });
            command.CommandTimeout = 0;
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) people.Add(reader.GetString(0));
            return people;
        }

        /// <param name="previous">The previous chunk's commit: awaited before this chunk records the progress.</param>
        /// <returns>
        /// The people left for a later pass and this chunk's commit (under way), or null when the audience was changed meanwhile.
        /// </returns>
        public async Task<(List<string> Deferred, Task Committed)?> EvaluateAsync(string[] chunk, bool lastPass, bool firstPass, Task previous, CancellationToken ct)
        {
            var session = store.LightweightSession();
            try
            {
                var evaluated = await EvaluateAsync(session, chunk, lastPass, firstPass, previous, ct);
                if (evaluated is null) await session.DisposeAsync();
                return evaluated;
            }
            catch
            {
                await session.DisposeAsync();
                throw;
            }
        }

        private static async Task CommitAsync(IDocumentSession session, CancellationToken ct)
        {
            await using (session) await session.SaveChangesAsync(ct);
        }

        private async Task<(List<string> Deferred, Task Committed)?> EvaluateAsync(IDocumentSession session, string[] chunk, bool lastPass, bool firstPass,
            Task previous, CancellationToken ct)
        {
            var mpids = chunk.Select(k => long.Parse(k, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            var keys = await StreamLocks.LockAsync(session, mpids, ct);
            var behind = await BehindDaemonAsync(session, keys, ct);

            var batch = session.CreateBatchQuery();
            var latest = batch.Load<Audience>(audience.Id);
            var attributes = batch.Query<CalculatedAttribute>().Where(c => c.Status == CalculatedAttributeStatus.Active).ToList();
            var audiences = batch.Query<Audience>().Where(a => a.Status == AudienceStatus.Active && a.Kind == AudienceKinds.RealTime).ToList();
            var profiles = batch.LoadMany<Profile>().ById(keys);
            var live = batch.LoadMany<PersonCalculations>().ById(keys);
            var replayed = batch.Query<InitialisedCalculation>().Where(c => mpids.Contains(c.Mpid)).ToList();
            var scheduled = batch.LoadMany<ScheduledReevaluation>().ById(keys);
            var members = batch.LoadMany<AudienceMember>().ById(mpids.Select(m => AudienceMember.IdFor(audience.Id, m)).ToArray());
            await batch.Execute(ct);
            if ((await latest)?.Activation != progress.Activation) return null;
            var visible = await attributes;
            var definitions = ComputedDefinitions.Active(visible);
            if (ComputedDefinitions.Active(audience, definitions) is not { } active) return null;
            var profileByMpid = (await profiles).Where(p => p.IsLive).ToDictionary(p => p.Mpid);
            var liveByMpid = (await live).ToDictionary(p => p.Mpid);
            var replayedByMpid = (await replayed).ToLookup(r => r.Mpid);
            var scheduledByMpid = (await scheduled).ToDictionary(r => r.Mpid);
            // Members of an earlier definition (the audience was edited): those the new one no longer holds are removed.
            var earlier = (await members).Where(m => m.Activation != active.Activation).Select(m => m.Mpid).ToHashSet();
            var now = clock.GetUtcNow();
            var deferred = new List<string>();
            // Recorded in this transaction, as the membership handler records the projection's changes: no message per member.
            var changes = new List<MembershipChange>();
            void Drop(long mpid, string reason)
            {
                progress.Dropped++;
                changes.Add(new MembershipChange(active.Id, active.Activation, mpid, false, now, reason));
            }

            foreach (var mpid in mpids)
            {
                var key = StreamKey.For(mpid);
                if (!profileByMpid.TryGetValue(mpid, out var profile)) continue; // erased or aged out meanwhile
                if (behind.Contains(key))
                {
                    if (!lastPass) { deferred.Add(key); continue; }
                    session.Events.Append(key, new AudiencesReevaluationDue(now));
                    progress.ReevaluatedThroughStream++;
                    continue;
                }
                var person = liveByMpid.GetValueOrDefault(mpid) ?? PersonCalculations.For(mpid);
                // The projection already evaluated this activation for them (their events came first): its verdict stands.
                if (person.Audiences.TryGetValue(active.Id, out var own) && own.Activation == active.Activation)
                {
                    if (!own.IsMember && earlier.Contains(mpid)) Drop(mpid, "the edited definition does not hold");
                    continue;
                }
                var parts = replayedByMpid[mpid].ToList();
                if (parts.Any(p => p.AudienceId == active.Id && p.Activation == active.Activation)) continue; // done before a restart
                progress.People++;
                var facts = PersonFactsFor.Person(profile, person, parts, visible, now);
                var verdict = AudienceEvaluation.Evaluate(active, facts);
                if (verdict.IsMember)
                {
                    progress.Members++;
                    session.Store(InitialisedCalculation.InitialMember(active.Id, active.Activation, mpid, now));
                    changes.Add(new MembershipChange(active.Id, active.Activation, mpid, true, now, verdict.Reason));
                }
                else if (earlier.Contains(mpid)) Drop(mpid, verdict.Reason);
                // The moment time alone can change this verdict, as the projection schedules it.
                var next = AudienceEvaluation.NextChangeAt(active, facts);
                if (active.Criteria.Any(c => c.Kind == CriterionKinds.CalculatedAttribute) && person.NextChangeAt is { } value && value > now && (next is null || value < next)) next = value;
                if (next is { } at && (!scheduledByMpid.TryGetValue(mpid, out var existing) || existing.DueAt > at))
                    session.Store(new ScheduledReevaluation { Id = key, Mpid = mpid, DueAt = at });
            }

            await SendAsync(await AudienceMembershipsChangedHandler.RecordAsync(changes, session, directory, profileByMpid, ct), session);
            await previous;
            progress.PeopleDone += chunk.Length - deferred.Count;
            if (firstPass) progress.DoneThrough = chunk[^1];
            var evaluated = chunk.Except(deferred).ToHashSet(StringComparer.Ordinal);
            progress.Deferred = [.. progress.Deferred.Where(d => !evaluated.Contains(d)), .. deferred.Where(d => !progress.Deferred.Contains(d))];
            // A copy: the next chunk counts on while this one is saved.
            session.Store(progress.Copy());
            return (deferred, CommitAsync(session, ct));
        }

        /// <summary>
        /// Members of an earlier definition the evaluation does not reach (an edit took their workspace off the audience,
        /// or their profile is gone): removed, with the message. Returns false when the audience changed meanwhile.
        /// </summary>
        public async Task<bool> DropOutsidersAsync(CancellationToken ct)
        {
            var after = long.MinValue;
            while (true)
            {
                await using var session = store.LightweightSession();
                if ((await session.LoadAsync<Audience>(audience.Id, ct))?.Activation != progress.Activation) return false;
                var page = await session.Query<AudienceMember>()
                    .Where(m => m.AudienceId == audience.Id && m.Mpid > after && (m.Activation == null || m.Activation != progress.Activation))
                    .OrderBy(m => m.Mpid).Take(AudienceLifecycle.PeoplePerChunk).ToListAsync(ct);
                if (page.Count == 0) return true;
                after = page[^1].Mpid;
                var profiles = (await session.LoadManyAsync<Profile>(ct, page.Select(m => StreamKey.For(m.Mpid)).ToArray())).ToDictionary(p => p.Mpid);
                var now = clock.GetUtcNow();
                var changes = new List<MembershipChange>();
                foreach (var member in page)
                {
                    // Someone still in the audience's workspaces was evaluated above.
                    if (profiles.GetValueOrDefault(member.Mpid) is { IsLive: true } profile && audience.WorkspaceIds.Any(profile.IsKnownIn)) continue;
                    progress.Dropped++;
                    changes.Add(new MembershipChange(audience.Id, progress.Activation, member.Mpid, false, now, "not in the audience's workspaces"));
                }
                await SendAsync(await AudienceMembershipsChangedHandler.RecordAsync(changes, session, directory, profiles, ct), session);
                await session.SaveChangesAsync(ct);
            }
        }

        /// <summary>The outputs' deliveries of the recorded changes, in the session's transaction (transactional outbox).</summary>
        private async Task SendAsync(OutgoingMessages messages, IDocumentSession session)
        {
            var outbox = new MartenOutbox(runtime, session);
            foreach (var message in messages) await outbox.SendAsync(message);
        }

        /// <summary>
        /// Of these (locked) people, those with events the calculations shard has not applied yet: their live counters
        /// would miss those events, so they wait for a later pass. The shard's mark is read first and the events after it
        /// are looked up by sequence (an index range, empty when the shard is caught up): asked in one statement, the
        /// planner cannot see how few events are left and reads every event of the people instead (~0.3 s a chunk).
        /// Their events are all committed and visible to this statement: the locks are held, and appends take them.
        /// </summary>
        private async Task<HashSet<string>> BehindDaemonAsync(IDocumentSession session, string[] keys, CancellationToken ct)
        {
            var connection = (NpgsqlConnection)session.Connection!;
            var behind = new HashSet<string>(StringComparer.Ordinal);
            long applied, stored;
            await using (var marks = connection.CreateCommand())
            {
                marks.CommandText = $"""
                    select (select coalesce(max(last_seq_id), 0) from {_schema}.mt_event_progression where name = $1),
                           (select coalesce(max(seq_id), 0) from {_schema}.mt_events)
                    """;
                marks.Parameters.Add(new NpgsqlParameter { Value = Operations.RebuildCalculations.ShardName });
                await using var reader = await marks.ExecuteReaderAsync(ct);
                await reader.ReadAsync(ct);
                (applied, stored) = (reader.GetInt64(0), reader.GetInt64(1));
            }
            if (applied >= stored) return behind;
            await using var command = connection.CreateCommand();
            command.CommandText = $"select distinct stream_id from {_schema}.mt_events where seq_id > $1 and stream_id = any($2) and type = any($3)";
            command.Parameters.Add(new NpgsqlParameter { Value = applied });
            command.Parameters.Add(new NpgsqlParameter { Value = keys });
            command.Parameters.Add(new NpgsqlParameter { Value = _types });
            await using (var reader = await command.ExecuteReaderAsync(ct))
                while (await reader.ReadAsync(ct)) behind.Add(reader.GetString(0));
            return behind;
        }

        /// <summary>Between passes: until the shard reaches the high-water mark of now, at most a few seconds.</summary>
        public async Task WaitForDaemonAsync(CancellationToken ct)
        {
            var mark = await CalculatedAttributeActivation.HighWaterMarkAsync(db, _schema, ct);
            for (var i = 0; i < 50; i++)
            {
                await using var command = db.CreateCommand($"select coalesce(max(last_seq_id), 0) from {_schema}.mt_event_progression where name = $1");
                command.Parameters.Add(new NpgsqlParameter { Value = Operations.RebuildCalculations.ShardName });
                if (Convert.ToInt64(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture) >= mark) return;
                await Task.Delay(100, ct);
            }
        }
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
