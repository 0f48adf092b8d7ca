using System.Diagnostics;
using System.Security.Cryptography;
using System.Threading.Channels;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Workspaces;
using EventProfiles.Commands.Forwarding;
using EventProfiles.Commands.Identity;
using EventProfiles.Commands.Operability;
using Marten;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Wolverine.Runtime;

namespace EventProfiles.Commands.Ingestion;

/// <summary>
/// Durable group commit for ingestion. Requests hand their batches to a single resolver, which looks up the
/// identities of many batches in one query and assigns each batch its MPID; the batches then wait in one queue that
/// every writer takes its group from (<see cref="WriterHandOff{T}"/>: one large group at a time at low concurrency,
/// overlapping groups under load, and a person in at most one group in flight, in acceptance order).
/// Each writer appends its group in ONE transaction (events, inline profile, identity index, dedupe
/// keys) and only then completes the requests: a 202 always means committed.
/// This class is the queue and the hand-off; what the resolver promised is <see cref="IdentityClaims"/>, a writer's
/// transaction (load, decide, write) is <see cref="GroupCommit"/>.
/// </summary>
public sealed class IngestionPipeline : BackgroundService
{
    private readonly NpgsqlDataSource _dataSource;
    /// <summary>
    /// The resolver's own connection, kept open between groups: it only runs the lookups (no transaction, no session
    /// state), so a pool checkout per group would only add the pool's DISCARD ALL. Replaced after any failure.
    /// </summary>
    private NpgsqlConnection? _resolverConnection;
    private readonly IngestionOptions _options;
    private readonly ILogger<IngestionPipeline> _logger;
    private readonly string _schema;
    private readonly Channel<PendingBatch> _incoming = Channel.CreateUnbounded<PendingBatch>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _capacity;
    private volatile bool _stopping;
    private readonly WriterHandOff<PendingBatch> _handOff;
    /// <summary>Completed (and replaced) whenever the hand-off may have a group for a waiting writer.</summary>
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _resolverDone;
    private long _groupsCommitted, _batchesCommitted;
    private readonly IdentityClaims _claims;
    private readonly InFlightRequests _requests = new();
    private readonly GroupCommit _commit;
    private readonly Catalog.CatalogRecorder _catalog;
    /// <summary>The org's identity rules, as they are now: the resolver takes them once per group.</summary>
    private readonly WorkspaceDirectory _directory;
    /// <summary>Batches taken but not yet answered; shutdown waits for this to reach zero.</summary>
    private int _outstanding;

    public IngestionPipeline(IDocumentStore store, Api.Databases databases, WorkspaceDirectory directory,
        IWolverineRuntime runtime, LiveStream live, IOptions<IngestionOptions> options, TimeProvider clock, EnrichmentDefinitionsCache definitions, ILogger<IngestionPipeline> logger,
        Catalog.CatalogRecorder catalog)
    {
        _catalog = catalog;
        _directory = directory;
        _claims = new IdentityClaims(directory.Identity, RandomMpid);
        _commit = new GroupCommit(store, databases.Ingestion, runtime, live, clock, definitions);
        _dataSource = databases.Resolver;
        _options = options.Value;
        _logger = logger;
        _schema = store.Options.DatabaseSchemaName;
        _capacity = new SemaphoreSlim(_options.QueueCapacity, _options.QueueCapacity);
        _handOff = new WriterHandOff<PendingBatch>(Math.Max(1, _options.Writers), Math.Max(1, _options.OverlapAt), Math.Max(1, _options.MaxGroupSize),
            b => b.Resolution!.Mpid, b => b.Rules, b => b.Attempts > 0, b => b.Completion.Task.IsCompleted);
    }

