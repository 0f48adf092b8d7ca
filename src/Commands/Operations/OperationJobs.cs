using EventProfiles.Domain.Operations;
using Marten;
using Npgsql;

namespace EventProfiles.Commands.Operations;

/// <summary>A request to stop a job, kept apart from the job so the runner's progress writes never overwrite it.</summary>
public sealed class OperationStopRequest
{
    public Guid Id { get; set; }
    /// <summary><see cref="OperationStatuses.Paused"/> (resumable) or <see cref="OperationStatuses.Cancelled"/>.</summary>
    public string As { get; set; } = OperationStatuses.Paused;
}

/// <summary>A job may not start: another of its kind is open for the workspace.</summary>
public sealed class OperationConflictException(OperationJob open)
    : Exception($"A {open.Kind} job is already {open.Status} for this workspace ({open.Id}): wait for it, or cancel it.")
{
    public OperationJob Open { get; } = open;
}

/// <summary>Creating, stopping, resuming and claiming jobs; shared by the admin API, the command line and the runner.</summary>
public static class OperationJobs
{
    public const string DocumentAlias = "operation_job";
    /// <summary>A running job without a heartbeat for this long lost its node: another runner takes it over.</summary>
    public static readonly TimeSpan HeartbeatTimeout = TimeSpan.FromMinutes(2);

    public static void AddOperationDocuments(this StoreOptions opts)
    {
        opts.Schema.For<OperationJob>().DocumentAlias(DocumentAlias).Index(j => j.Status).Index(j => j.Kind);
        opts.Schema.For<OperationStopRequest>().DocumentAlias("operation_stop");
    }

    /// <summary>
    /// Queues a job, unless one of the same kind is still open (queued, running or paused) for the workspace: one at a time
    /// per kind and workspace. The check and the insert run under a transaction-scoped advisory lock, so two requests
    /// cannot both pass it.
    /// </summary>
    public static async Task<OperationJob> QueueAsync(IDocumentStore store, string kind, int workspaceId, Dictionary<string, string> parameters,
        string requestedBy, DateTimeOffset now, CancellationToken ct, string status = OperationStatuses.Queued)
    {
        await using var session = store.LightweightSession();
        await session.BeginTransactionAsync(ct);
        await using (var command = new NpgsqlCommand("select pg_advisory_xact_lock(hashtext($1))", (NpgsqlConnection)session.Connection!))
        {
            command.Parameters.AddWithValue($"ep-job:{kind}:{workspaceId}");
            await command.ExecuteNonQueryAsync(ct);
        }
        var open = await session.Query<OperationJob>()
            .Where(j => j.Kind == kind && j.WorkspaceId == workspaceId && (j.Status == OperationStatuses.Queued || j.Status == OperationStatuses.Running || j.Status == OperationStatuses.Paused))
            .FirstOrDefaultAsync(ct);
        if (open is not null) throw new OperationConflictException(open);
        var job = new OperationJob
        {
            Id = Guid.CreateVersion7(), Kind = kind, WorkspaceId = workspaceId, Parameters = parameters, RequestedBy = requestedBy, CreatedAt = now,
            Status = status,
        };
        session.Store(job);
        await session.SaveChangesAsync(ct);
        return job;
    }

    /// <summary>
    /// Stops a job: a queued or paused one at once, a running one at its next checkpoint (its runner sees the request).
    /// <paramref name="stopAs"/> paused keeps it resumable; cancelled ends it (its finished work stays done).
    /// </summary>
    public static async Task<OperationJob?> StopAsync(IDocumentStore store, Guid id, string stopAs, DateTimeOffset now, CancellationToken ct)
    {
        await using var session = store.LightweightSession();
        var job = await session.LoadAsync<OperationJob>(id, ct);
        if (job is null) return null;
        if (job.Status is OperationStatuses.Queued or OperationStatuses.Paused)
        {
            job.Status = stopAs;
            if (stopAs == OperationStatuses.Cancelled) job.FinishedAt = now;
            session.Store(job);
        }
        else if (job.Status == OperationStatuses.Running)
            session.Store(new OperationStopRequest { Id = id, As = stopAs });
        await session.SaveChangesAsync(ct);
        return job;
    }

    /// <summary>Queues a paused or failed job again; it continues from its cursor.</summary>
    public static async Task<OperationJob?> ResumeAsync(IDocumentStore store, Guid id, CancellationToken ct)
    {
        await using var session = store.LightweightSession();
        var job = await session.LoadAsync<OperationJob>(id, ct);
        if (job is null || job.Status is not (OperationStatuses.Paused or OperationStatuses.Failed)) return job;
        job.Status = OperationStatuses.Queued;
        job.Error = null;
        job.FinishedAt = null;
        session.Store(job);
        session.Delete<OperationStopRequest>(id);
        await session.SaveChangesAsync(ct);
        return job;
    }

    /// <summary>Takes the oldest queued job (or a running one whose node stopped beating) for this runner, or none.</summary>
    public static async Task<OperationJob?> ClaimAsync(IDocumentStore store, DateTimeOffset now, CancellationToken ct)
    {
        await using var session = store.LightweightSession();
        await session.BeginTransactionAsync(ct);
        var table = $"{store.Options.DatabaseSchemaName}.mt_doc_{DocumentAlias}";
        Guid? id = null;
        await using (var command = new NpgsqlCommand(
            $"select id from {table} where data->>'Status' = 'queued' or (data->>'Status' = 'running' and (data->>'HeartbeatAt')::timestamptz < $1) " +
            "order by data->>'CreatedAt' limit 1 for update skip locked", (NpgsqlConnection)session.Connection!))
        {
            command.Parameters.AddWithValue(now - HeartbeatTimeout);
            if (await command.ExecuteScalarAsync(ct) is Guid found) id = found;
        }
        if (id is null) return null;
        var job = (await session.LoadAsync<OperationJob>(id.Value, ct))!;
        job.Status = OperationStatuses.Running;
        job.StartedAt ??= now;
        job.HeartbeatAt = now;
        session.Store(job);
        await session.SaveChangesAsync(ct);
        return job;
    }
}
