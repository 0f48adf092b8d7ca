using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.Identity;

/// <summary>One entry of a modify request: add (no old value), remove (no new value) or replace.</summary>
public sealed record IdentityChange(string IdentityType, string? OldValue, string? NewValue);

/// <summary>What a modify does: events for the profile, removals on profiles that lose a unique identity, and per-change errors.</summary>
public sealed record ModifyOutcome(
    IReadOnlyList<object> Events,
    IReadOnlyList<(long Mpid, UserIdentityRemoved Removal)> Taken,
    IReadOnlyList<(IdentityChange Change, string Error)> Errors);

/// <summary>
/// Modify (identity.md §7): acts on an existing profile only; <c>old_value</c> null adds, <c>new_value</c> null removes,
/// both replace, equal values change nothing. A unique identity is taken from every other profile holding it (they
/// may be left orphaned). The immutable identity cannot change once set. A key-only caller changes only what no known
/// person holds (<see cref="IdentityAuthorityRules"/>); a placeholder value is recorded as ignored, never linked.
/// </summary>
public static class IdentityModification
{
    public static ModifyOutcome Decide(Profile profile, IReadOnlyList<IdentityChange> changes, IdentityLookup lookup,
        IdentitySettings settings, IdentitySource source, IdentityAuthority authority = IdentityAuthority.Server)
    {
        var events = new List<object>();
        var taken = new List<(long, UserIdentityRemoved)>();
        var errors = new List<(IdentityChange, string)>();
        var current = profile;

        foreach (var change in changes)
        {
            if (change.OldValue == change.NewValue) continue;
            var type = change.IdentityType;

            if (change.NewValue is null)
            {
                if (change.OldValue is { } old && current.HasIdentity(type, old))
                {
                    if (type == settings.ImmutableType) { errors.Add((change, $"{type} is immutable: it cannot be removed.")); continue; }
                    Emit(new UserIdentityRemoved(source.WorkspaceId, type, old, source.At, source.Input, null, source.RequestId));
                }
                continue;
            }

            if (type == settings.ImmutableType && current.UserIdentity(type) is { } set && set.Value != change.NewValue)
            {
                errors.Add((change, $"{type} is immutable: it is set to another value and cannot change."));
                continue;
            }

            var identity = new IdentityKey(type, change.NewValue);
            if (IdentityLinking.Ignored(current, identity, settings, source) is { } ignored) { Emit(ignored); continue; }
            if (!settings.IsMatchable(identity)) continue; // a placeholder, already recorded
            var others = lookup.OwnersOf(identity).Select(o => o.Mpid).Where(m => m != profile.Mpid).Distinct().ToList();
            if (!IdentityAuthorityRules.MayLink(authority, identity, others, lookup, settings)) continue;
            var isDevice = IdentityTypes.FromName(type)?.IsDeviceIdentity ?? false;
            if (isDevice && change.OldValue is { } oldDevice && current.HasIdentity(type, oldDevice))
                Emit(new UserIdentityRemoved(source.WorkspaceId, type, oldDevice, source.At, source.Input, null, source.RequestId));
            if (IdentityLinking.Link(current, identity, settings, source) is { } linked) Emit(linked);

            if (settings.IsUnique(type))
                foreach (var holder in others)
                    taken.Add((holder, new UserIdentityRemoved(source.WorkspaceId, type, change.NewValue, source.At, source.Input, profile.Mpid, source.RequestId)));
        }
        return new ModifyOutcome(events, taken, errors);

        void Emit(object e)
        {
            events.Add(e);
            current = current.Evolve(e);
        }
    }
}