    /// <summary>The <c>Retry-After</c> (seconds) of a request answered 429 because the queue stayed full.</summary>
    public string RetryAfter => Math.Max(1, _options.RetryAfterSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Queues the batches of one request and completes when every one of them is committed (or failed).</summary>
    public async Task<IReadOnlyList<IngestOutcome>> SubmitAsync(IReadOnlyList<PendingBatch> batches, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        if (_stopping)
        {
            foreach (var batch in batches) batch.Completion.TrySetResult(new IngestOutcome(IngestOutcomeKind.Failed, 0, new ShuttingDownException()));
            return await Task.WhenAll(batches.Select(b => b.Completion.Task));
        }
        // Back-pressure: at most QueueCapacity batches between request and commit. A request waits up to QueueWaitMs for
        // room for all its batches, or none of them is queued and it is answered 429 (clients keep the data and retry,
        // where a request that hangs until their timeout may be sent twice or given up).
        var deadline = Stopwatch.GetTimestamp() + (long)(Math.Max(0, _options.QueueWaitMs) / 1000.0 * Stopwatch.Frequency);
        var taken = 0;
        try
        {
            while (taken < batches.Count)
            {
                var left = Math.Max(0, deadline - Stopwatch.GetTimestamp());
                if (!await _capacity.WaitAsync(TimeSpan.FromSeconds((double)left / Stopwatch.Frequency), ct)) break;
                taken++;
            }
        }
        catch (OperationCanceledException)
        {
            if (taken > 0) _capacity.Release(taken); // the client went away before anything was queued
            throw;
        }
        if (taken < batches.Count)
        {
            if (taken > 0) _capacity.Release(taken);
            foreach (var batch in batches) batch.Completion.TrySetResult(new IngestOutcome(IngestOutcomeKind.Failed, 0, new OverCapacityException()));
            return await Task.WhenAll(batches.Select(b => b.Completion.Task));
        }
        foreach (var batch in batches)
        {
            Interlocked.Increment(ref _outstanding);
            _ = batch.Completion.Task.ContinueWith(_ =>
            {
                Interlocked.Decrement(ref _outstanding);
                _capacity.Release();
                // A batch answered after a retry lets its person go: a later batch of that person may be waiting.
                if (_handOff.Answered(batch)) Changed();
            }, TaskScheduler.Default);
            _incoming.Writer.TryWrite(batch);
        }
        // Once queued, a batch is committed even if the client goes away, so we do not cancel the wait on the batches.
        var outcomes = await Task.WhenAll(batches.Select(b => b.Completion.Task));
        for (var i = 0; i < outcomes.Length; i++)
        {
            var stored = outcomes[i].Kind == IngestOutcomeKind.Stored;
            Metrics.BatchOutcome(batches[i].Input.Name, OutcomeName(outcomes[i].Kind), stored ? batches[i].Parsed.Events.Count : 0);
        }
        if (batches.Count > 0) Metrics.IngestDuration(batches[0].Input.Name, Stopwatch.GetElapsedTime(started));
        return outcomes;
    }

    private static string OutcomeName(IngestOutcomeKind kind) => kind switch
    {
        IngestOutcomeKind.Stored => "stored",
        IngestOutcomeKind.Duplicate => "duplicate",
        _ => "failed",
    };

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var writers = Enumerable.Range(0, Math.Max(1, _options.Writers)).Select(i => Task.Run(() => WriteLoopAsync(i), CancellationToken.None));
        var resolver = Task.Run(ResolveLoopAsync, CancellationToken.None);
        return Task.WhenAll(writers.Append(resolver));
    }

