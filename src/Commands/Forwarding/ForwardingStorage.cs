using System.Collections.Concurrent;
using EventProfiles.Domain.Forwarding;
using Marten;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Weasel.Postgresql.Tables;

namespace EventProfiles.Commands.Forwarding;

public static class ForwardingStorage
{
    public const string CountersTable = "ep_output_counters";

    /// <summary>Deliveries and failed attempts per output and minute, with the last error: the console's health of the last hour.</summary>
    public const string MinutesTable = "ep_output_minutes";

    /// <summary>
    /// Batches waiting for delivery: one row per batch and output, keyed by its work id, with the person and workspace it
    /// belongs to (what an erasure deletes it by). The durable envelope (<see cref="DeliverBatches"/>) carries only the
    /// group's id, so no personal data sits in Wolverine's tables while a delivery waits.
    /// </summary>
    public const string DeliveriesTable = "ep_deliveries";

    /// <summary>Rows per output in <see cref="CountersTable"/>; its counts are their sums.</summary>
    public const int CounterStripes = 16;

    /// <summary>Outputs and connections are documents; delivery counters a small table updated in the transactions that change them.</summary>
    public static StoreOptions AddForwarding(this StoreOptions opts)
    {
        opts.Schema.For<Output>().DocumentAlias("output");
        opts.Listeners.Add(new DefinitionChangesListener());
        opts.Schema.For<Connection>().DocumentAlias("connection").Index(c => c.Input);
        var counters = new Table($"{opts.DatabaseSchemaName}.{CountersTable}");
        counters.AddColumn<string>("output_id").AsPrimaryKey();
        // Several rows per output: ingestion transactions add to one at random, so concurrent writers do not queue behind
        // one row lock held until each other's commit (measured: that upsert was a third of the pipeline's database time).
        counters.AddColumn<int>("stripe").AsPrimaryKey().DefaultValueByExpression("0");
        counters.AddColumn<long>("enqueued").NotNull().DefaultValueByExpression("0");
        counters.AddColumn<long>("delivered").NotNull().DefaultValueByExpression("0");
        opts.Storage.ExtendedSchemaObjects.Add(counters);
        var minutes = new Table($"{opts.DatabaseSchemaName}.{MinutesTable}");
        minutes.AddColumn<string>("output_id").AsPrimaryKey();
        minutes.AddColumn<DateTimeOffset>("minute").AsPrimaryKey();
        minutes.AddColumn<long>("delivered").NotNull().DefaultValueByExpression("0");
        minutes.AddColumn<long>("failed").NotNull().DefaultValueByExpression("0");
        minutes.AddColumn<string>("last_error").AllowNulls();
        minutes.AddColumn<DateTimeOffset>("last_error_at").AllowNulls();
        opts.Storage.ExtendedSchemaObjects.Add(minutes);
        var deliveries = new Table($"{opts.DatabaseSchemaName}.{DeliveriesTable}");
        deliveries.AddColumn<Guid>("work_id").AsPrimaryKey();
        // Null once the group's attempt failed: the row then only marks that the batch's own message has yet to report it.
        deliveries.AddColumn<Guid>("group_id").AllowNulls();
        deliveries.AddColumn<int>("position").NotNull();
        deliveries.AddColumn<string>("output_id").NotNull();
        deliveries.AddColumn<string>("connection_id").NotNull();
        deliveries.AddColumn<Guid>("delivery_id").NotNull();
        deliveries.AddColumn<Guid>("batch_id").NotNull();
        deliveries.AddColumn<long>("mpid").NotNull();
        deliveries.AddColumn<int>("workspace_id").NotNull();
        deliveries.AddColumn<string>("input").NotNull();
        deliveries.AddColumn<string>("environment").NotNull();
        deliveries.AddColumn<string>("payload").NotNull();
        deliveries.AddColumn<DateTimeOffset>("created_at").NotNull().DefaultValueByExpression("now()");
        deliveries.Indexes.Add(new IndexDefinition($"ix_{DeliveriesTable}_group") { Columns = ["group_id"] });
        deliveries.Indexes.Add(new IndexDefinition($"ix_{DeliveriesTable}_mpid") { Columns = ["mpid"] });
        opts.Storage.ExtendedSchemaObjects.Add(deliveries);
        return opts;
    }

