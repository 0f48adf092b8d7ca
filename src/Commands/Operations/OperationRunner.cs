using System.Diagnostics;
using EventProfiles.Domain.Operations;
using Marten;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EventProfiles.Commands.Operations;

/// <summary>One kind of operation. It reports progress through <see cref="JobProgress"/> and resumes from the job's cursor.</summary>
public interface IOperation
{
    string Kind { get; }

    /// <summary>Does the work from <c>job.Cursor</c> on; returns the job's result (e.g. where an export went).</summary>
    Task<string?> RunAsync(OperationJob job, JobProgress progress, CancellationToken ct);
}

/// <summary>The operation was asked to stop; the job keeps its cursor.</summary>
public sealed class OperationStoppedException(string stoppedAs) : Exception($"Stopped ({stoppedAs}).")
{
    public string StoppedAs { get; } = stoppedAs;
}

/// <summary>
/// A running job's checkpoints: each records the cursor (the last finished unit of work), the counts and a heartbeat,
/// durably, and is where a stop request takes effect. Operations checkpoint after every unit they commit, so a stop,
/// a crash or a restart loses no finished work and redoes none.
/// </summary>
public sealed class JobProgress(IDocumentStore store, OperationJob job, TimeProvider clock)
{
    private readonly Stopwatch _running = Stopwatch.StartNew();
    private readonly double _elapsedBefore = job.ElapsedSeconds;

    public OperationJob Job => job;

    public async Task CheckpointAsync(string? cursor, long done, long events, long? total, CancellationToken ct)
    {
        Stage(cursor, done, events, total);
        await SaveAsync(ct);
    }

    /// <summary>Sets the job's progress without saving it: for operations that store the job in their own unit of work's transaction.</summary>
    public void Stage(string? cursor, long done, long events, long? total)
    {
        job.Cursor = cursor;
        job.Done = done;
        job.Events = events;
        job.Total = total ?? job.Total;
        job.HeartbeatAt = clock.GetUtcNow();
        job.ElapsedSeconds = _elapsedBefore + _running.Elapsed.TotalSeconds;
    }

    /// <summary>Saves the counts and heartbeat; throws <see cref="OperationStoppedException"/> when a stop was requested.</summary>
    public async Task SaveAsync(CancellationToken ct)
    {
        await using var session = store.LightweightSession();
        var stop = await session.LoadAsync<OperationStopRequest>(job.Id, ct);
        job.HeartbeatAt = clock.GetUtcNow();
        job.ElapsedSeconds = _elapsedBefore + _running.Elapsed.TotalSeconds;
        session.Store(job);
        await session.SaveChangesAsync(ct);
        if (stop is not null) throw new OperationStoppedException(stop.As);
    }
}

/// <summary>
/// Runs queued jobs on this node, one at a time (a rebuild or a replay already keeps the database busy). Jobs are rows:
/// they survive restarts, any node may run them, and a job whose node died is taken over after
/// <see cref="OperationJobs.HeartbeatTimeout"/>. On shutdown the running job goes back to the queue at its cursor.
/// </summary>
public sealed class OperationRunner(IDocumentStore store, IEnumerable<IOperation> operations, TimeProvider clock, ILogger<OperationRunner> logger)
    : BackgroundService
{
    private readonly Dictionary<string, IOperation> _operations = operations.ToDictionary(o => o.Kind);

    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await OperationJobs.ClaimAsync(store, clock.GetUtcNow(), stoppingToken) is { } job) await RunAsync(job, stoppingToken);
                else await Task.Delay(PollInterval, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
            catch (Exception e)
            {
                logger.LogError(e, "The operation runner failed; trying again shortly");
                await Task.Delay(PollInterval, CancellationToken.None);
            }
        }
    }

    private async Task RunAsync(OperationJob job, CancellationToken stoppingToken)
    {
        var progress = new JobProgress(store, job, clock);
        logger.LogInformation("Operation {Kind} {Id} started (from cursor {Cursor})", job.Kind, job.Id, job.Cursor ?? "the beginning");
        try
        {
            if (!_operations.TryGetValue(job.Kind, out var operation)) throw new InvalidOperationException($"No operation of kind \"{job.Kind}\".");
            job.Result = await operation.RunAsync(job, progress, stoppingToken);
            job.Status = OperationStatuses.Completed;
            job.FinishedAt = clock.GetUtcNow();
        }
        catch (OperationStoppedException stopped)
        {
            job.Status = stopped.StoppedAs;
            if (stopped.StoppedAs == OperationStatuses.Cancelled) job.FinishedAt = clock.GetUtcNow();
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            job.Status = OperationStatuses.Queued; // this node is stopping: the next runner continues at the cursor
        }
        catch (Exception e)
        {
            logger.LogError(e, "Operation {Kind} {Id} failed at cursor {Cursor}", job.Kind, job.Id, job.Cursor);
            job.Status = OperationStatuses.Failed;
            job.Error = e.Message;
            job.FinishedAt = clock.GetUtcNow();
        }
        await using var session = store.LightweightSession();
        job.HeartbeatAt = clock.GetUtcNow();
        session.Store(job);
        session.Delete<OperationStopRequest>(job.Id);
        await session.SaveChangesAsync(CancellationToken.None);
        logger.LogInformation("Operation {Kind} {Id} {Status}: {Done} done, {Events} events", job.Kind, job.Id, job.Status, job.Done, job.Events);
    }
}
