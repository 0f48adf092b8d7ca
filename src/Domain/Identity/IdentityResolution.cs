namespace EventProfiles.Domain.Identity;

/// <summary>An identity as stored and indexed: type by its Events API name, value as sent.</summary>
public readonly record struct IdentityKey(string Type, string Value)
{
    public override string ToString() => $"{Type}:{Value}";
}

/// <summary>A profile holding an identity, and since when (the most recent link breaks ties).</summary>
public readonly record struct IdentityOwner(long Mpid, DateTimeOffset LinkedAt);

/// <summary>What the identity index says about a batch's identities and about the profiles they point to.</summary>
public sealed record IdentityLookup(
    IReadOnlyDictionary<IdentityKey, IReadOnlyList<IdentityOwner>> Owners,
    IReadOnlyDictionary<long, IReadOnlyList<IdentityKey>> LoginIdentitiesOf,
    IReadOnlySet<long> KnownMpids)
{
    public static readonly IdentityLookup Empty = new(
        new Dictionary<IdentityKey, IReadOnlyList<IdentityOwner>>(), new Dictionary<long, IReadOnlyList<IdentityKey>>(), new HashSet<long>());

    public IReadOnlyList<IdentityOwner> OwnersOf(IdentityKey identity) => Owners.GetValueOrDefault(identity) ?? [];
}

/// <summary>The profile a batch belongs to, and which of its identities that profile may take.</summary>
public sealed record IdentityResolutionResult(long Mpid, bool IsNewProfile, IReadOnlyList<IdentityKey> IdentitiesToLink)
{
    /// <summary>
    /// How many other people hold each identity to link (only those some other person holds; never unique types): what
    /// the merge guards weigh (<see cref="MergeGuards"/>), taken from the lookup the resolution read anyway.
    /// </summary>
    public IReadOnlyDictionary<IdentityKey, int>? OtherHolders { get; init; }
}

/// <summary>
/// Resolves a batch to one profile (identity.md §7, events-api.md §12): the batch's MPID if it is known; else walk
/// the batch's identities in priority order, narrowing the profiles that hold them until one remains (lower-priority
/// identities break ties, then the most recent link), skipping a profile whose login identity contradicts the
/// batch's; else a new profile. A unique identity another profile holds stays there; other identities may be
/// shared (a device used by two people). Placeholder values (<see cref="IdentitySettings.WhyNotMatchable"/>) take no part.
/// </summary>
public static class IdentityResolution
{
    public static IdentityResolutionResult Resolve(
        IReadOnlyList<IdentityKey> batchIdentities,
        long? mpidHint,
        IdentityLookup lookup,
        IdentitySettings settings,
        Func<long> newMpid)
    {
        // Placeholders (an all-zero advertising id, "unknown") would make strangers one person: never match or link on them.
        batchIdentities = batchIdentities.Where(settings.IsMatchable).ToList();
        long? resolved = mpidHint is { } hint && lookup.KnownMpids.Contains(hint) ? hint : null;

        if (resolved is null)
        {
            var batchLogins = batchIdentities.Where(i => settings.IsLogin(i.Type)).ToList();
            resolved = Walk(batchIdentities, lookup, settings,
                mpid => !ContradictsLogin(batchLogins, lookup.LoginIdentitiesOf.GetValueOrDefault(mpid)));
        }

        var isNew = resolved is null;
        var mpid = resolved ?? NewMpid(newMpid);
        var ownImmutable = isNew ? [] : (lookup.LoginIdentitiesOf.GetValueOrDefault(mpid) ?? []).Where(l => l.Type == settings.ImmutableType).ToList();

        var toLink = batchIdentities
            .Distinct()
            .Where(i => !settings.IsUnique(i.Type) || lookup.OwnersOf(i).All(o => o.Mpid == mpid))
            // the immutable identity never takes another value
            .Where(i => !ownImmutable.Any(l => l.Type == i.Type && l.Value != i.Value))
            .ToList();
        return new IdentityResolutionResult(mpid, isNew, toLink) { OtherHolders = MergeGuards.OtherHolders(lookup, toLink, mpid, settings) };
    }

    /// <summary>
    /// Walks the identities in priority order, narrowing the eligible profiles holding them until one remains; lower
    /// priority identities break ties, then the profile most recently linked to one of the identities. Null: none.
    /// </summary>
    public static long? Walk(IReadOnlyList<IdentityKey> identities, IdentityLookup lookup, IdentitySettings settings, Func<long, bool> eligible)
    {
        List<long>? candidates = null;
        foreach (var identity in OrderByPriority(identities, settings.Priority))
        {
            var holders = lookup.OwnersOf(identity).Select(o => o.Mpid).Where(eligible).Distinct().ToList();
            if (holders.Count == 0) continue;
            var narrowed = candidates is null ? holders : candidates.Intersect(holders).ToList();
            if (narrowed.Count > 0) candidates = narrowed;
            if (candidates!.Count == 1) break;
        }
        return candidates?
            .OrderByDescending(mpid => identities.SelectMany(lookup.OwnersOf).Where(o => o.Mpid == mpid).Max(o => o.LinkedAt))
            .First();
    }

    /// <summary>True when the candidate holds a login identity of a type the batch also carries, with another value.</summary>
    public static bool ContradictsLogin(IReadOnlyList<IdentityKey> batchLogins, IReadOnlyList<IdentityKey>? candidateLogins)
    {
        if (batchLogins.Count == 0 || candidateLogins is null || candidateLogins.Count == 0) return false;
        if (batchLogins.Any(candidateLogins.Contains)) return false;
        return batchLogins.Any(b => candidateLogins.Any(c => c.Type == b.Type));
    }

    public static IEnumerable<IdentityKey> OrderByPriority(IReadOnlyList<IdentityKey> identities, IReadOnlyList<IdentityType> priority) =>
        identities
            .Select(i => (Identity: i, Type: IdentityTypes.FromName(i.Type)))
            .OrderBy(x => x.Type is null ? int.MaxValue : IdentityTypes.PriorityOf(x.Type, priority))
            .Select(x => x.Identity);

    public static long NewMpid(Func<long> newMpid)
    {
        long mpid;
        do mpid = newMpid(); while (mpid == 0); // 0 means "no MPID" to the SDKs
        return mpid;
    }
}
