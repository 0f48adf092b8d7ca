namespace EventProfiles.Domain.Operations;

/// <summary>The long operations an operator runs (replaying projections, data replay, export, import).</summary>
public static class OperationKinds
{
    /// <summary>Rebuild read models from the events: <c>projection</c> = profiles, calculations or all; optional <c>mpid</c>.</summary>
    public const string Rebuild = "rebuild";
    /// <summary>Data replay: the stored batches of one workspace/input in a time range, to one connection's output, marked as replayed.</summary>
    public const string Replay = "replay";
    /// <summary>A workspace's people and their events as JSON Lines.</summary>
    public const string Export = "export";
    /// <summary>JSON Lines from an export, appended to an (empty) database.</summary>
    public const string Import = "import";
    /// <summary>A workspace's people written again to a warehouse output (<c>output</c>): profiles and a baseline of history rows.</summary>
    public const string WarehouseResync = "warehouse_resync";

    public static readonly IReadOnlyList<string> All = [Rebuild, Replay, Export, Import, WarehouseResync];
}

public static class OperationStatuses
{
    public const string Queued = "queued";
    public const string Running = "running";
    /// <summary>Stopped on request; resuming continues from the job's cursor.</summary>
    public const string Paused = "paused";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static bool IsOpen(string status) => status is Queued or Running or Paused;
}

/// <summary>
/// One operation as a durable job: what to do, how far it got (<see cref="Cursor"/>: the last unit of work finished,
/// so a resumed or restarted job never redoes it), and its outcome. Any node's runner may claim a queued job; a running
/// job whose heartbeat stopped (its node died) is claimed again and continues from its cursor.
/// </summary>
public sealed class OperationJob
{
    public Guid Id { get; set; }
    public string Kind { get; set; } = "";
    /// <summary>The workspace it concerns; 0 for org-wide operations (rebuilds).</summary>
    public int WorkspaceId { get; set; }
    public Dictionary<string, string> Parameters { get; set; } = [];
    public string Status { get; set; } = OperationStatuses.Queued;
    public string RequestedBy { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    /// <summary>Last sign of life of the runner working on it.</summary>
    public DateTimeOffset? HeartbeatAt { get; set; }
    public string? Cursor { get; set; }
    /// <summary>Units done (people, batches, lines) and the total when known.</summary>
    public long Done { get; set; }
    public long? Total { get; set; }
    /// <summary>Events read or written so far (for rates).</summary>
    public long Events { get; set; }
    /// <summary>Running time of the finished parts, so rates stay right across pauses.</summary>
    public double ElapsedSeconds { get; set; }
    public bool StopRequested { get; set; }
    /// <summary>What the stop request asked for: paused (resumable) or cancelled.</summary>
    public string? StopAs { get; set; }
    public string? Error { get; set; }
    /// <summary>Where the output went (an export's file), or a summary.</summary>
    public string? Result { get; set; }

    public string Parameter(string name) => Parameters.GetValueOrDefault(name) ?? "";

    public double? Percent => Total is > 0 ? Math.Round(100.0 * Done / Total.Value, 1) : Status == OperationStatuses.Completed ? 100 : null;
}
