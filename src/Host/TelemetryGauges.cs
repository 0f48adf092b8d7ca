using System.Diagnostics.Metrics;
using EventProfiles.Commands.Operations;
using EventProfiles.Domain.Operations;
using EventProfiles.Domain.Privacy;
using Marten;
using Npgsql;

namespace EventProfiles.Host;

/// <summary>
/// What lives in the database, read when a collector asks (a Prometheus scrape, an OTLP export) rather than kept up to
/// date on the hot path: the async projections' lag per shard, data-subject requests by state, and the open jobs and
/// their progress. One snapshot (one round trip each for lag, requests and jobs) serves every gauge for a second, so a
/// scrape costs a few small queries, whatever the traffic. A read that fails reports nothing rather than failing the scrape.
/// </summary>
public sealed class TelemetryGauges : IDisposable
{
    public const string MeterName = "EventProfiles.State";
    private static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(1);
    private static readonly string[] DsrStates = [DsrStatuses.Pending, DsrStatuses.InProgress, DsrStatuses.Completed, DsrStatuses.Cancelled];
    private static readonly string[] OpenJobStates = [OperationStatuses.Queued, OperationStatuses.Running, OperationStatuses.Paused];

    private readonly IDocumentStore _store;
    private readonly NpgsqlDataSource _db;
    private readonly ILogger<TelemetryGauges> _logger;
    private readonly Lock _lock = new();
    private Snapshot _snapshot = new([], [], []);
    private long _takenAt = long.MinValue / 2;

    /// <summary>
    /// One meter per process, like <c>Metrics.Meter</c>: a second Host in the same process (tests start one) must not
    /// register the same instruments again, or the SDK merges them and drops both when that Host goes. The gauges read
    /// through the first live instance.
    /// </summary>
    private static readonly Meter StateMeter = new(MeterName);
    private static readonly List<TelemetryGauges> Live = [];

    static TelemetryGauges()
    {
        StateMeter.CreateObservableGauge("eventprofiles.projection.lag", () => Active()?.Current().Lag ?? [], "{event}",
            "Events an async projection shard is behind the store's high-water mark, by shard");
        StateMeter.CreateObservableGauge("eventprofiles.dsr.requests", () => Active()?.Current().Requests ?? [], "{request}",
            "Data-subject requests by state (pending, in_progress, completed, cancelled)");
        StateMeter.CreateObservableGauge("eventprofiles.jobs.progress", () => Active()?.Current().Jobs ?? [], "1",
            "Open operation jobs (queued, running, paused): done / total (0 while the total is unknown), by job, kind and state");
    }

    public TelemetryGauges(IDocumentStore store, NpgsqlDataSource db, ILogger<TelemetryGauges> logger)
    {
        _store = store;
        _db = db;
        _logger = logger;
        lock (Live) Live.Add(this);
    }

    /// <summary>The Host is stopping: its store goes, so the gauges read through another live instance, if any.</summary>
    public void Dispose()
    {
        lock (Live) Live.Remove(this);
    }

    private static TelemetryGauges? Active()
    {
        lock (Live) return Live.FirstOrDefault();
    }

    private sealed record Snapshot(Measurement<long>[] Lag, Measurement<long>[] Requests, Measurement<double>[] Jobs);

    /// <summary>
    /// The snapshot for a collection. A stale one is refreshed by one read at a time, awaited for up to two seconds: a
    /// collection callback is synchronous, and blocking a thread-pool thread longer on a busy Host would starve it. A
    /// read that takes longer still lands, for the next collection.
    /// </summary>
    private Snapshot Current()
    {
        Task refresh;
        lock (_lock)
        {
            if (Environment.TickCount64 - _takenAt < MaxAge.TotalMilliseconds) return _snapshot;
            refresh = _refreshing ??= RefreshAsync();
        }
        try { refresh.Wait(TimeSpan.FromSeconds(2)); }
        catch (AggregateException) { } // RefreshAsync logs its own failures; a collection never throws
        lock (_lock) return _snapshot;
    }

    private Task? _refreshing;

    private async Task RefreshAsync()
    {
        await Task.Yield(); // off the caller's stack, so its lock is not held while reading
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var lag = await PartAsync("projection lag", ReadLagAsync, timeout.Token);
            var (requests, jobs) = await PartAsync("requests and jobs", ReadRequestsAndJobsAsync, timeout.Token);
            lock (_lock) _snapshot = new Snapshot(lag ?? [], requests ?? [], jobs ?? []);
        }
        finally
        {
            lock (_lock)
            {
                _takenAt = Environment.TickCount64;
                _refreshing = null;
            }
        }
    }

    /// <summary>One part of the snapshot; one that fails reports nothing this time, and the others still report.</summary>
    private async Task<T?> PartAsync<T>(string what, Func<CancellationToken, Task<T>> read, CancellationToken ct)
    {
        try
        {
            return await read(ct);
        }
        catch (Exception ex)
        {
            _logger.LogWarning(ex, "Telemetry: reading {What} failed; reporting none this time", what);
            return default;
        }
    }

    private async Task<Measurement<long>[]> ReadLagAsync(CancellationToken ct) =>
        (await ProjectionStatus.ReadAsync(_store, _db, ct))
            .Where(p => p.Lifecycle == "async")
            .Select(p => new Measurement<long>(p.LagEvents, new KeyValuePair<string, object?>("shard", p.Name)))
            .ToArray();

    private async Task<(Measurement<long>[], Measurement<double>[])> ReadRequestsAndJobsAsync(CancellationToken ct)
    {
        await using var session = _store.QuerySession();
        var batch = session.CreateBatchQuery();
        var counts = DsrStates.Select(s => batch.Query<DataSubjectRequest>().Where(r => r.Status == s).Count()).ToArray();
        var jobs = batch.Query<OperationJob>().Where(j => j.Status == OperationStatuses.Queued || j.Status == OperationStatuses.Running
            || j.Status == OperationStatuses.Paused).ToList();
        await batch.Execute(ct);

        var requests = new Measurement<long>[DsrStates.Length];
        for (var i = 0; i < DsrStates.Length; i++)
            requests[i] = new Measurement<long>(await counts[i], new KeyValuePair<string, object?>("state", DsrStates[i]));
        var progress = (await jobs)
            .Where(j => OpenJobStates.Contains(j.Status))
            .Select(j => new Measurement<double>(j.Total is > 0 ? Math.Min(1.0, (double)j.Done / j.Total.Value) : 0,
                new KeyValuePair<string, object?>("job", j.Id.ToString()),
                new KeyValuePair<string, object?>("kind", j.Kind),
                new KeyValuePair<string, object?>("state", j.Status)))
            .ToArray();
        return (requests, progress);
    }
}
