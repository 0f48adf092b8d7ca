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
    // Declared before Default, which reads it while the type initialises.
    /// <summary>
    /// Placeholder values SDKs and careless integrations send when they have no real identity; compared trimmed and
    /// case-insensitively. Two strangers sending the same placeholder must not become one person.
    /// </summary>
    public static readonly IReadOnlyList<string> DefaultIgnoredValues =
        ["", "null", "undefined", "0", "-1", "unknown", "[object Object]", "NaN"];

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

    /// <summary>The org's placeholder values (see <see cref="DefaultIgnoredValues"/>); configurable per org.</summary>
    public IReadOnlySet<string> IgnoredValues { get; init; } = IgnoredSet(DefaultIgnoredValues);

    /// <summary>Also ignore any value made only of zeros (and dashes): the all-zero IDFA/IDFV/GAID an opted-out device reports, an all-zero Android ID.</summary>
    public bool IgnoreAllZeroValues { get; init; } = true;

    /// <summary>The org's merge guards (<see cref="MergeGuardPolicy"/>): links that look like damage are held for an operator.</summary>
    public MergeGuardPolicy MergeGuards { get; init; } = MergeGuardPolicy.Default;

    public static IReadOnlySet<string> IgnoredSet(IEnumerable<string> values) =>
        values.Select(v => v.Trim()).ToHashSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Why this value may not be used to match or link people, or null when it may. The one rule every matcher
    /// (ingestion, IDSync, modify, the identity index, data-subject requests) applies; the value itself is still kept
    /// where it was sent (the batch, the device record).
    /// </summary>
    public string? WhyNotMatchable(string type, string value)
    {
        var trimmed = value.Trim();
        if (trimmed.Length == 0) return "an empty value identifies nobody";
        if (IgnoreAllZeroValues && IsAllZero(trimmed)) return "an all-zero id is a placeholder (a device that does not share its id), not a person";
        if (IgnoredValues.Contains(trimmed)) return $"\"{trimmed}\" is one of the org's placeholder values, not a person";
        return null;
    }

    public bool IsMatchable(string type, string value) => WhyNotMatchable(type, value) is null;

    public bool IsMatchable(IdentityKey identity) => IsMatchable(identity.Type, identity.Value);

    private static bool IsAllZero(string value)
    {
        var zeros = 0;
        foreach (var c in value)
        {
            if (c == '0') zeros++;
            else if (c != '-') return false;
        }
        return zeros > 0;
    }
}
