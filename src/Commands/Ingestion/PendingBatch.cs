using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Workspaces;

namespace EventProfiles.Commands.Ingestion;

public sealed class IngestionOptions
{
    /// <summary>
    /// Most writer transactions at once. Every writer takes its group from one queue (<see cref="WriterHandOff{T}"/>);
    /// a second group starts beside one in flight only once <see cref="OverlapAt"/> batches wait, so low concurrency
    /// keeps one large group and only load runs groups side by side.
    /// </summary>
    public int Writers { get; set; } = 2;
    /// <summary>Batches that must be waiting before a writer starts a group while another group is in flight.</summary>
    public int OverlapAt { get; set; } = 32;
    /// <summary>Most batches committed in one transaction.</summary>
    public int MaxGroupSize { get; set; } = 500;
    /// <summary>Batches between request and commit; when full, requests wait (back-pressure), at most <see cref="QueueWaitMs"/>.</summary>
    public int QueueCapacity { get; set; } = 20_000;
    /// <summary>How long a request waits for room in the queue before it is answered 429 with <c>Retry-After</c>.</summary>
    public int QueueWaitMs { get; set; } = 5_000;
    /// <summary>The <c>Retry-After</c> (seconds) of a 429 over capacity.</summary>
    public int RetryAfterSeconds { get; set; } = 2;
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
    /// <summary>The profile the resolver gave it and the identities it claims until it commits or fails.</summary>
    internal IdentityClaim? Claim { get; set; }
    internal IdentityResolutionResult? Resolution => Claim?.Resolution;
    /// <summary>The identity rules the resolver used for it; its writer decides and indexes by the same ones.</summary>
    internal IdentitySettings? Rules { get; set; }
    internal (string Input, string Id)? RequestKey =>
        Parsed.Batch.SourceRequestId is { Length: > 0 } id ? (Input.Name, id) : null;

    /// <summary>The batch as the group decision sees it, once resolved.</summary>
    internal GroupedBatch ToGrouped() => new(Parsed, Input, Channel, BatchId, ReceivedAt, IsHistorical, Resolution!);
}

/// <summary>The service is stopping and takes no new batches; the client should retry.</summary>
public sealed class ShuttingDownException() : Exception("EventProfiles is shutting down and accepts no new batches.");

/// <summary>The queue stayed full for as long as a request may wait: nothing of the request was queued; the client should retry later (429).</summary>
public sealed class OverCapacityException() : Exception("EventProfiles is over capacity and queued nothing of this request.");

public enum IngestOutcomeKind { Stored, Duplicate, Failed }

public sealed record IngestOutcome(IngestOutcomeKind Kind, long Mpid, Exception? Error = null);

/// <summary>Request ids on their way to the database: a repeat of one is answered as the first is answered.</summary>
internal sealed class InFlightRequests
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(string, string), PendingBatch> _requests = new();

    public bool TryTake((string, string) key, PendingBatch batch, out PendingBatch? original)
    {
        lock (_lock)
        {
            if (_requests.TryGetValue(key, out original) && original != batch) return false;
            _requests[key] = batch;
            original = null;
            return true;
        }
    }

    public void Release(PendingBatch batch)
    {
        if (batch.RequestKey is not { } key) return;
        lock (_lock)
            if (_requests.TryGetValue(key, out var holder) && holder == batch) _requests.Remove(key);
    }
}