    /// <summary>One transaction's deliveries to outputs, all rows in one statement (the envelopes carry only group ids).</summary>
    public static void QueueDeliveries(this IDocumentSession session, IReadOnlyList<(Guid GroupId, int Position, DeliverBatch Delivery, int WorkspaceId)> rows)
    {
        if (rows.Count == 0) return;
        session.QueueSqlCommand(
            $"insert into {session.DocumentStore.Options.DatabaseSchemaName}.{DeliveriesTable} " +
            "(work_id, group_id, position, output_id, connection_id, delivery_id, batch_id, mpid, workspace_id, input, environment, payload) " +
            "select * from unnest(?::uuid[], ?::uuid[], ?::int[], ?::text[], ?::text[], ?::uuid[], ?::uuid[], ?::bigint[], ?::int[], ?::text[], ?::text[], ?::text[])",
            rows.Select(r => r.Delivery.WorkId).ToArray(), rows.Select(r => r.GroupId).ToArray(), rows.Select(r => r.Position).ToArray(),
            rows.Select(r => r.Delivery.OutputId).ToArray(), rows.Select(r => r.Delivery.ConnectionId).ToArray(),
            rows.Select(r => r.Delivery.DeliveryId).ToArray(), rows.Select(r => r.Delivery.BatchId).ToArray(),
            rows.Select(r => r.Delivery.Mpid).ToArray(), rows.Select(r => r.WorkspaceId).ToArray(),
            rows.Select(r => r.Delivery.Input).ToArray(), rows.Select(r => r.Delivery.Environment).ToArray(),
            rows.Select(r => r.Delivery.Payload).ToArray());
    }

    /// <summary>A group's batches still waiting (an erasure may have removed some), in the order they were accepted.</summary>
    public static async Task<List<(DeliverBatch Delivery, int WorkspaceId)>> WaitingDeliveriesAsync(NpgsqlDataSource db, string schema, Guid groupId, CancellationToken ct)
    {
        await using var command = db.CreateCommand(
            "select work_id, output_id, connection_id, delivery_id, batch_id, mpid, workspace_id, input, environment, payload " +
            $"from {schema}.{DeliveriesTable} where group_id = $1 order by position");
        command.Parameters.Add(new NpgsqlParameter { Value = groupId });
        var rows = new List<(DeliverBatch, int)>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            rows.Add((new DeliverBatch(reader.GetString(1), reader.GetString(2), reader.GetGuid(3), reader.GetGuid(4), reader.GetInt64(5),
                reader.GetString(7), reader.GetString(8), reader.GetString(9)) { WorkId = reader.GetGuid(0) }, reader.GetInt32(6)));
        return rows;
    }

    /// <summary>
    /// After a group's attempt: delivered (or dropped) rows go; failed ones stay, out of the group, until their own
    /// message has reported the failure once (<see cref="TakeFailureMarkAsync"/>).
    /// </summary>
    public static void FinishDeliveries(this IDocumentSession session, Guid[] done, Guid[] failed)
    {
        var table = $"{session.DocumentStore.Options.DatabaseSchemaName}.{DeliveriesTable}";
        if (done.Length > 0) session.QueueSqlCommand($"delete from {table} where work_id = any(?)", (object)done);
        if (failed.Length > 0) session.QueueSqlCommand($"update {table} set group_id = null where work_id = any(?)", (object)failed);
    }

