using System.Text.Json;

namespace EventProfiles.Domain.Profiles;

// Past-tense facts on a person's stream (keyed by MPID). Once stored, an event is a contract:
// rename only through an alias or upcaster. Every event carries its own time and, where data is
// workspace-scoped, its workspace.

/// <summary>First event of every stream.</summary>
public sealed record ProfileCreated(long Mpid, DateTimeOffset At);

/// <summary>
/// One accepted batch: who sent it, when, and the batch itself without its <c>events</c> array, verbatim,
/// so every field a client sent is kept even when we do not model it. The batch's events follow as <see cref="EventCaptured"/>.
/// </summary>
public sealed record BatchReceived(
    Guid BatchId,
    int WorkspaceId,
    string Input,
    string Environment,
    DateTimeOffset ReceivedAt,
    string? SourceRequestId,
    bool IsHistorical,
    JsonElement Batch);

/// <summary>
/// One event of a batch, with its own timestamp and its complete <c>data</c> object. <paramref name="CopiedFrom"/> is
/// set on copies an alias made: the MPID the event was captured for.
/// </summary>
public sealed record EventCaptured(
    Guid BatchId,
    int WorkspaceId,
    string EventType,
    DateTimeOffset Timestamp,
    string? SourceMessageId,
    string? EventName,
    JsonElement Data,
    long? CopiedFrom = null);

/// <summary>A user attribute took a value. <paramref name="EffectiveAt"/> orders competing writes: newest wins.</summary>
public sealed record UserAttributeSet(int WorkspaceId, string Name, JsonElement Value, DateTimeOffset EffectiveAt, string Input);

public sealed record UserAttributeRemoved(int WorkspaceId, string Name, DateTimeOffset EffectiveAt, string Input);

/// <summary>A device of the person sent data to a workspace for the first time, or its details changed.</summary>
public sealed record DeviceSeen(
    int WorkspaceId,
    string DeviceKey,
    DateTimeOffset At,
    string? DeviceApplicationStamp,
    IReadOnlyDictionary<string, string> Identities,
    string? Platform,
    string? AttAuthorizationStatus,
    DateTimeOffset? AttStatusAt,
    JsonElement? DeviceInfo);

/// <summary>Install attribution (a custom event of type <c>attribution</c> named <c>attribution</c>, events-api.md §9.2).</summary>
public sealed record InstallAttributed(int WorkspaceId, string? DeviceKey, string Publisher, string Campaign, DateTimeOffset At);

public sealed record OptOutChanged(int WorkspaceId, bool IsOptedOut, DateTimeOffset At);

public sealed record LimitAdTrackingChanged(int WorkspaceId, bool LimitAdTracking, DateTimeOffset At);

/// <summary>The person sent nothing within the profile lifetime: out of enrichment, audiences and the Profile API (retention-and-privacy.md R3).</summary>
public sealed record ProfileAgedOut(DateTimeOffset At, DateTimeOffset LastStoredAt);

/// <summary>
/// An aged-out person was seen again (a batch, an IDSync call, a seed): the profile is live again and starts afresh —
/// MPID and identities kept, nothing else of the real-time state from before (issue 16 §2). Whatever computes from the
/// stream (calculated attributes, memberships) treats it as a fresh start too.
/// </summary>
public sealed record ProfileReactivated(DateTimeOffset At, DateTimeOffset AgedOutAt);
