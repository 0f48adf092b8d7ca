namespace EventProfiles.Domain.CalculatedAttributes;

/// <summary>
/// What the calculations shard of the async daemon fetches: every event type a calculated attribute or real-time audience
/// can use, or, while nothing at all is being calculated, none of them (the shard keeps running and keeps up with the
/// high-water mark, reading no events). The shard reads by an event-type filter fixed when its agent starts, so a change
/// of what it fetches is a restart of the agent; this record decides when, and from where the widened shard reads again.
/// </summary>
/// <param name="FetchesEverything">The shard's agent was started with every type (the safe default at start).</param>
/// <param name="NarrowedAt">Where the shard stood when it stopped fetching: everything up to here was applied by a full fetch.</param>
/// <param name="IdleConfirmedAt">
/// The latest shard position read before definitions were then found all inactive: a definition activated afterwards
/// starts live at or beyond it (its <see cref="ActiveDefinition.LiveAfterSequence"/> is the high-water mark at activation,
/// never behind the shard), so widening reads again from here at the latest.
/// </param>
public sealed record CalculationsFeed(bool FetchesEverything, long NarrowedAt, long IdleConfirmedAt)
{
    public static readonly CalculationsFeed AtStart = new(true, 0, 0);

    /// <summary>The shard was stopped at a settled <paramref name="position"/> and nothing is active: it fetches nothing from there.</summary>
    public static CalculationsFeed Narrowed(long position) => new(false, position, position);

    /// <summary>
    /// One look: the shard's position (read first), then whether anything is being calculated and the earliest live start
    /// of the active definitions. Says whether the agent must be restarted, and with what.
    /// </summary>
    public CalculationsFeedStep Observe(long position, bool anythingActive, long? earliestLiveAfter)
    {
        if (FetchesEverything)
            return anythingActive ? new CalculationsFeedStep.Keep(this) : new CalculationsFeedStep.Narrow();
        if (!anythingActive)
            return new CalculationsFeedStep.Keep(this with { IdleConfirmedAt = Math.Max(IdleConfirmedAt, position) });
        return new CalculationsFeedStep.Widen(RewindTo(earliestLiveAfter), AtStart);
    }

    /// <summary>
    /// Where a widened shard reads again: no later than the last moment nothing was active nor than any active definition's
    /// live start, and never before the narrowing (events up to it were applied by the full fetch; reading them again would
    /// count them twice).
    /// </summary>
    public long RewindTo(long? earliestLiveAfter) =>
        Math.Max(NarrowedAt, earliestLiveAfter is { } live ? Math.Min(IdleConfirmedAt, live) : IdleConfirmedAt);
}

public abstract record CalculationsFeedStep
{
    /// <summary>No restart: the agent fetches what is needed.</summary>
    public sealed record Keep(CalculationsFeed Next) : CalculationsFeedStep;

    /// <summary>Nothing is active: stop the agent, note its settled position (<see cref="CalculationsFeed.Narrowed"/>), start it fetching nothing.</summary>
    public sealed record Narrow : CalculationsFeedStep;

    /// <summary>Something became active: stop the agent, move its position back to <paramref name="RewindTo"/> if beyond, start it fetching everything.</summary>
    public sealed record Widen(long RewindTo, CalculationsFeed Next) : CalculationsFeedStep;
}
