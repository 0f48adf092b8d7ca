using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Consent;
using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.Privacy;

/// <summary>
/// A workspace erased what it held of the person (issue 14): its attributes, consent, devices and install attribution
/// are gone from the profile, and the person is no longer known there until the workspace receives data of them again.
/// Recorded on the stream so that a rebuild folds to the same profile although the identity events that made the person
/// known there stay (identities belong to the person, not to a workspace).
/// </summary>
public sealed record WorkspaceDataErased(int WorkspaceId, DateTimeOffset At);

/// <summary>How far an erasure asked for by one workspace reaches for one person.</summary>
public enum ErasureReach
{
    /// <summary>The person has no data in the workspace: the request does not match them.</summary>
    None,
    /// <summary>Other workspaces hold data of the person: only the workspace's part goes; identities and the stream stay.</summary>
    Workspace,
    /// <summary>No other workspace holds data of the person: everything goes, the stream included.</summary>
    Person,
}

/// <summary>
/// The pure rules of a workspace-scoped data-subject request: whom a request of workspace W matches, how far its erasure
/// reaches, and which of a person's events are W's data.
/// </summary>
public static class WorkspaceErasure
{
    /// <summary>A request from workspace W matches only people who have data in W.</summary>
    public static bool Matches(Profile profile, int workspaceId) => profile.IsKnownIn(workspaceId);

    public static ErasureReach Reach(Profile profile, int workspaceId) =>
        !Matches(profile, workspaceId) ? ErasureReach.None
        : profile.Workspaces.Keys.All(w => w == workspaceId) ? ErasureReach.Person
        : ErasureReach.Workspace;

    /// <summary>
    /// Whether a stored event is data the person gave workspace W. Identity events (the person's, org-wide), aliases,
    /// opt-out and limit-ad-tracking (person-wide preferences: erasing one workspace's copy must not undo an opt-out the
    /// other workspaces obey) and the stream's life-cycle events are not.
    /// </summary>
    public static bool IsWorkspaceData(object @event, int workspaceId) => @event switch
    {
        BatchReceived e => e.WorkspaceId == workspaceId,
        EventCaptured e => e.WorkspaceId == workspaceId,
        UserAttributeSet e => e.WorkspaceId == workspaceId,
        UserAttributeRemoved e => e.WorkspaceId == workspaceId,
        ConsentStateChanged e => e.WorkspaceId == workspaceId,
        DeviceSeen e => e.WorkspaceId == workspaceId,
        InstallAttributed e => e.WorkspaceId == workspaceId,
        CalculatedAttributeSeeded e => e.WorkspaceId == workspaceId,
        Identity.UserIdentityIgnored e => e.WorkspaceId == workspaceId, // the placeholder value as W received it
        _ => false,
    };
}
