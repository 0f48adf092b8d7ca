using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.Identity;

/// <summary>Where an identity change comes from: workspace, input, time and (for IDSync) the request.</summary>
public sealed record IdentitySource(int WorkspaceId, string Input, DateTimeOffset At, string? RequestId = null);

/// <summary>How a profile takes an identity; shared by ingestion, IDSync and modify so the rules are the same everywhere.</summary>
public static class IdentityLinking
{
    /// <summary>
    /// The event that gives the profile this identity, or null when it already holds it or may not take it. A profile
    /// holds one value per user identity type (a new email replaces the old one); the immutable type is never replaced.
    /// Device identities accumulate (a person has several devices).
    /// </summary>
    public static object? Link(Profile profile, IdentityKey identity, IdentitySettings settings, IdentitySource source)
    {
        if (profile.HasIdentity(identity.Type, identity.Value)) return null;
        if (IdentityTypes.FromName(identity.Type) is { IsDeviceIdentity: false } && profile.UserIdentity(identity.Type) is { } existing)
        {
            if (identity.Type == settings.ImmutableType) return null;
            return new UserIdentityChanged(source.WorkspaceId, identity.Type, existing.Value, identity.Value, source.At, source.Input, source.RequestId);
        }
        return new UserIdentityAdded(source.WorkspaceId, identity.Type, identity.Value, source.At, source.Input, source.RequestId);
    }

    /// <summary>
    /// The event recording that this identity is a placeholder and was not used to match the person, or null when it is
    /// a real identity or the profile already records it (so a device sending an all-zero id on every batch adds it once).
    /// </summary>
    public static UserIdentityIgnored? Ignored(Profile profile, IdentityKey identity, IdentitySettings settings, IdentitySource source) =>
        settings.WhyNotMatchable(identity.Type, identity.Value) is { } reason && !profile.HasIgnored(identity.Type, identity.Value)
            ? new UserIdentityIgnored(source.WorkspaceId, identity.Type, identity.Value, reason, source.At, source.Input, source.RequestId)
            : null;
}