    /// <summary>
    /// Removes the mark a group's failed attempt left for this batch, committed at once; true the first time only, so a
    /// retry or a replayed dead letter calls the destination again.
    /// </summary>
    public static async Task<bool> TakeFailureMarkAsync(NpgsqlDataSource db, string schema, Guid workId, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"delete from {schema}.{DeliveriesTable} where work_id = $1 and group_id is null");
        command.Parameters.Add(new NpgsqlParameter { Value = workId });
        return await command.ExecuteNonQueryAsync(ct) > 0;
    }

    /// <summary>
    /// An erasure's part: the waiting deliveries of people erased entirely, and of people erased from one workspace only
    /// that workspace's, by the key stored with them. Erasure notices of an earlier erasure stay: they are what it owes the outputs.
    /// </summary>
    public static void RemoveWaitingDeliveries(this IDocumentSession session, long[] whole, long[] part, int? workspaceId)
    {
        var table = $"{session.DocumentStore.Options.DatabaseSchemaName}.{DeliveriesTable}";
        var batches = $"input not like '{Domain.Privacy.ErasureNotice.InputPrefix}%'";
        if (whole.Length > 0) session.QueueSqlCommand($"delete from {table} where mpid = any(?) and {batches}", (object)whole);
        if (part.Length > 0 && workspaceId is { } ws) session.QueueSqlCommand($"delete from {table} where mpid = any(?) and workspace_id = ? and {batches}", part, ws);
    }

    /// <summary>The upsert that counts deliveries queued for outputs, as part of the ingestion transaction.</summary>
    public static void CountEnqueued(this IDocumentSession session, IReadOnlyDictionary<string, int> perOutput)
    {
        if (perOutput.Count == 0) return;
        session.QueueSqlCommand(
            $"insert into {session.DocumentStore.Options.DatabaseSchemaName}.{CountersTable} as c (output_id, stripe, enqueued) " +
            "select o, ?::int, n from unnest(?::text[], ?::bigint[]) as u(o, n) on conflict (output_id, stripe) do update set enqueued = c.enqueued + excluded.enqueued",
            Random.Shared.Next(CounterStripes), perOutput.Keys.ToArray(), perOutput.Values.Select(v => (long)v).ToArray());
    }
}

/// <summary>
/// Delivered and enqueued counts per output. Deliveries are counted in memory and written every half second, one
/// statement for all outputs, so counting does not cost a round trip per delivery. The same statement adds them, and
/// the failed attempts with the last error, to the output's minute (<see cref="ForwardingStorage.MinutesTable"/>):
/// the console's health of the last hour.
/// </summary>
public sealed class OutputCounters(NpgsqlDataSource db, IDocumentStore store, TimeProvider clock) : BackgroundService
{
    private readonly ConcurrentDictionary<string, long> _unflushed = new();
    /// <summary>Deliveries and failed attempts per output and minute (of when they happened), not yet written.</summary>
    private readonly ConcurrentDictionary<(string Output, DateTimeOffset Minute), (long Delivered, long Failed)> _minutes = new();
    private readonly ConcurrentDictionary<string, (string Error, DateTimeOffset At)> _lastErrors = new();
    private string Table => $"{store.Options.DatabaseSchemaName}.{ForwardingStorage.CountersTable}";
    private string Minutes => $"{store.Options.DatabaseSchemaName}.{ForwardingStorage.MinutesTable}";
    private DateTimeOffset _prunedAt;
    /// <summary>
    /// Held while a flush moves counts from memory to the tables, and by readers while they add both up: a read in
    /// between would see the moved counts in neither (delivered falling for a moment, pending and failures rising).
    /// Counting (<see cref="Delivered"/>, <see cref="Failed"/>) never waits for it.
    /// </summary>
    private readonly SemaphoreSlim _moving = new(1, 1);

    private static DateTimeOffset MinuteOf(DateTimeOffset at) => new(at.Year, at.Month, at.Day, at.Hour, at.Minute, 0, TimeSpan.Zero);

    public void Delivered(string outputId)
    {
        _unflushed.AddOrUpdate(outputId, 1, (_, n) => n + 1);
        _minutes.AddOrUpdate((outputId, MinuteOf(clock.GetUtcNow())), (1, 0), (_, m) => (m.Delivered + 1, m.Failed));
    }

