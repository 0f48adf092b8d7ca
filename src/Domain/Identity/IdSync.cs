namespace EventProfiles.Domain.Identity;

/// <summary>The IDSync calls that answer with a profile (identity.md §1); modify is <see cref="IdentityModification"/>.</summary>
public enum IdSyncCall { Identify, Search, Login, Logout }

/// <param name="Authority">How the caller authenticated: a key-only (web) caller cannot take identities from known people.</param>
public sealed record IdSyncRequest(IdSyncCall Call, IReadOnlyList<IdentityKey> Known, long? PreviousMpid,
    IdentityAuthority Authority = IdentityAuthority.Server);

/// <summary>
/// The profile an IDSync call returns and what it takes: identities to link, unique identities taken from other
/// profiles, and the answer's <c>matched_identities</c> (request identities the profile already held) and <c>is_logged_in</c>.
/// </summary>
public sealed record IdSyncOutcome(
    long Mpid,
    bool IsNewProfile,
    IReadOnlyList<IdentityKey> Matched,
    IReadOnlyList<IdentityKey> ToLink,
    IReadOnlyList<(IdentityKey Identity, long From)> ToTake,
    bool IsLoggedIn)
{
    /// <summary>Request identities that are placeholders: not used to find, link or take anything.</summary>
    public IReadOnlyList<IdentityKey> Ignored { get; init; } = [];
}

/// <summary>
/// IDSync by strategy (identity.md §7). A profile holding a login identity is returned only to a request carrying one
/// of its login identities. Unmatched: under profile conversion a request with a new login identity converts the
/// previous anonymous profile (same MPID); otherwise, and under profile link and isolation, a new profile. Logout gives a
/// new anonymous profile (isolation: the device's most recent anonymous profile). Search never creates or links.
/// A unique identity assigned to the returned profile is taken from any other profile holding it — except by a
/// key-only caller, which links an identity only where no known person holds it (<see cref="IdentityAuthorityRules"/>).
/// Placeholder values (all-zero ids, <c>unknown</c>, …) take no part at all.
/// </summary>
public static class IdSync
{
    public static IdSyncOutcome? Decide(IdSyncRequest request, IdentityLookup lookup, IdentitySettings settings, Func<long> newMpid)
    {
        var known = request.Known.Distinct().Where(settings.IsMatchable).ToList();
        var ignored = request.Known.Distinct().Where(i => !settings.IsMatchable(i)).ToList();
        var requestLogins = known.Where(i => settings.IsLogin(i.Type)).ToList();
        bool IsAnonymous(long mpid) => (lookup.LoginIdentitiesOf.GetValueOrDefault(mpid) ?? []).Count == 0;
        bool MayReturn(long mpid) => IsAnonymous(mpid) || lookup.LoginIdentitiesOf[mpid].Any(requestLogins.Contains);

        long? mpid;
        if (request.Call == IdSyncCall.Logout)
        {
            mpid = settings.Strategy == IdentityStrategy.ProfileIsolation
                ? IdentityResolution.Walk(known.Where(IsDevice).ToList(), lookup, settings, IsAnonymous)
                : null;
        }
        else
        {
            mpid = IdentityResolution.Walk(known, lookup, settings, MayReturn);
            if (request.Call == IdSyncCall.Search)
                return mpid is { } found ? Outcome(found, false, [], []) : null;

            var previous = request.PreviousMpid is { } p && lookup.KnownMpids.Contains(p) ? p : (long?)null;
            if (mpid is null && requestLogins.Count > 0 && previous is { } anonymous && IsAnonymous(anonymous)
                && settings.Strategy == IdentityStrategy.ProfileConversion)
                mpid = anonymous; // the anonymous visitor becomes known, same MPID
        }

        var isNew = mpid is null;
        var resolved = mpid ?? IdentityResolution.NewMpid(newMpid);
        var ownImmutable = (lookup.LoginIdentitiesOf.GetValueOrDefault(resolved) ?? []).Where(l => l.Type == settings.ImmutableType).ToList();
        var toLink = new List<IdentityKey>();
        var toTake = new List<(IdentityKey, long)>();
        foreach (var identity in known)
        {
            var holders = lookup.OwnersOf(identity).Select(o => o.Mpid).ToList();
            if (holders.Contains(resolved)) continue;
            if (ownImmutable.Any(l => l.Type == identity.Type && l.Value != identity.Value)) continue; // immutable: never replaced
            if (!IdentityAuthorityRules.MayLink(request.Authority, identity, holders, lookup, settings)) continue;
            toLink.Add(identity);
            if (settings.IsUnique(identity.Type)) toTake.AddRange(holders.Select(h => (identity, h)));
        }
        return Outcome(resolved, isNew, toLink, toTake);

        IdSyncOutcome Outcome(long m, bool created, List<IdentityKey> link, List<(IdentityKey, long)> take)
        {
            var matched = known.Where(i => lookup.OwnersOf(i).Any(o => o.Mpid == m)).ToList();
            var heldLogins = (lookup.LoginIdentitiesOf.GetValueOrDefault(m) ?? []).Concat(link.Where(i => settings.IsLogin(i.Type)));
            return new IdSyncOutcome(m, created, matched, link, take, heldLogins.Any(requestLogins.Contains)) { Ignored = ignored };
        }
    }

    private static bool IsDevice(IdentityKey identity) => IdentityTypes.FromName(identity.Type)?.IsDeviceIdentity ?? false;
}
