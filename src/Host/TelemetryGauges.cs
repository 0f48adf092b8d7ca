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
public sealed class TelemetryGauges
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

    public TelemetryGauges(IMeterFactory meters, IDocumentStore store, NpgsqlDataSource db, ILogger<TelemetryGauges> logger)
    {
        _store = store;
        _db = db;
        _logger = logger;
        var meter = meters.Create(MeterName);
        meter.CreateObservableGauge("eventprofiles.projection.lag", () => Current().Lag, "{event}",
            "Events an async projection shard is behind the store's high-water mark, by shard");
        meter.CreateObservableGauge("eventprofiles.dsr.requests", () => Current().Requests, "{request}",
            "Data-subject requests by state (pending, in_progress, completed, cancelled)");
        meter.CreateObservableGauge("eventprofiles.jobs.progress", () => Current().Jobs, "1",
            "Open operation jobs (queued, running, paused): done / total (0 while the total is unknown), by job, kind and state");
    }

    private sealed record Snapshot(Measurement<long>[] Lag, Measurement<long>[] Requests, Measurement<double>[] Jobs);

    private Snapshot Current()
    {
        lock (_lock)
        {
            if (Environment.TickCount64 - _takenAt < MaxAge.TotalMilliseconds) return _snapshot;
            try
            {
                // Collection callbacks are synchronous; the reads are small and bounded by the timeout.
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                _snapshot = Task.Run(() => ReadAsync(timeout.Token)).GetAwaiter().GetResult();
            }
            catch (Exception ex)
            {
                _logger.LogWarning(ex, "Telemetry: reading projection lag, requests and jobs failed; reporting none this time");
                _snapshot = new Snapshot([], [], []);
            }
            _takenAt = Environment.TickCount64;
            return _snapshot;
        }
    }

    private async Task<Snapshot> ReadAsync(CancellationToken ct)
    {
        var lag = (await ProjectionStatus.ReadAsync(_store, _db, ct))
            .Where(p => p.Lifecycle == "async")
            .Select(p => new Measurement<long>(p.LagEvents, new KeyValuePair<string, object?>("shard", p.Name)))
            .ToArray();

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
        return new Snapshot(lag, requests, progress);
    }
}