    /// <summary>An attempt that failed (it is retried or dead-lettered by Wolverine's policy), with its reason.</summary>
    public void Failed(string outputId, string error)
    {
        var at = clock.GetUtcNow();
        _minutes.AddOrUpdate((outputId, MinuteOf(at)), (0, 1), (_, m) => (m.Delivered, m.Failed + 1));
        _lastErrors[outputId] = (error, at);
    }

    private async Task<T> NotWhileMovingAsync<T>(Func<Task<T>> work, CancellationToken ct)
    {
        await _moving.WaitAsync(ct);
        try { return await work(); }
        finally { _moving.Release(); }
    }

    public Task<(long Enqueued, long Delivered)> ReadAsync(string outputId, CancellationToken ct) =>
        NotWhileMovingAsync(() => ReadUnmovingAsync(outputId, ct), ct);

    private async Task<(long Enqueued, long Delivered)> ReadUnmovingAsync(string outputId, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"select coalesce(sum(enqueued), 0)::bigint, coalesce(sum(delivered), 0)::bigint from {Table} where output_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = outputId });
        await using var reader = await command.ExecuteReaderAsync(ct);
        var (enqueued, delivered) = await reader.ReadAsync(ct) ? (reader.GetInt64(0), reader.GetInt64(1)) : (0, 0);
        return (enqueued, delivered + _unflushed.GetValueOrDefault(outputId));
    }

    /// <summary>Delivered and failed attempts since <paramref name="since"/>, and the last error recorded (and when).</summary>
    public Task<(long Delivered, long Failed, string? LastError, DateTimeOffset? LastErrorAt)> RecentAsync(string outputId, DateTimeOffset since, CancellationToken ct) =>
        NotWhileMovingAsync(() => RecentUnmovingAsync(outputId, since, ct), ct);

    private async Task<(long Delivered, long Failed, string? LastError, DateTimeOffset? LastErrorAt)> RecentUnmovingAsync(string outputId, DateTimeOffset since, CancellationToken ct)
    {
        since = MinuteOf(since); // whole minutes, as they are kept
        await using var command = db.CreateCommand(
            $"select coalesce(sum(delivered) filter (where minute >= $2), 0)::bigint, coalesce(sum(failed) filter (where minute >= $2), 0)::bigint, " +
            $"(select last_error from {Minutes} where output_id = $1 and last_error_at is not null order by last_error_at desc limit 1), " +
            $"(select max(last_error_at) from {Minutes} where output_id = $1) from {Minutes} where output_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = outputId });
        command.Parameters.Add(new NpgsqlParameter { Value = since });
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        // Plus what this node counted since its last write (another node's shows once written).
        var unwritten = _minutes.Where(m => m.Key.Output == outputId && m.Key.Minute >= since).Select(m => m.Value).ToList();
        var (delivered, failed) = (reader.GetInt64(0) + unwritten.Sum(m => m.Delivered), reader.GetInt64(1) + unwritten.Sum(m => m.Failed));
        if (_lastErrors.TryGetValue(outputId, out var last)) return (delivered, failed, last.Error, last.At);
        return (delivered, failed, reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500));
        try { while (await timer.WaitForNextTickAsync(stoppingToken)) await FlushAsync(); }
        catch (OperationCanceledException) { }
        await FlushAsync(); // what was counted before the stop
    }

    private Task<bool> FlushAsync() => NotWhileMovingAsync(MoveAsync, CancellationToken.None);

