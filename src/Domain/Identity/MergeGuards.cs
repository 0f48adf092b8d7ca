using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.Identity;

/// <summary>
/// The org's merge guards (issue 21 §4): when linking an identity would look like damage rather than a person, the
/// batch is stored but that identity is not linked, and the person is flagged for an operator. 0 turns a rule off.
/// </summary>
/// <param name="PeoplePerValue">An identity value (of a type that is not unique) held by more than this many people is linked to no one else.</param>
/// <param name="IdentitiesPerTypePerDay">A person gains at most this many identities of one type within a day.</param>
/// <param name="DevicesPerHour">A person (one email or customer id, say) is seen on at most this many new devices within an hour.</param>
public sealed record MergeGuardPolicy(int PeoplePerValue = 5, int IdentitiesPerTypePerDay = 10, int DevicesPerHour = 20)
{
    public static readonly MergeGuardPolicy Default = new();
    public static readonly MergeGuardPolicy Off = new(0, 0, 0);
}

/// <summary>Why a link was held: the stable codes of the API, the events and <c>/metrics</c>.</summary>
public static class MergeHoldReasons
{
    public const string ValueSharedByPeople = "value_shared_by_people";
    public const string IdentitiesPerTypePerDay = "identities_per_type_per_day";
    public const string DevicesPerHour = "devices_per_hour";
    public static readonly IReadOnlyList<string> All = [ValueSharedByPeople, IdentitiesPerTypePerDay, DevicesPerHour];
}

/// <summary>An identity a batch would have linked, held back, and why.</summary>
public sealed record HeldIdentity(string Type, string Value, string Reason);

/// <summary>Linking these identities to the person was held (<see cref="MergeGuards"/>); the batch itself is stored.</summary>
public sealed record MergeHeld(int WorkspaceId, Guid BatchId, string Input, DateTimeOffset At, IReadOnlyList<HeldIdentity> Identities);

/// <summary>An operator accepted the held links: they were linked (those still free) and the flag is cleared.</summary>
public sealed record MergeAccepted(DateTimeOffset At, string By, IReadOnlyList<IdentityKey> Linked, IReadOnlyList<IdentityKey> Skipped);

/// <summary>A held link as the person's profile keeps it until an operator accepts it.</summary>
public sealed record HeldMerge(string Type, string Value, string Reason, DateTimeOffset At, int WorkspaceId, string Input, Guid BatchId);

/// <summary>
/// The merge guards' decision, pure: which of the identities a batch would link are held, from the person's profile
/// (what they gained in the last day and hour, <see cref="ProfileIdentity.AddedAt"/>) and how many other people hold
/// each value (read by the resolver's lookup anyway), so an ordinary batch costs no statement.
/// </summary>
public static class MergeGuards
{
    private static readonly TimeSpan Day = TimeSpan.FromDays(1);
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    /// <summary>
    /// The identities of <paramref name="toLink"/> not to link, with the reason; an identity already held on the profile
    /// stays held (with its first reason) until accepted. Identities the profile holds already are never held.
    /// </summary>
    public static IReadOnlyList<HeldIdentity> Check(Profile profile, IEnumerable<IdentityKey> toLink, IReadOnlyDictionary<IdentityKey, int>? otherHolders,
        IdentitySettings settings, DateTimeOffset at)
    {
        var policy = settings.MergeGuards;
        var held = new List<HeldIdentity>();
        var perType = new Dictionary<string, int>(StringComparer.Ordinal);
        var devices = -1;
        foreach (var identity in toLink.Distinct())
        {
            if (profile.HasIdentity(identity.Type, identity.Value)) continue;
            if (profile.HeldMerges.FirstOrDefault(h => h.Type == identity.Type && h.Value == identity.Value) is { } already)
            {
                held.Add(new HeldIdentity(identity.Type, identity.Value, already.Reason));
                continue;
            }
            var isDevice = IdentityTypes.FromName(identity.Type)?.IsDeviceIdentity ?? false;
            if (!perType.TryGetValue(identity.Type, out var ofType))
                ofType = profile.Identities.Count(i => i.Type == identity.Type && i.AddedAt > at - Day);
            if (devices < 0) devices = profile.Identities.Count(i => IsDevice(i.Type) && i.AddedAt > at - Hour);

            string? reason = null;
            if (policy.PeoplePerValue > 0 && !settings.IsUnique(identity.Type)
                && (otherHolders?.GetValueOrDefault(identity) ?? 0) >= policy.PeoplePerValue)
                reason = MergeHoldReasons.ValueSharedByPeople;
            else if (policy.IdentitiesPerTypePerDay > 0 && ofType >= policy.IdentitiesPerTypePerDay)
                reason = MergeHoldReasons.IdentitiesPerTypePerDay;
            else if (policy.DevicesPerHour > 0 && isDevice && devices >= policy.DevicesPerHour)
                reason = MergeHoldReasons.DevicesPerHour;

            if (reason is not null)
            {
                held.Add(new HeldIdentity(identity.Type, identity.Value, reason));
                continue;
            }
            perType[identity.Type] = ofType + 1; // linked: it counts for the batch's next identities
            if (isDevice) devices++;
        }
        return held;
    }

    /// <summary>
    /// Accepting a person's held links: each held identity is linked as the batch would have linked it, except a unique
    /// identity another person holds by now (skipped: taking it is a merge of two people, not this decision); then
    /// <see cref="MergeAccepted"/> clears the flag. Nothing held: no events.
    /// </summary>
    public static IReadOnlyList<object> Accept(Profile profile, IReadOnlyDictionary<IdentityKey, IReadOnlyList<long>> holdersNow, IdentitySettings settings,
        DateTimeOffset at, string by)
    {
        if (profile.HeldMerges.Count == 0) return [];
        var events = new List<object>();
        var linked = new List<IdentityKey>();
        var skipped = new List<IdentityKey>();
        var current = profile;
        foreach (var hold in profile.HeldMerges)
        {
            var key = new IdentityKey(hold.Type, hold.Value);
            var others = (holdersNow.GetValueOrDefault(key) ?? []).Where(m => m != profile.Mpid).ToList();
            if (settings.IsUnique(hold.Type) && others.Count > 0)
            {
                skipped.Add(key);
                continue;
            }
            if (IdentityLinking.Link(current, key, settings, new IdentitySource(hold.WorkspaceId, hold.Input, at)) is { } link)
            {
                events.Add(link);
                current = current.Evolve(link);
            }
            linked.Add(key);
        }
        events.Add(new MergeAccepted(at, by, linked, skipped));
        return events;
    }

    /// <summary>How many people other than <paramref name="mpid"/> hold each identity (only those some other person holds; not unique types).</summary>
    public static IReadOnlyDictionary<IdentityKey, int>? OtherHolders(IdentityLookup lookup, IEnumerable<IdentityKey> identities, long mpid, IdentitySettings settings)
    {
        Dictionary<IdentityKey, int>? counts = null;
        foreach (var identity in identities)
        {
            if (settings.IsUnique(identity.Type)) continue;
            var others = 0;
            foreach (var owner in lookup.OwnersOf(identity)) if (owner.Mpid != mpid) others++;
            if (others > 0) (counts ??= [])[identity] = others;
        }
        return counts;
    }

    private static bool IsDevice(string type) => IdentityTypes.FromName(type)?.IsDeviceIdentity ?? false;
}