    /// <summary>Graceful shutdown: take no new batches, let everything already taken reach the database, then stop.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        while (Volatile.Read(ref _outstanding) > 0 && !cancellationToken.IsCancellationRequested)
            await Task.Delay(10, CancellationToken.None);
        _incoming.Writer.TryComplete();
        if (ExecuteTask is { } running) await running.WaitAsync(cancellationToken);
    }

    // ---------------------------------------------------------------- resolver

    private async Task ResolveLoopAsync()
    {
        var reader = _incoming.Reader;
        var group = new List<PendingBatch>(_options.MaxGroupSize);
        while (await reader.WaitToReadAsync())
        {
            group.Clear();
            while (group.Count < _options.MaxGroupSize && reader.TryRead(out var next)) group.Add(next);
            try
            {
                await ResolveGroupAsync(group);
            }
            catch (Exception ex)
            {
                _logger.LogError(ex, "Identity resolution failed for a group of {Count} batches", group.Count);
                Requeue(group.Where(b => b.Resolution is null && !b.Completion.Task.IsCompleted).Select(b => (b, ex)).ToList());
            }
        }
        if (_resolverConnection is { } connection) await connection.DisposeAsync();
        _resolverDone = true;
        Changed();
    }

    private async Task ResolveGroupAsync(List<PendingBatch> group)
    {
        // The ticket is taken before the lookup is read: claims committed after this point are merged in even if the
        // lookup does not show them.
        var ticket = _claims.BeginLookup();
        // One rule set for the group's lookup and resolution, carried to its writer (the settings may change meanwhile).
        var rules = _directory.Identity;
        GroupLookup lookup;
        try
        {
            lookup = await LookupAsync(group, ticket, rules);
        }
        catch
        {
            _claims.Abandon(ticket);
            // A failed round trip may leave the connection mid-protocol: start the next group on a fresh one.
            if (_resolverConnection is { } broken) await broken.DisposeAsync();
            _resolverConnection = null;
            throw;
        }

        var routed = new List<PendingBatch>(group.Count);
        foreach (var batch in group)
        {
            if (batch.RequestKey is { } key)
            {
                if (lookup.StoredRequests.TryGetValue(key, out var storedMpid))
                {
                    batch.Completion.TrySetResult(new IngestOutcome(IngestOutcomeKind.Duplicate, storedMpid));
                    continue;
                }
                if (!_requests.TryTake(key, batch, out var original))
                {
                    // The same request id is already on its way: answer as it is answered.
                    _ = original!.Completion.Task.ContinueWith(
                        t => batch.Completion.TrySetResult(t.Result.Kind == IngestOutcomeKind.Failed ? t.Result : t.Result with { Kind = IngestOutcomeKind.Duplicate }),
                        TaskScheduler.Default);
                    continue;
                }
            }
            routed.Add(batch);
        }

        var claims = _claims.Resolve(ticket,
            routed.Select(b => new ResolutionRequest(b.Parsed.Identities(), b.Parsed.Batch.Mpid?.Value)).ToList(), lookup.Identity, rules);
        for (var i = 0; i < routed.Count; i++)
        {
            routed[i].Claim = claims[i];
            routed[i].Rules = rules;
        }
        _handOff.Enqueue(routed);
        Changed();
    }

    /// <summary>Wakes the writers waiting for a group.</summary>
    private void Changed() => Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    private sealed record GroupLookup(IdentityLookup Identity, Dictionary<(string, string), long> StoredRequests);

    /// <summary>
    /// One round trip for the group: owners of its identities, which hinted MPIDs exist, which request ids are stored.
    /// A second one only when a batch brings a login identity nobody holds yet: the login identities of the profiles
    /// it could resolve to (a profile with another customer id is not returned for a new customer).
    /// </summary>
    private async Task<GroupLookup> LookupAsync(List<PendingBatch> group, LookupTicket ticket, IdentitySettings rules)
    {
        var identities = group.SelectMany(b => b.Parsed.Identities()).Distinct().ToList();
        var hints = group.Select(b => b.Parsed.Batch.Mpid?.Value).OfType<long>().Where(m => m != 0).Distinct().ToArray();
        var requests = group.Select(b => b.RequestKey).OfType<(string Input, string Id)>().Distinct().ToList();

        var owners = new Dictionary<IdentityKey, List<IdentityOwner>>();
        var known = new HashSet<long>();
        var stored = new Dictionary<(string, string), long>();
        var connection = await ResolverConnectionAsync();
        await using (var batch = connection.CreateBatch())
        {
            batch.BatchCommands.Add(IdentityIndexQueries.Owners(_schema, identities));
            batch.BatchCommands.Add(IdentityIndexQueries.ExistingStreams(_schema, hints));
            batch.BatchCommands.Add(IngestionStorage.StoredRequests(_schema, requests));

            await using var reader = await batch.ExecuteReaderAsync();
            await IdentityIndexQueries.ReadOwnersAsync(reader, owners);
            await reader.NextResultAsync();
            await IdentityIndexQueries.ReadExistingStreamsAsync(reader, known);
            await reader.NextResultAsync();
            await IngestionStorage.ReadStoredRequestsAsync(reader, stored);
        }

        var logins = new Dictionary<long, List<IdentityKey>>();
        var candidates = new HashSet<long>();
        foreach (var b in group)
        {
            var batchIdentities = b.Parsed.Identities();
            if (!batchIdentities.Any(i => rules.IsLogin(i.Type) && !owners.ContainsKey(i))) continue;
            candidates.UnionWith(batchIdentities.Where(owners.ContainsKey).SelectMany(i => owners[i]).Select(o => o.Mpid));
            candidates.UnionWith(_claims.ClaimedOwnersOf(ticket, batchIdentities));
            if (b.Parsed.Batch.Mpid?.Value is { } hint && known.Contains(hint)) candidates.Add(hint);
        }
        if (candidates.Count > 0)
        {
            await using var batch = connection.CreateBatch();
            batch.BatchCommands.Add(IdentityIndexQueries.Logins(_schema, candidates, rules.LoginTypes));
            await using var reader = await batch.ExecuteReaderAsync();
            await IdentityIndexQueries.ReadLoginsAsync(reader, logins);
        }

        var identity = new IdentityLookup(new ListMapView<IdentityKey, IdentityOwner>(owners), new ListMapView<long, IdentityKey>(logins), known);
        return new GroupLookup(identity, stored);
    }

    private async Task<NpgsqlConnection> ResolverConnectionAsync()
    {
        if (_resolverConnection is { State: System.Data.ConnectionState.Open } open) return open;
        if (_resolverConnection is not null) await _resolverConnection.DisposeAsync();
        _resolverConnection = null;
        // From the resolver's own pool: its look-ups' planner settings (Databases.Resolver) must not reach the writers'
        // connections.
        return _resolverConnection = await _dataSource.OpenConnectionAsync();
    }

    // ---------------------------------------------------------------- writers

    private async Task WriteLoopAsync(int index)
    {
        while (true)
        {
            // Read before trying: a change after the attempt completes this one, so no wake-up is lost.
            var changed = Volatile.Read(ref _changed).Task;
            if (_handOff.TryTakeGroup() is not { } group)
            {
                // Everything taken was answered before StopAsync let the resolver finish: nothing more can come.
                if (_resolverDone && _handOff.Waiting == 0) break;
                await changed;
                continue;
            }
            try
            {
                await CommitWithRetriesAsync(index, group);
            }
            finally
            {
                _handOff.GroupEnded(group);
                Changed();
            }
        }
        Changed(); // the other writers see the end too
        if (Interlocked.Read(ref _groupsCommitted) > 0 && index == 0)
            _logger.LogInformation("Ingestion writers committed {Batches} batches in {Groups} groups ({Mean:F1} per group)",
                _batchesCommitted, _groupsCommitted, (double)_batchesCommitted / _groupsCommitted);
    }

    private async Task CommitWithRetriesAsync(int writer, List<PendingBatch> group)
    {
        try
        {
            await CommitAsync(group);
            return;
        }
        catch (Exception ex) when (PostgresErrorOf(ex)?.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            // Another batch claimed one of these identities or request ids first: resolve these batches again.
            Metrics.Race("unique_key");
            _logger.LogInformation("Writer {Writer}: a concurrent claim ({Constraint}) sent {Count} batches back to resolution",
                writer, PostgresErrorOf(ex)!.ConstraintName, group.Count);
            Requeue(group.Select(b => (b, (Exception)ex)).ToList());
            return;
        }
        catch (GroupCommit.IdentityRaceLostException ex)
        {
            // The cross-node form of the same race (IdentityLocks): resolve these batches again on what is stored now.
            Metrics.Race("cross_node");
            _logger.LogInformation("Writer {Writer}: {Reason} Sent {Count} batches back to resolution", writer, ex.Message, group.Count);
            Requeue(group.Select(b => (b, (Exception)ex)).ToList());
            return;
        }
        catch (Exception ex) when (IsRetryable(ex) || group.Count == 1)
        {
            _logger.LogWarning(ex, "Writer {Writer}: committing {Count} batches failed; retrying", writer, group.Count);
            Requeue(group.Select(b => (b, (Exception)ex)).ToList());
            return;
        }
        catch (Exception ex)
        {
            // Isolate the failure: commit each batch alone so one bad batch cannot fail the others.
            _logger.LogWarning(ex, "Writer {Writer}: group of {Count} failed; committing its batches one by one", writer, group.Count);
        }

        // A batch whose person had an earlier batch of this group sent back is sent back with it, behind it (per-person order).
        var sentBack = new List<(PendingBatch, Exception)>();
        var persons = new HashSet<long>();
        foreach (var batch in group)
        {
            var person = batch.Resolution!.Mpid;
            if (persons.Contains(person))
            {
                sentBack.Add((batch, new BehindRetryException()));
                continue;
            }
            try { await CommitAsync([batch]); }
            catch (Exception ex)
            {
                sentBack.Add((batch, ex));
                if (IsRetryable(ex)) persons.Add(person);
            }
        }
        Requeue(sentBack);
    }

    /// <summary>Commits the group, then releases its claims and answers its requests: a 202 always means committed.</summary>
    private async Task CommitAsync(IReadOnlyList<PendingBatch> group)
    {
        var started = Stopwatch.GetTimestamp();
        var streams = await _commit.CommitAsync(group, group[0].Rules!);
        Interlocked.Increment(ref _groupsCommitted);
        Interlocked.Add(ref _batchesCommitted, group.Count);
        foreach (var batch in group)
        {
            Metrics.Resolution("ingestion", batch.Claim!.IsNewProfile);
            _claims.Release(batch.Claim!, committed: true);
            _requests.Release(batch);
            batch.Completion.TrySetResult(new IngestOutcome(IngestOutcomeKind.Stored, batch.Resolution!.Mpid));
        }
        // The catalog counts the names in memory (written every second, never here); it must not fail what committed.
        try { foreach (var batch in group) _catalog.Record(batch.Input.Workspace.Id, batch.Parsed.Batch, batch.ReceivedAt); }
        catch (Exception ex) { _logger.LogWarning(ex, "The catalog did not count a group's names"); }
        if (_logger.IsEnabled(LogLevel.Debug))
            _logger.LogDebug("Committed {Batches} batches for {Streams} streams in {Ms:F1} ms",
                group.Count, streams, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>
    /// Sends batches back to resolution after a back-off, together and in their order (a person's later batches wait
    /// behind them in the hand-off), or fails those out of attempts or whose error a retry cannot cure.
    /// </summary>
    private void Requeue(IReadOnlyList<(PendingBatch Batch, Exception Error)> failed)
    {
        var again = new List<PendingBatch>(failed.Count);
        foreach (var (batch, error) in failed)
        {
            ReleaseUncommitted(batch);
            batch.Attempts++;
            if (batch.Attempts >= _options.MaxAttempts || !IsRetryable(error)) Fail(batch, error);
            else again.Add(batch);
        }
        if (again.Count == 0) return;
        var attempts = again.Max(b => b.Attempts);
        _ = Task.Delay(TimeSpan.FromMilliseconds(20 * (1 << attempts))).ContinueWith(_ =>
        {
            foreach (var batch in again)
                // Stopping and the resolver has finished: no retry can come, the client is told to send it again.
                if (!_incoming.Writer.TryWrite(batch)) Fail(batch, new ShuttingDownException());
        }, TaskScheduler.Default);
    }

    /// <summary>Nothing of the batch was written: its claims and request id go, and it is resolved afresh if retried.</summary>
    private void ReleaseUncommitted(PendingBatch batch)
    {
        if (batch.Claim is { } claim) _claims.Release(claim, committed: false);
        batch.Claim = null;
        _requests.Release(batch);
    }

    private static bool IsRetryable(Exception error) =>
        error is GroupCommit.IdentityRaceLostException or BehindRetryException ||
        PostgresErrorOf(error) is { SqlState: PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected }
        || Causes(error).Any(e => e is NpgsqlException { IsTransient: true } or TimeoutException);

    /// <summary>
    /// A PostgreSQL data exception (SQLSTATE class 22: a value it cannot store, e.g. an escape jsonb refuses) is the
    /// batch's own fault and fails the same way every time: the client is told so (400), not asked to retry.
    /// The request-body check refuses the values we know of before they get here; this catches the rest.
    /// </summary>
    public static string? UnstorableValue(Exception? error) =>
        error is null ? null : PostgresErrorOf(error) is { SqlState: var state } postgres && state.StartsWith("22", StringComparison.Ordinal)
            ? $"{postgres.MessageText} (SQLSTATE {state})"
            : null;

    /// <summary>Marten wraps database errors (MartenCommandException); look through the causes.</summary>
    private static PostgresException? PostgresErrorOf(Exception error) => Causes(error).OfType<PostgresException>().FirstOrDefault();

    private static IEnumerable<Exception> Causes(Exception? error)
    {
        for (; error is not null; error = error.InnerException) yield return error;
    }

    private void Fail(PendingBatch batch, Exception error)
    {
        var mpid = batch.Resolution?.Mpid ?? 0;
        ReleaseUncommitted(batch);
        _logger.LogError(error, "Batch {BatchId} from input {Input} could not be stored", batch.BatchId, batch.Input.Name);
        batch.Completion.TrySetResult(new IngestOutcome(IngestOutcomeKind.Failed, mpid, error));
    }

    /// <summary>Not tried: an earlier batch of the same person failed and is being retried first.</summary>
    private sealed class BehindRetryException() : Exception("An earlier batch of the same person is being retried first.");

    private static long RandomMpid() => BitConverter.ToInt64(RandomNumberGenerator.GetBytes(8));
}