    /// <summary>Writes what was counted in memory to the tables; whether anything was written.</summary>
    private async Task<bool> MoveAsync()
    {
        var taken = new Dictionary<string, long>();
        foreach (var key in _unflushed.Keys)
            if (_unflushed.TryRemove(key, out var n)) taken[key] = n;
        var minutes = new Dictionary<(string Output, DateTimeOffset Minute), (long Delivered, long Failed, string? Error, DateTimeOffset? At)>();
        foreach (var key in _minutes.Keys)
            if (_minutes.TryRemove(key, out var m)) minutes[key] = (m.Delivered, m.Failed, null, null);
        var errors = new Dictionary<string, (string Error, DateTimeOffset At)>();
        foreach (var key in _lastErrors.Keys)
            if (_lastErrors.TryRemove(key, out var e)) errors[key] = e;
        foreach (var (output, (error, at)) in errors) // the last error rides on the row of its own minute
            minutes[(output, MinuteOf(at))] = minutes.TryGetValue((output, MinuteOf(at)), out var row) ? row with { Error = error, At = at } : (0, 0, error, at);
        if (taken.Count == 0 && minutes.Count == 0) return false;
        var rows = minutes.ToList();
        try
        {
            await using var command = db.CreateCommand(
                $"with counted as (insert into {Table} as c (output_id, stripe, delivered) select o, $3::int, n from unnest($1::text[], $2::bigint[]) as u(o, n) " +
                "on conflict (output_id, stripe) do update set delivered = c.delivered + excluded.delivered) " +
                $"insert into {Minutes} as m (output_id, minute, delivered, failed, last_error, last_error_at) " +
                "select o, to_timestamp(t * 60), d, f, e, case when a = 0 then null else to_timestamp(a / 1000.0) end " +
                "from unnest($4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[], $9::bigint[]) as u(o, t, d, f, e, a) " +
                "on conflict (output_id, minute) do update set delivered = m.delivered + excluded.delivered, failed = m.failed + excluded.failed, " +
                "last_error = coalesce(excluded.last_error, m.last_error), last_error_at = coalesce(excluded.last_error_at, m.last_error_at)");
            command.Parameters.Add(new NpgsqlParameter { Value = taken.Keys.ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = taken.Values.ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = Random.Shared.Next(ForwardingStorage.CounterStripes) });
            command.Parameters.Add(new NpgsqlParameter { Value = rows.Select(r => r.Key.Output).ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = rows.Select(r => r.Key.Minute.ToUnixTimeSeconds() / 60).ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = rows.Select(r => r.Value.Delivered).ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = rows.Select(r => r.Value.Failed).ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = rows.Select(r => r.Value.Error).ToArray(), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter { Value = rows.Select(r => r.Value.At?.ToUnixTimeMilliseconds() ?? 0L).ToArray() });
            await command.ExecuteNonQueryAsync();
            // Minutes older than a day are of no use to the last hour's health.
            var now = clock.GetUtcNow();
            if (now - _prunedAt > TimeSpan.FromHours(1))
            {
                await using var prune = db.CreateCommand($"delete from {Minutes} where minute < $1");
                prune.Parameters.Add(new NpgsqlParameter { Value = now.AddDays(-1) });
                await prune.ExecuteNonQueryAsync();
                _prunedAt = now;
            }
            return true;
        }
        catch (NpgsqlException)
        {
            // Try again at the next tick.
            foreach (var (key, n) in taken) _unflushed.AddOrUpdate(key, n, (_, m) => m + n);
            foreach (var (key, m) in minutes)
                _minutes.AddOrUpdate(key, (m.Delivered, m.Failed), (_, o) => (o.Delivered + m.Delivered, o.Failed + m.Failed));
            foreach (var (key, e) in errors) _lastErrors.TryAdd(key, e);
            return false;
        }
    }
}

/// <summary>Outputs as deliveries see them, read at most every two seconds per output (a pause applies within that).</summary>
public sealed class OutputCache(IDocumentStore store, TimeProvider clock)
{
    private readonly ConcurrentDictionary<string, (Output? Output, DateTimeOffset ReadAt)> _outputs = new();
    private static readonly TimeSpan Freshness = TimeSpan.FromSeconds(2);

    public async Task<Output?> GetAsync(string id, CancellationToken ct)
    {
        if (_outputs.TryGetValue(id, out var cached) && clock.GetUtcNow() - cached.ReadAt < Freshness) return cached.Output;
        await using var session = store.QuerySession();
        var output = await session.LoadAsync<Output>(id, ct);
        _outputs[id] = (output, clock.GetUtcNow());
        return output;
    }

