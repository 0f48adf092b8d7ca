using System.Diagnostics;
using System.Security.Cryptography;
using System.Threading.Channels;
using EventProfiles.Domain.Forwarding;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using EventProfiles.Commands.Forwarding;
using EventProfiles.Commands.Identity;
using EventProfiles.Commands.Privacy;
using EventProfiles.Commands.Streams;
using Marten;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Wolverine.Runtime;

namespace EventProfiles.Commands.Ingestion;

public sealed class IngestionOptions
{
    /// <summary>Concurrent writer transactions; about as many as PostgreSQL has cores.</summary>
    public int Writers { get; set; } = 2;
    /// <summary>Most batches committed in one transaction.</summary>
    public int MaxGroupSize { get; set; } = 500;
    /// <summary>Batches waiting to be resolved; when full, requests wait (back-pressure).</summary>
    public int QueueCapacity { get; set; } = 20_000;
    /// <summary>Attempts for a group that hits a transient database error or an identity race.</summary>
    public int MaxAttempts { get; set; } = 5;
}

/// <summary>One accepted batch on its way to the database, and the promise its HTTP request waits on.</summary>
/// <param name="channel">How it arrived: server-to-server, or from an SDK (which decides how its attributes count).</param>
public sealed class PendingBatch(ParsedBatch parsed, Input input, InputKind channel, DateTimeOffset receivedAt, bool isHistorical)
{
    public ParsedBatch Parsed { get; } = parsed;
    public Input Input { get; } = input;
    public InputKind Channel { get; } = channel;
    public DateTimeOffset ReceivedAt { get; } = receivedAt;
    public bool IsHistorical { get; } = isHistorical;
    public Guid BatchId { get; } = Guid.CreateVersion7(receivedAt);
    public TaskCompletionSource<IngestOutcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    internal int Attempts { get; set; }
    internal IdentityResolutionResult? Resolution { get; set; }
    internal IReadOnlyList<(IdentityKey Identity, long Mpid)> Claims { get; set; } = [];
    internal long? ClaimedNewMpid { get; set; }
    internal (string Input, string Id)? RequestKey =>
        Parsed.Batch.SourceRequestId is { Length: > 0 } id ? (Input.Name, id) : null;
}

/// <summary>The service is stopping and takes no new batches; the client should retry.</summary>
public sealed class ShuttingDownException() : Exception("EventProfiles is shutting down and accepts no new batches.");

public enum IngestOutcomeKind { Stored, Duplicate, Failed }

public sealed record IngestOutcome(IngestOutcomeKind Kind, long Mpid, Exception? Error = null);

/// <summary>
/// Durable group commit for ingestion. Requests hand their batches to a single resolver, which looks up the
/// identities of many batches in one query and assigns each batch its MPID; the batch then goes to the writer
/// that owns that MPID (mpid mod writers), so one person's stream is only ever written by one transaction at a time.
/// Each writer appends everything it has queued in ONE transaction (events, inline profile, identity index, dedupe
/// keys) and only then completes the requests: a 202 always means committed.
/// </summary>
public sealed class IngestionPipeline : BackgroundService
{
    private readonly IDocumentStore _store;
    private readonly NpgsqlDataSource _dataSource;
    private readonly IngestionOptions _options;
    private readonly ILogger<IngestionPipeline> _logger;
    private readonly string _schema;
    private readonly Channel<PendingBatch> _incoming = Channel.CreateUnbounded<PendingBatch>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _capacity;
    private volatile bool _stopping;
    private readonly Channel<PendingBatch>[] _writers;
    private readonly InFlight _inFlight;
    private readonly IWolverineRuntime _runtime;
    private readonly LiveStream _live;
    private readonly IdentitySettings _identity;
    private readonly TimeProvider _clock;
    private readonly EnrichmentDefinitionsCache _definitions;
    /// <summary>Batches taken but not yet answered; shutdown waits for this to reach zero.</summary>
    private int _outstanding;

