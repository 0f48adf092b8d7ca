namespace EventProfiles.Domain.Identity;

// Every identity change is a fact on the person's stream, with when and through which input (and, for IDSync,
// which request), so who-is-who can be replayed and explained.

/// <summary>The person now holds this identity (type by its Events API name, e.g. <c>customer_id</c>, <c>ios_idfv</c>).</summary>
public sealed record UserIdentityAdded(int WorkspaceId, string IdentityType, string Value, DateTimeOffset At, string Input, string? RequestId = null);

/// <summary>A user identity of the person took a new value (one value per user identity type).</summary>
public sealed record UserIdentityChanged(
    int WorkspaceId, string IdentityType, string OldValue, string NewValue, DateTimeOffset At, string Input, string? RequestId = null);

/// <summary>
/// The person no longer holds this identity: removed by a modify request, or taken by another profile because the
/// type is unique (<paramref name="TakenBy"/> is then that profile's MPID).
/// </summary>
public sealed record UserIdentityRemoved(
    int WorkspaceId, string IdentityType, string Value, DateTimeOffset At, string Input, long? TakenBy = null, string? RequestId = null);

/// <summary>
/// The person sent this identity but it is a placeholder (an all-zero advertising id, <c>unknown</c>, …), so it was not
/// used to match or link anyone (<paramref name="Reason"/> says why). Recorded once per profile and value.
/// </summary>
public sealed record UserIdentityIgnored(
    int WorkspaceId, string IdentityType, string Value, string Reason, DateTimeOffset At, string Input, string? RequestId = null);