    /// <summary>An admin change on this node applies at once.</summary>
    public void Forget(string id) => _outputs.TryRemove(id, out _);
}

/// <summary>
/// The active calculated attributes, audiences and connections, read at most every 2 seconds per node instead of once per ingestion
/// transaction or Profile API read. A change committed on this node applies at once (<see cref="DefinitionChanges"/>);
/// one committed on another node reaches this one within the 2 seconds.
/// </summary>
public sealed class EnrichmentDefinitionsCache(IDocumentStore store, TimeProvider clock)
{
    private static readonly TimeSpan Freshness = TimeSpan.FromSeconds(2);
    private volatile Snapshot? _snapshot;

    /// <param name="Audiences">Active real-time audiences: what enrichment adds.</param>
    /// <param name="Listed">Active or ready audiences of every kind: what the Profile API lists memberships of.</param>
    /// <param name="Connections">Active connections: what ingestion forwards through (<see cref="ForwardingPlan.StartAsync"/>).</param>
    public sealed record Snapshot(IReadOnlyList<Domain.CalculatedAttributes.CalculatedAttribute> Attributes, IReadOnlyList<Domain.Audiences.Audience> Audiences,
        DateTimeOffset ReadAt, IReadOnlyList<Domain.Audiences.Audience> Listed, long Version, IReadOnlyList<Connection> Connections);

    public async Task<Snapshot> GetAsync(CancellationToken ct)
    {
        // Taken before reading: a change committed while we read leaves the snapshot already outdated, so it is read again.
        var version = DefinitionChanges.Version;
        if (_snapshot is { } cached && cached.Version == version && clock.GetUtcNow() - cached.ReadAt < Freshness) return cached;
        await using var session = store.QuerySession();
        var batch = session.CreateBatchQuery();
        var attributes = batch.Query<Domain.CalculatedAttributes.CalculatedAttribute>()
            .Where(c => c.Status == Domain.CalculatedAttributes.CalculatedAttributeStatus.Active).ToList();
        var audiences = batch.Query<Domain.Audiences.Audience>()
            .Where(a => a.Status == Domain.Audiences.AudienceStatus.Active || a.Status == Domain.Audiences.AudienceStatus.Ready).ToList();
        var connections = batch.Query<Connection>().Where(c => c.Active).ToList();
        await batch.Execute(ct);
        var listed = await audiences;
        var realTime = listed.Where(a => a.Status == Domain.Audiences.AudienceStatus.Active && a.Kind == Domain.Audiences.AudienceKinds.RealTime).ToList();
        return _snapshot = new Snapshot(await attributes, realTime, clock.GetUtcNow(), listed, version, await connections);
    }

    /// <summary>A definition or audience changed on this node: the next enrichment reads them again.</summary>
    public void Forget() => _snapshot = null;
}

/// <summary>
/// Counts commits that stored or deleted a calculated attribute, an audience or a connection in this process. <see cref="Forget"/>
/// calls inside a handler run before its transaction commits, so a read in between could cache the old definitions
/// again; this count moves after the commit, whichever code path made the change (activation, a standard audience
/// becoming ready, deletion).
/// </summary>
public static class DefinitionChanges
{
    private static long _version;
    public static long Version => Interlocked.Read(ref _version);
    public static void Committed() => Interlocked.Increment(ref _version);
}

/// <summary>Moves <see cref="DefinitionChanges"/> after every commit that touched a definition.</summary>
public sealed class DefinitionChangesListener : DocumentSessionListenerBase
{
    public override Task AfterCommitAsync(IDocumentSession session, Marten.Services.IChangeSet commit, CancellationToken token)
    {
        if (commit.Updated.Concat(commit.Inserted).Any(IsDefinition) || commit.Deleted.Any(d => IsDefinitionType(d.DocumentType)))
            DefinitionChanges.Committed();
        return Task.CompletedTask;
    }

    private static bool IsDefinition(object document) => IsDefinitionType(document.GetType());
    private static bool IsDefinitionType(Type type) =>
        type == typeof(Domain.CalculatedAttributes.CalculatedAttribute) || type == typeof(Domain.Audiences.Audience) || type == typeof(Connection)
        || type == typeof(Output); // deleting an output deletes its connections with a DeleteWhere (not listed by document)
}