    public IngestionPipeline(IDocumentStore store, NpgsqlDataSource dataSource, WorkspaceDirectory directory,
        IWolverineRuntime runtime, LiveStream live, IOptions<IngestionOptions> options, TimeProvider clock, EnrichmentDefinitionsCache definitions, ILogger<IngestionPipeline> logger)
    {
        _clock = clock;
        _definitions = definitions;
        _runtime = runtime;
        _live = live;
        _identity = directory.Identity;
        _inFlight = new InFlight(_identity);
        _store = store;
        _dataSource = dataSource;
        _options = options.Value;
        _logger = logger;
        _schema = store.Options.DatabaseSchemaName;
        _capacity = new SemaphoreSlim(_options.QueueCapacity, _options.QueueCapacity);
        _writers = Enumerable.Range(0, Math.Max(1, _options.Writers))
            .Select(_ => Channel.CreateUnbounded<PendingBatch>(new UnboundedChannelOptions { SingleReader = true }))
            .ToArray();
    }

    /// <summary>Queues the batches of one request and completes when every one of them is committed (or failed).</summary>
    public async Task<IReadOnlyList<IngestOutcome>> SubmitAsync(IReadOnlyList<PendingBatch> batches, CancellationToken ct)
    {
        foreach (var batch in batches)
        {
            if (_stopping)
            {
                batch.Completion.TrySetResult(new IngestOutcome(IngestOutcomeKind.Failed, 0, new ShuttingDownException()));
                continue;
            }
            await _capacity.WaitAsync(ct); // back-pressure: at most QueueCapacity batches between request and commit
            Interlocked.Increment(ref _outstanding);
            _ = batch.Completion.Task.ContinueWith(_ =>
            {
                Interlocked.Decrement(ref _outstanding);
                _capacity.Release();
            }, TaskScheduler.Default);
            _incoming.Writer.TryWrite(batch);
        }
        // Once queued, a batch is committed even if the client goes away, so we do not cancel the wait on the batches.
        return await Task.WhenAll(batches.Select(b => b.Completion.Task));
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var writers = _writers.Select((channel, i) => Task.Run(() => WriteLoopAsync(i, channel.Reader), CancellationToken.None));
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
                foreach (var batch in group.Where(b => b.Resolution is null && !b.Completion.Task.IsCompleted)) Requeue(batch, ex);
            }
        }
        foreach (var writer in _writers) writer.Writer.TryComplete();
    }

    private async Task ResolveGroupAsync(List<PendingBatch> group)
    {
        var lookup = await LookupAsync(group);
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
                if (!_inFlight.TryTakeRequest(key, batch, out var original))
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

        _inFlight.Resolve(routed, lookup.Identity);
        foreach (var batch in routed)
            await _writers[WriterOf(batch.Resolution!.Mpid)].Writer.WriteAsync(batch);
    }

    private int WriterOf(long mpid) => (int)((ulong)mpid % (ulong)_writers.Length);

    private sealed record GroupLookup(IdentityLookup Identity, Dictionary<(string, string), long> StoredRequests);

    /// <summary>
    /// One round trip for the group: owners of its identities, which hinted MPIDs exist, which request ids are stored.
    /// A second one only when a batch brings a login identity nobody holds yet: the login identities of the profiles
    /// it could resolve to (a profile with another customer id is not returned for a new customer).
    /// </summary>
    private async Task<GroupLookup> LookupAsync(List<PendingBatch> group)
    {
        var identities = group.SelectMany(b => b.Parsed.Identities()).Distinct().ToList();
        var hints = group.Select(b => b.Parsed.Batch.Mpid?.Value).OfType<long>().Where(m => m != 0).Distinct().ToArray();
        var requests = group.Select(b => b.RequestKey).OfType<(string Input, string Id)>().Distinct().ToList();

        var owners = new Dictionary<IdentityKey, List<IdentityOwner>>();
        var known = new HashSet<long>();
        var stored = new Dictionary<(string, string), long>();
        await using (var batch = _dataSource.CreateBatch())
        {
            batch.BatchCommands.Add(IdentityIndexQueries.Owners(_schema, identities));
            batch.BatchCommands.Add(IdentityIndexQueries.ExistingStreams(_schema, hints));
            batch.BatchCommands.Add(Command(
                $"select r.input, r.source_request_id, r.mpid from {_schema}.{IngestionStorage.RequestsTable} r " +
                "join unnest($1::text[], $2::text[]) q(i, s) on r.input = q.i and r.source_request_id = q.s",
                [requests.Select(r => r.Input).ToArray(), requests.Select(r => r.Id).ToArray()]));

            await using var reader = await batch.ExecuteReaderAsync();
            await IdentityIndexQueries.ReadOwnersAsync(reader, owners);
            await reader.NextResultAsync();
            await IdentityIndexQueries.ReadExistingStreamsAsync(reader, known);
            await reader.NextResultAsync();
            while (await reader.ReadAsync()) stored[(reader.GetString(0), reader.GetString(1))] = reader.GetInt64(2);
        }

        var logins = new Dictionary<long, List<IdentityKey>>();
        var candidates = new HashSet<long>();
        foreach (var b in group)
        {
            var batchIdentities = b.Parsed.Identities();
            if (!batchIdentities.Any(i => _identity.IsLogin(i.Type) && !owners.ContainsKey(i))) continue;
            candidates.UnionWith(batchIdentities.Where(owners.ContainsKey).SelectMany(i => owners[i]).Select(o => o.Mpid));
            candidates.UnionWith(_inFlight.ClaimedOwnersOf(batchIdentities));
            if (b.Parsed.Batch.Mpid?.Value is { } hint && known.Contains(hint)) candidates.Add(hint);
        }
        if (candidates.Count > 0)
        {
            await using var batch = _dataSource.CreateBatch();
            batch.BatchCommands.Add(IdentityIndexQueries.Logins(_schema, candidates, _identity.LoginTypes));
            await using var reader = await batch.ExecuteReaderAsync();
            await IdentityIndexQueries.ReadLoginsAsync(reader, logins);
        }

        var identity = new IdentityLookup(new ListMapView<IdentityKey, IdentityOwner>(owners), new ListMapView<long, IdentityKey>(logins), known);
        return new GroupLookup(identity, stored);

        static NpgsqlBatchCommand Command(string sql, IReadOnlyList<object> parameters)
        {
            var command = new NpgsqlBatchCommand(sql);
            foreach (var p in parameters) command.Parameters.Add(new NpgsqlParameter { Value = p });
            return command;
        }
    }

    // ---------------------------------------------------------------- writers

    private async Task WriteLoopAsync(int index, ChannelReader<PendingBatch> reader)
    {
        var group = new List<PendingBatch>(_options.MaxGroupSize);
        while (await reader.WaitToReadAsync())
        {
            group.Clear();
            while (group.Count < _options.MaxGroupSize && reader.TryRead(out var next)) group.Add(next);
            await CommitWithRetriesAsync(index, group);
        }
    }

    private async Task CommitWithRetriesAsync(int writer, List<PendingBatch> group)
    {
        try
        {
            await CommitGroupAsync(group);
            return;
        }
        catch (Exception ex) when (PostgresErrorOf(ex)?.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            // Another batch claimed one of these identities or request ids first: resolve these batches again.
            _logger.LogInformation("Writer {Writer}: a concurrent claim ({Constraint}) sent {Count} batches back to resolution",
                writer, PostgresErrorOf(ex)!.ConstraintName, group.Count);
            foreach (var batch in group) Requeue(batch, ex);
            return;
        }
        catch (Exception ex) when (IsRetryable(ex) || group.Count == 1)
        {
            _logger.LogWarning(ex, "Writer {Writer}: committing {Count} batches failed; retrying", writer, group.Count);
            foreach (var batch in group) Requeue(batch, ex);
            return;
        }
        catch (Exception ex)
        {
            // Isolate the failure: commit each batch alone so one bad batch cannot fail the others.
            _logger.LogWarning(ex, "Writer {Writer}: group of {Count} failed; committing its batches one by one", writer, group.Count);
        }

        foreach (var batch in group)
        {
            try { await CommitGroupAsync([batch]); }
            catch (Exception ex) { Requeue(batch, ex); }
        }
    }

    private void Requeue(PendingBatch batch, Exception error)
    {
        _inFlight.Release(batch);
        batch.Resolution = null;
        batch.Attempts++;
        if (batch.Attempts >= _options.MaxAttempts || !IsRetryable(error))
        {
            Fail(batch, error);
            return;
        }
        _ = Task.Delay(TimeSpan.FromMilliseconds(20 * (1 << batch.Attempts)))
            .ContinueWith(_ => _incoming.Writer.TryWrite(batch), TaskScheduler.Default);
    }

    private static bool IsRetryable(Exception error) =>
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
        _inFlight.Release(batch);
        _logger.LogError(error, "Batch {BatchId} from input {Input} could not be stored", batch.BatchId, batch.Input.Name);
        batch.Completion.TrySetResult(new IngestOutcome(IngestOutcomeKind.Failed, batch.Resolution?.Mpid ?? 0, error));
    }

    private async Task CommitGroupAsync(IReadOnlyList<PendingBatch> group)
    {
        var started = Stopwatch.GetTimestamp();
        // An identity session: the profiles loaded here are the ones the inline projection folds, not read twice.
        await using var session = _store.IdentitySession();
        await session.BeginTransactionAsync(CancellationToken.None);
        var keys = StreamLocks.KeysInLockOrder(group.Select(b => b.Resolution!.Mpid));
        var knownMessageIds = await LockStreamsAndReadMessageIdsAsync((NpgsqlConnection)session.Connection!, keys, group);
        var loaded = (await session.LoadManyAsync<Profile>(keys)).ToDictionary(p => p.Mpid);
        // Aged-out people sending data again come back (Lifetime Profiles, retention-and-privacy.md §3): their streams are
        // taken out of the archive first, in this transaction, then the batch is applied to the reactivated profile.
        var agedOut = loaded.Values.Where(p => !p.IsLive).Select(p => p.Id).ToArray();
        if (agedOut.Length > 0) await ProfileLifetime.UnarchiveAsync((NpgsqlConnection)session.Connection!, _schema, agedOut);
        var forwarding = await ForwardingPlan.StartAsync(session, _live, _clock, _definitions, CancellationToken.None);

        var profiles = new Dictionary<long, Profile?>();
        var pending = new Dictionary<long, List<object>>();
        var messageRows = new List<(long Mpid, string Id)>();
        var requestRows = new List<(string Input, string Id, long Mpid, DateTimeOffset At)>();

        foreach (var batch in group)
        {
            var resolution = batch.Resolution!;
            var mpid = resolution.Mpid;
            var current = profiles.TryGetValue(mpid, out var p) ? p : loaded.GetValueOrDefault(mpid);
            if (!pending.TryGetValue(mpid, out var stream)) pending[mpid] = stream = [];
            if (current is { IsLive: false })
                foreach (var e in Reactivation.Events(current, batch.ReceivedAt, batch.Input.Name))
                {
                    stream.Add(e);
                    current = current.Evolve(e);
                }
            if (!knownMessageIds.TryGetValue(mpid, out var seen)) knownMessageIds[mpid] = seen = new HashSet<string>(StringComparer.Ordinal);

            var environment = batch.Parsed.Batch.Environment ?? batch.Input.Environment;
            var ctx = new IngestionContext(
                mpid, current is null, batch.Input.Workspace.Id, batch.Input.Name, batch.Channel,
                environment, batch.BatchId, batch.ReceivedAt, batch.IsHistorical,
                resolution.IdentitiesToLink, seen, _identity);
            var decided = BatchDecision.Decide(current, batch.Parsed, ctx);

            stream.AddRange(decided);
            var next = current;
            foreach (var e in decided) next = next is null ? Profile.Create((ProfileCreated)e) : next.Evolve(e);
            profiles[mpid] = next;
            forwarding.Add(batch.Parsed, batch.Input.Name, environment, current, next!, decided,
                new BatchOrigin(batch.Input.Workspace.Id, batch.BatchId, batch.ReceivedAt, batch.Channel, batch.IsHistorical));

            foreach (var captured in decided.OfType<Domain.Profiles.EventCaptured>())
                if (captured.SourceMessageId is { } id && seen.Add(id)) messageRows.Add((mpid, id));
            if (batch.RequestKey is { } key) requestRows.Add((key.Input, key.Id, mpid, batch.ReceivedAt));
        }

        foreach (var (mpid, stream) in pending)
        {
            // Append also creates a new stream, through the same one-call-per-stream quick append as existing
            // streams; StartStream would insert new streams' events row by row. (A random 64-bit MPID colliding
            // with an existing stream is not guarded against.)
            session.Events.Append(StreamKey.For(mpid), stream.ToArray());
        }
        if (requestRows.Count > 0)
            session.QueueSqlCommand(
                $"insert into {_schema}.{IngestionStorage.RequestsTable} (input, source_request_id, mpid, received_at) " +
                "select * from unnest(?::text[], ?::text[], ?::bigint[], ?::timestamptz[])",
                requestRows.Select(r => r.Input).ToArray(), requestRows.Select(r => r.Id).ToArray(),
                requestRows.Select(r => r.Mpid).ToArray(), requestRows.Select(r => r.At.ToUniversalTime()).ToArray());
        if (messageRows.Count > 0)
            session.QueueSqlCommand(
                $"insert into {_schema}.{IngestionStorage.MessagesTable} (mpid, source_message_id) " +
                "select * from unnest(?::bigint[], ?::text[]) on conflict do nothing",
                messageRows.Select(r => r.Mpid).ToArray(), messageRows.Select(r => r.Id).ToArray());

        await forwarding.EnlistAsync(session, _runtime);

        // Not cancellable: once we start committing, the outcome must be known before we answer.
        await session.SaveChangesAsync(CancellationToken.None);
        forwarding.Committed();

        foreach (var batch in group)
        {
            _inFlight.Release(batch);
            batch.Completion.TrySetResult(new IngestOutcome(IngestOutcomeKind.Stored, batch.Resolution!.Mpid));
        }
        if (_logger.IsEnabled(LogLevel.Debug))
            _logger.LogDebug("Committed {Batches} batches for {Streams} streams in {Ms:F1} ms",
                group.Count, pending.Count, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>
    /// One round trip in the group's transaction: lock the group's streams (see <see cref="StreamLocks"/>) and read which
    /// of the group's source_message_ids those streams already hold.
    /// </summary>
    private async Task<Dictionary<long, HashSet<string>>> LockStreamsAndReadMessageIdsAsync(
        NpgsqlConnection connection, string[] keys, IReadOnlyList<PendingBatch> group)
    {
        // A profile created by this group cannot hold any message id yet.
        var pairs = group
            .Where(b => !b.Resolution!.IsNewProfile)
            .SelectMany(b => b.Parsed.Events.Select(e => e.Data?.SourceMessageId).OfType<string>().Select(id => (b.Resolution!.Mpid, Id: id)))
            .Distinct()
            .ToList();

        await using var batch = connection.CreateBatch();
        batch.BatchCommands.Add(StreamLocks.Command(_schema, keys));
        var messages = new NpgsqlBatchCommand(
            $"select m.mpid, m.source_message_id from {_schema}.{IngestionStorage.MessagesTable} m " +
            "join unnest($1::bigint[], $2::text[]) q(mpid, id) on m.mpid = q.mpid and m.source_message_id = q.id");
        messages.Parameters.Add(new NpgsqlParameter { Value = pairs.Select(p => p.Mpid).ToArray() });
        messages.Parameters.Add(new NpgsqlParameter { Value = pairs.Select(p => p.Id).ToArray() });
        batch.BatchCommands.Add(messages);

        var result = new Dictionary<long, HashSet<string>>();
        await using var reader = await batch.ExecuteReaderAsync();
        await reader.NextResultAsync(); // the locked stream ids are not needed
        while (await reader.ReadAsync())
        {
            var mpid = reader.GetInt64(0);
            if (!result.TryGetValue(mpid, out var set)) result[mpid] = set = new HashSet<string>(StringComparer.Ordinal);
            set.Add(reader.GetString(1));
        }
        return result;
    }

    /// <summary>
    /// What the resolver has promised but the database does not hold yet: identities claimed by batches in flight,
    /// MPIDs of profiles being created, request ids being stored. This is what makes two concurrent batches for
    /// the same new customer end in one profile on this node; the unique index catches any other writer.
    /// </summary>
    private sealed class InFlight(IdentitySettings identity)
    {
        private readonly Lock _lock = new();
        /// <summary>Identity → the profiles batches in flight are linking it to (one entry per batch).</summary>
        private readonly Dictionary<IdentityKey, List<long>> _claims = new();
        private readonly Dictionary<long, int> _newProfiles = new();
        private readonly Dictionary<(string, string), PendingBatch> _requests = new();

        public bool TryTakeRequest((string, string) key, PendingBatch batch, out PendingBatch? original)
        {
            lock (_lock)
            {
                if (_requests.TryGetValue(key, out original) && original != batch) return false;
                _requests[key] = batch;
                original = null;
                return true;
            }
        }

        /// <summary>Resolves a group against the database's answer plus everything still in flight, claiming what each batch takes.</summary>
        public void Resolve(IReadOnlyList<PendingBatch> batches, IdentityLookup fromDatabase)
        {
            lock (_lock)
            {
                // One merged view per group (database + in flight), extended as the group's batches claim identities.
                var owners = fromDatabase.Owners.ToDictionary(x => x.Key, x => x.Value.ToList());
                var logins = fromDatabase.LoginIdentitiesOf.ToDictionary(x => x.Key, x => x.Value.ToList());
                foreach (var (key, mpids) in _claims)
                    foreach (var mpid in mpids) AddOwner(key, mpid);
                var known = new HashSet<long>(fromDatabase.KnownMpids);
                known.UnionWith(_newProfiles.Keys);
                var lookup = new IdentityLookup(new ListMapView<IdentityKey, IdentityOwner>(owners), new ListMapView<long, IdentityKey>(logins), known);

                foreach (var batch in batches)
                {
                    var result = IdentityResolution.Resolve(batch.Parsed.Identities(), NonZero(batch.Parsed.Batch.Mpid?.Value), lookup, identity, RandomMpid);
                    batch.Resolution = result;

                    var claimed = result.IdentitiesToLink.Where(i => !fromDatabase.OwnersOf(i).Any(o => o.Mpid == result.Mpid)).ToList();
                    foreach (var key in claimed)
                    {
                        if (!_claims.TryGetValue(key, out var mpids)) _claims[key] = mpids = [];
                        mpids.Add(result.Mpid);
                        AddOwner(key, result.Mpid);
                    }
                    batch.Claims = claimed.Select(key => (key, result.Mpid)).ToList();
                    if (result.IsNewProfile)
                    {
                        _newProfiles[result.Mpid] = _newProfiles.GetValueOrDefault(result.Mpid) + 1;
                        known.Add(result.Mpid);
                        batch.ClaimedNewMpid = result.Mpid;
                    }
                }

                // An identity linked in flight is the most recent link of all. A unique identity the database already
                // gives to a profile has no other holder: a claim for another profile is a race that claim will lose.
                void AddOwner(IdentityKey key, long mpid)
                {
                    if (!owners.TryGetValue(key, out var list)) owners[key] = list = [];
                    if (list.Any(o => o.Mpid == mpid)) return;
                    if (identity.IsUnique(key.Type) && list.Count > 0) return;
                    list.Add(new IdentityOwner(mpid, DateTimeOffset.MaxValue));
                    if (!identity.IsLogin(key.Type)) return;
                    if (!logins.TryGetValue(mpid, out var own)) logins[mpid] = own = [];
                    own.Add(key);
                }
            }
        }

        /// <summary>Profiles that batches in flight are linking these identities to.</summary>
        public IReadOnlyList<long> ClaimedOwnersOf(IEnumerable<IdentityKey> identities)
        {
            lock (_lock) return identities.Where(_claims.ContainsKey).SelectMany(i => _claims[i]).Distinct().ToList();
        }

        public void Release(PendingBatch batch)
        {
            lock (_lock)
            {
                foreach (var (key, mpid) in batch.Claims)
                    if (_claims.TryGetValue(key, out var mpids) && mpids.Remove(mpid) && mpids.Count == 0)
                        _claims.Remove(key);
                batch.Claims = [];
                if (batch.ClaimedNewMpid is { } newMpid)
                {
                    if (_newProfiles.GetValueOrDefault(newMpid) <= 1) _newProfiles.Remove(newMpid);
                    else _newProfiles[newMpid]--;
                    batch.ClaimedNewMpid = null;
                }
                if (batch.RequestKey is { } request && _requests.TryGetValue(request, out var holder) && holder == batch)
                    _requests.Remove(request);
            }
        }

        private static long? NonZero(long? mpid) => mpid is 0 ? null : mpid;

        private static long RandomMpid() => BitConverter.ToInt64(RandomNumberGenerator.GetBytes(8));
    }
}
