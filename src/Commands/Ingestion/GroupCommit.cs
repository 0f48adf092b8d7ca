using EventProfiles.Commands.CalculatedAttributes;
using EventProfiles.Commands.Forwarding;
using EventProfiles.Commands.Operability;
using EventProfiles.Commands.Privacy;
using EventProfiles.Commands.Streams;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Forwarding;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;
using Marten;
using Npgsql;
using Wolverine.Runtime;

namespace EventProfiles.Commands.Ingestion;

/// <summary>
/// One writer's group in ONE transaction, shaped as a command: load (locks, stored message ids, profiles, forwarding
/// plan), decide for the whole group with pure Domain code (<see cref="GroupDecision"/>), then write (reactivations,
/// events with their profile documents and identity-index rows, dedupe rows, outbound deliveries) and commit. The caller answers 202 only after this returns.
/// </summary>
public sealed class GroupCommit(IDocumentStore store, NpgsqlDataSource ingestion, IWolverineRuntime runtime, LiveStream live, TimeProvider clock,
    EnrichmentDefinitionsCache definitions)
{
    private readonly string _schema = store.Options.DatabaseSchemaName;
    private readonly GroupAppend _append = new(store);
    private readonly SynchronousCalculationsStorage _synchronous = new(store);

    /// <summary>
    /// Returns the number of streams written; throws if the transaction did not commit. <paramref name="identity"/> is
    /// the one rule set the group's batches were resolved by: the decision and the index rows use it too.
    /// </summary>
    public async Task<int> CommitAsync(IReadOnlyList<PendingBatch> pending, IdentitySettings identity)
    {
        var group = pending.Select(b => b.ToGrouped()).ToList();

        // ---- load
        // On the ingestion pool (Databases.Ingestion): its statements stay prepared between groups.
        // The transaction is ours, not the session's: Npgsql sends its BEGIN with the load (no round trip of its own), and
        // its COMMIT travels as the last statement of the session's SaveChanges batch (CommitInTheBatch), not in a round
        // trip after it. Disposed in reverse order: the session, then the transaction (rolled back unless committed), then
        // the connection (back to the pool).
        await using var connection = ingestion.CreateConnection();
        await connection.OpenAsync(CancellationToken.None);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.ReadCommitted, CancellationToken.None);
        await using var session = store.LightweightSession(Marten.Services.SessionOptions.ForTransaction(transaction));
        var keys = StreamLocks.KeysInLockOrder(group.Select(b => b.Resolution.Mpid));
        var contested = pending.SelectMany(b => b.Claim!.Contested).Distinct().ToList();
        // What the synchronous calculations and forwarding's enrichment read for the group rides in the load's round
        // trip (h4, the full pipeline: 5 round trips per group before, 3 now).
        var forwarding = await ForwardingPlan.StartAsync(session, live, clock, definitions, CancellationToken.None);
        var mpids = group.Select(b => b.Resolution.Mpid).Distinct().ToList();
        var synchronousDefinitions = CalculationModes.Synchronous((await definitions.GetAsync(CancellationToken.None)).Attributes);
        var synchronousStates = synchronousDefinitions.Count > 0 ? _synchronous.Read(mpids, synchronousDefinitions) : null;
        var computed = await forwarding.ComputedReadAsync(store, group.Select(b => (b.Input.Name, b.Input.Workspace.Id, b.Resolution.Mpid)));
        var reads = new List<IGroupRead>(2);
        if (synchronousStates is not null) reads.Add(synchronousStates);
        if (computed is not null) reads.Add(computed);
        var loaded = await IngestionStorage.LoadGroupAsync(connection, store, keys, MessageIdsToCheck(group), contested, reads);
        // Another node gave a contested identity to a person of its own since our lookup: nothing is written, and the
        // group goes back to resolution as after a unique-key conflict.
        if (contested.Count > 0 && pending.Where(b => IdentityClaims.LostRace(b.Claim!, loaded.ContestedOwners)).ToList() is { Count: > 0 } lost)
            throw new IdentityRaceLostException(lost.Count);
        // A batch that joined a person being created in flight, whose creation did not commit (its group lost the race
        // above or failed): it must not create that person on its own.
        if (pending.Any(b => b.Claim!.JoinsPersonInFlight))
        {
            var created = pending.Where(b => b.Claim!.IsNewProfile).Select(b => b.Claim!.Mpid).ToHashSet();
            var orphans = pending.Count(b => IdentityClaims.IsOrphaned(b.Claim!, loaded.Streams.ContainsKey(b.Claim!.Mpid), created.Contains(b.Claim!.Mpid)));
            if (orphans > 0) throw new IdentityRaceLostException(orphans);
        }

        // ---- decide
        var outcome = GroupDecision.Decide(group, loaded.Profiles, loaded.MessageIds, identity);

        // ---- write
        // Aged-out people's streams are taken out of the archive before anything is appended to them.
        if (outcome.Reactivated.Count > 0)
            await ProfileLifetime.UnarchiveAsync(connection, _schema, outcome.Reactivated.Select(StreamKey.For).ToArray());
        // All streams of the group in a fixed number of set-based statements (GroupAppend), with the profiles the
        // decision already folded and the identity-index rows, instead of one append call per stream and the inline
        // projections' work per stream. (A random 64-bit MPID colliding with an existing stream is not guarded against.)
        var reactivated = outcome.Reactivated.ToHashSet();
        var appends = new List<StreamAppend>(outcome.Streams.Count);
        var after = outcome.Batches.GroupBy(d => d.Batch.Resolution.Mpid).ToDictionary(g => g.Key, g => g.Last().After);
        foreach (var (mpid, events) in outcome.Streams)
        {
            long? version = null;
            if (loaded.Streams.TryGetValue(mpid, out var stream))
            {
                // What mt_quick_append_events refuses (MT001); a reactivated stream was taken out of the archive above.
                if (stream.IsArchived && events.Count > 0 && !reactivated.Contains(mpid))
                    throw new InvalidOperationException($"Attempted to append event to archived stream with Id '{StreamKey.For(mpid)}'.");
                version = stream.Version;
            }
            appends.Add(new StreamAppend(mpid, version, events, after[mpid]));
        }
        _append.Queue(session, appends, identity);
        // Synchronous calculated attributes (issue 16 §7): only while one is active, three more statements in the load
        // (time, states caught up with the streams) and one more write (the states), so the batch's enrichment counts its own events.
        var synchronous = Synchronous(session, outcome, loaded, synchronousStates);
        IngestionStorage.QueueDedupeRows(session, _schema, outcome);
        foreach (var d in outcome.Batches)
        {
            var b = d.Batch;
            forwarding.Add(b.Parsed, b.Input.Name, b.Environment, d.Before, d.After, d.Events,
                new BatchOrigin(b.Input.Workspace.Id, b.BatchId, b.ReceivedAt, b.Channel, b.IsHistorical), synchronous?.ByBatch.GetValueOrDefault(b.BatchId));
        }
        await forwarding.EnlistAsync(session, runtime);

        // Not cancellable: once we start committing, the outcome must be known before we answer.
        // Added last, so its COMMIT follows everything queued, the outbox's envelopes included (they are queued when sent).
        var commit = new CommitInTheBatch();
        session.Listeners.Add(commit);
        var errors = new FirstPostgresError(session.Logger);
        session.Logger = errors;
        try
        {
            await session.SaveChangesAsync(CancellationToken.None);
        }
        catch (Exception ex) when (errors.First is { } first && !Causes(ex).OfType<PostgresException>().Any())
        {
            // Marten replays a unit of work after an error PostgreSQL reported as rolled back and transient (a deadlock,
            // a lock timeout). On our own transaction the replay cannot run (Npgsql refuses the completed transaction, so
            // nothing runs outside it) and that refusal is what Marten throws: answer with the error that rolled back,
            // so the group is retried or failed by it, as when Marten owned the transaction.
            throw new GroupRolledBackException(first, ex);
        }
        // SaveChanges sends nothing (and so no COMMIT) when nothing was queued: the load's transaction still needs one.
        if (!commit.Queued) await transaction.CommitAsync(CancellationToken.None);
        forwarding.Committed();
        foreach (var d in outcome.Batches)
            foreach (var e in d.Events)
                if (e is MergeHeld held)
                    foreach (var h in held.Identities) Metrics.MergeHeld(h.Reason);
        return outcome.Streams.Count;
    }

    private SynchronousOutcome? Synchronous(IDocumentSession session, GroupOutcome outcome, IngestionStorage.GroupLoad loaded,
        SynchronousCalculationsStorage.GroupStates? read)
    {
        if (read is null) return null;
        var existing = loaded.Streams.Where(s => s.Value.Version > 0).ToDictionary(s => s.Key, s => s.Value.Version);
        var result = SynchronousGroup.Fold(outcome, existing, read.States, read.StoredAt, read.Definitions, SynchronousCalculationsStorage.IsFolded);
        _synchronous.Queue(session, result.States);
        return result;
    }

    /// <summary>
    /// Queues <c>commit</c> as the session's last statement, so the writes and the COMMIT go in one round trip.
    /// Why this is safe (Marten 9.62, Npgsql 10): a session over an external transaction (<c>SessionOptions.ForTransaction</c>,
    /// not auto-committing) executes its batch and does not commit, then runs the after-commit listeners, among them
    /// Wolverine's outbox flush, which therefore runs only once this COMMIT succeeded. A statement of the batch that fails
    /// makes PostgreSQL skip the rest of the pipeline, the COMMIT with it: SaveChanges throws and Marten rolls back. A COMMIT
    /// that fails (nothing of ours defers a check to it) also throws, nothing committed. Either way no 202. Added in
    /// BeforeSaveChanges, i.e. after Marten sorted the unit of work, so nothing is ordered behind it.
    /// </summary>
    private sealed class CommitInTheBatch : Marten.DocumentSessionListenerBase
    {
        public bool Queued { get; private set; }

        public override Task BeforeSaveChangesAsync(IDocumentSession session, CancellationToken token)
        {
            session.QueueSqlCommand("commit");
            Queued = true;
            return Task.CompletedTask;
        }
    }

    /// <summary>Passes everything to Marten's session logger and remembers the first PostgreSQL error of the session.</summary>
    private sealed class FirstPostgresError(IMartenSessionLogger inner) : IMartenSessionLogger
    {
        public PostgresException? First { get; private set; }

        private void Remember(Exception ex) => First ??= Causes(ex).OfType<PostgresException>().FirstOrDefault();
        public void LogSuccess(NpgsqlCommand command) => inner.LogSuccess(command);
        public void LogFailure(NpgsqlCommand command, Exception ex) { Remember(ex); inner.LogFailure(command, ex); }
        public void LogSuccess(NpgsqlBatch batch) => inner.LogSuccess(batch);
        public void LogFailure(NpgsqlBatch batch, Exception ex) { Remember(ex); inner.LogFailure(batch, ex); }
        public void LogFailure(Exception ex, string message) { Remember(ex); inner.LogFailure(ex, message); }
        public void RecordSavedChanges(IDocumentSession session, Marten.Services.IChangeSet commit) => inner.RecordSavedChanges(session, commit);
        public void OnBeforeExecute(NpgsqlCommand command) => inner.OnBeforeExecute(command);
        public void OnBeforeExecute(NpgsqlBatch batch) => inner.OnBeforeExecute(batch);
    }

    /// <summary>PostgreSQL rolled the group back (<paramref name="error"/>, the inner exception); nothing was committed.</summary>
    public sealed class GroupRolledBackException(PostgresException error, Exception replay)
        : Exception($"The group was rolled back by PostgreSQL ({error.SqlState}: {error.MessageText}); replaying it failed: {replay.Message}", error);

    private static IEnumerable<Exception> Causes(Exception? error)
    {
        for (; error is not null; error = error.InnerException) yield return error;
    }

    /// <summary>
    /// Thrown before anything is written when another node won an identity this group's new person contested, or when a
    /// batch joined a person whose creation did not commit.
    /// </summary>
    public sealed class IdentityRaceLostException(int batches)
        : Exception($"{batches} batch(es) were resolved to a person another writer's claim overtook.");

    /// <summary>The group's source_message_ids in streams that exist; a profile created by this group holds none yet.</summary>
    private static List<MessageRow> MessageIdsToCheck(IEnumerable<GroupedBatch> group) => group
        .Where(b => !b.Resolution.IsNewProfile)
        .SelectMany(b => b.Parsed.Events.Select(e => e.Data?.SourceMessageId).OfType<string>().Select(id => new MessageRow(b.Resolution.Mpid, id)))
        .Distinct()
        .ToList();
}
