namespace EventProfiles.Domain.Identity;

/// <summary>The identity strategies of identity.md §7.</summary>
public enum IdentityStrategy
{
    /// <summary>A new login identity seen while anonymous joins the anonymous profile (same MPID). The default.</summary>
    ProfileConversion,
    /// <summary>A new login identity gets a new MPID; the app may alias the anonymous one to it.</summary>
    ProfileLink,
    /// <summary>A new login identity gets a new MPID; anonymous data is not carried; logout returns to the device's previous anonymous profile.</summary>
    ProfileIsolation,
}

/// <summary>
/// How identities make people, for the whole org (one org is one identity scope): the strategy, which identity
/// types are login identities, which are unique (only one profile may hold a value), the immutable type used by the
/// Profile API, and the priority that resolution walks.
/// </summary>
public sealed record IdentitySettings(
    IdentityStrategy Strategy,
    string ImmutableType,
    IReadOnlySet<string> LoginTypes,
    IReadOnlySet<string> UniqueTypes,
    IReadOnlyList<IdentityType> Priority)
{
    /// <summary>Profile conversion; customer id immutable, login and unique; email unique (so concurrent first sightings make one person).</summary>
    public static readonly IdentitySettings Default = Create(
        IdentityStrategy.ProfileConversion, IdentityTypes.CustomerId.Name, [], [IdentityTypes.Email.Name], IdentityTypes.DefaultPriority);

    /// <summary>The immutable type is always a login and a unique type (identity.md §7).</summary>
    public static IdentitySettings Create(
        IdentityStrategy strategy, string immutableType, IEnumerable<string> loginTypes, IEnumerable<string> uniqueTypes, IReadOnlyList<IdentityType> priority) =>
        new(strategy, immutableType,
            loginTypes.Append(immutableType).ToHashSet(StringComparer.Ordinal),
            uniqueTypes.Append(immutableType).ToHashSet(StringComparer.Ordinal),
            priority);

    public bool IsLogin(string type) => LoginTypes.Contains(type);

    public bool IsUnique(string type) => UniqueTypes.Contains(type);
}
