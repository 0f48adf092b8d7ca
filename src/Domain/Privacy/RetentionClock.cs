using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.Privacy;

/// <summary>
/// When a profile's retention period counts from (retention-and-privacy.md R1, issue 16 §3): the last time a message
/// batch updated it — or, for a profile aliased to another, the aliased-to profile's update time when that is later, so
/// an alias source lives as long as its destination. Followed along chains (A aliased to B aliased to C).
/// </summary>
public static class RetentionClock
{
    /// <summary>The profiles this one was aliased to (as the source).</summary>
    public static IEnumerable<long> DestinationsOf(Profile profile) =>
        profile.Aliases.Where(a => a.SourceMpid == profile.Mpid && a.DestinationMpid != profile.Mpid).Select(a => a.DestinationMpid).Distinct();

    /// <param name="known">The destinations (and theirs) by MPID; one that is gone (erased) no longer keeps anyone.</param>
    public static DateTimeOffset LastUpdate(Profile profile, IReadOnlyDictionary<long, Profile> known)
    {
        var latest = profile.LastStoredAt;
        var visited = new HashSet<long> { profile.Mpid };
        var next = new Queue<long>(DestinationsOf(profile));
        while (next.TryDequeue(out var mpid))
        {
            if (!visited.Add(mpid) || !known.TryGetValue(mpid, out var destination)) continue;
            if (destination.LastStoredAt > latest) latest = destination.LastStoredAt;
            foreach (var further in DestinationsOf(destination)) next.Enqueue(further);
        }
        return latest;
    }
}
