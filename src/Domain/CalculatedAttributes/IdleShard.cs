namespace EventProfiles.Domain.CalculatedAttributes;

/// <summary>
/// Where the calculations shard must start when it runs again after idling: never before where it stopped (what it
/// applied stays applied), never after the earliest event an active definition takes from the live side (its
/// <see cref="ActiveDefinition.LiveAfterSequence"/>; everything up to there is its initialisation's), and otherwise
/// where its position was moved to while idle.
/// </summary>
public static class IdleShard
{
    public static long ResumeAt(long stoppedAt, long position, IEnumerable<long> liveAfter)
    {
        var floor = liveAfter.DefaultIfEmpty(long.MaxValue).Min();
        return Math.Max(stoppedAt, Math.Min(position, floor));
    }
}
