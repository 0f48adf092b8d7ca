using System.Globalization;

namespace EventProfiles.Domain.Identity;

/// <summary>
/// An alias request (identity.md §9): copy the source's events of a time window to the destination, the source's
/// first seen and install attribution with them. Identities, attributes, calculated attributes and consent are not copied.
/// </summary>
public sealed record AliasRequest(long SourceMpid, long DestinationMpid, DateTimeOffset Start, DateTimeOffset End)
{
    /// <summary>The oldest events an alias copies.</summary>
    public static readonly TimeSpan MaxWindow = TimeSpan.FromDays(90);

    /// <summary>Same request, same id: repeating a request does nothing new.</summary>
    public string Id => string.Create(CultureInfo.InvariantCulture,
        $"{SourceMpid}>{DestinationMpid}:{Start.ToUnixTimeMilliseconds()}-{End.ToUnixTimeMilliseconds()}");

    /// <summary>The window actually copied: no older than <see cref="MaxWindow"/> before the request.</summary>
    public DateTimeOffset EffectiveStart(DateTimeOffset requestedAt) =>
        Start < requestedAt - MaxWindow ? requestedAt - MaxWindow : Start;

    public bool Overlaps(AliasRequest other) => Start <= other.End && other.Start <= End;
}

public static class AliasRules
{
    /// <summary>
    /// Why an accepted alias is not carried out, or null: a source may not alias an overlapping window twice, a source
    /// may never have been a destination, a destination may never have been a source (identity.md §9).
    /// </summary>
    public static string? Rejection(AliasRequest request, IEnumerable<AliasRequest> earlier)
    {
        foreach (var other in earlier)
        {
            if (other.SourceMpid == request.SourceMpid && other.DestinationMpid != request.DestinationMpid && other.Overlaps(request))
                return "the source was already aliased for an overlapping window";
            if (other.DestinationMpid == request.SourceMpid) return "the source has been an alias destination";
            if (other.SourceMpid == request.DestinationMpid) return "the destination has been an alias source";
        }
        return null;
    }
}

/// <summary>On the source: its events of the window were copied to the destination.</summary>
public sealed record ProfileAliasedTo(long DestinationMpid, string AliasId, DateTimeOffset WindowStart, DateTimeOffset WindowEnd, DateTimeOffset At);

/// <summary>On the destination: events of the source were copied here; the source's first seen is now this profile's.</summary>
public sealed record ProfileAliasedFrom(
    long SourceMpid, string AliasId, DateTimeOffset WindowStart, DateTimeOffset WindowEnd, int EventsCopied, DateTimeOffset SourceFirstSeenAt, DateTimeOffset At);
