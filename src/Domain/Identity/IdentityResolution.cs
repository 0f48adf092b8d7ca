namespace EventProfiles.Domain.Identity;

/// <summary>An identity as stored and indexed: type by its Events API name, value as sent.</summary>
public readonly record struct IdentityKey(string Type, string Value)
{
    public override string ToString() => $"{Type}:{Value}";
}

/// <summary>What the identity index says about a batch's identities and about the profiles they point to.</summary>
public sealed record IdentityLookup(
    IReadOnlyDictionary<IdentityKey, long> Owners,
    IReadOnlyDictionary<long, IReadOnlyList<IdentityKey>> LoginIdentitiesOf,
    IReadOnlySet<long> KnownMpids)
{
    public static readonly IdentityLookup Empty = new(
        new Dictionary<IdentityKey, long>(), new Dictionary<long, IReadOnlyList<IdentityKey>>(), new HashSet<long>());
}

/// <summary>The profile a batch belongs to, and which of its identities that profile may take.</summary>
public sealed record IdentityResolutionResult(long Mpid, bool IsNewProfile, IReadOnlyList<IdentityKey> IdentitiesToLink);

/// <summary>
/// Resolves a batch to one profile (identity.md §7, events-api.md §12): the batch's MPID if it is known; else the
/// owner of its highest-priority known identity, skipping a profile whose login identity contradicts the batch's;
/// else a new profile. Identities nobody owns yet go to the resolved profile; identities owned by another profile stay there.
/// </summary>
public static class IdentityResolution
{
    public static IdentityResolutionResult Resolve(
        IReadOnlyList<IdentityKey> batchIdentities,
        long? mpidHint,
        IdentityLookup lookup,
        IReadOnlyCollection<string> loginTypes,
        Func<long> newMpid,
        IReadOnlyList<IdentityType>? priority = null)
    {
        long? resolved = mpidHint is { } hint && lookup.KnownMpids.Contains(hint) ? hint : null;

        if (resolved is null)
        {
            var batchLogins = batchIdentities.Where(i => loginTypes.Contains(i.Type)).ToList();
            foreach (var identity in OrderByPriority(batchIdentities, priority))
            {
                if (!lookup.Owners.TryGetValue(identity, out var owner)) continue;
                if (ContradictsLogin(batchLogins, lookup.LoginIdentitiesOf.GetValueOrDefault(owner))) continue;
                resolved = owner;
                break;
            }
        }

        var isNew = resolved is null;
        var mpid = resolved ?? NewMpid(newMpid);
        var ownLogins = isNew ? [] : (lookup.LoginIdentitiesOf.GetValueOrDefault(mpid) ?? []).Where(l => loginTypes.Contains(l.Type)).ToList();

        var toLink = batchIdentities
            .Distinct()
            .Where(i => !lookup.Owners.TryGetValue(i, out var owner) || owner == mpid)
            // a login identity never replaces another value of its type (it is immutable once set)
            .Where(i => !ownLogins.Any(l => l.Type == i.Type && l.Value != i.Value))
            .ToList();
        return new IdentityResolutionResult(mpid, isNew, toLink);
    }

    /// <summary>True when the candidate holds a login identity of a type the batch also carries, with another value.</summary>
    private static bool ContradictsLogin(IReadOnlyList<IdentityKey> batchLogins, IReadOnlyList<IdentityKey>? candidateLogins)
    {
        if (batchLogins.Count == 0 || candidateLogins is null || candidateLogins.Count == 0) return false;
        if (batchLogins.Any(candidateLogins.Contains)) return false;
        return batchLogins.Any(b => candidateLogins.Any(c => c.Type == b.Type));
    }

    private static IEnumerable<IdentityKey> OrderByPriority(IReadOnlyList<IdentityKey> identities, IReadOnlyList<IdentityType>? priority) =>
        identities
            .Select(i => (Identity: i, Type: IdentityTypes.FromName(i.Type)))
            .OrderBy(x => x.Type is null ? int.MaxValue : IdentityTypes.PriorityOf(x.Type, priority))
            .Select(x => x.Identity);

    private static long NewMpid(Func<long> newMpid)
    {
        long mpid;
        do mpid = newMpid(); while (mpid == 0); // 0 means "no MPID" to the SDKs
        return mpid;
    }
}
