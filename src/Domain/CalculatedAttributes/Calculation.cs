using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.CalculatedAttributes;

/// <summary>
/// An activated definition as the calculation uses it. <see cref="Activation"/> changes on every activation, so state
/// built for an earlier version of the definition is recognised and dropped. Events up to
/// <see cref="LiveAfterSequence"/> (the event store's position when it was activated) are initialised by replay, later
/// ones by the live projection.
/// </summary>
public sealed record ActiveDefinition(int Id, int WorkspaceId, string Name, Guid Activation, Definition Definition, long LiveAfterSequence = 0)
{
    public string CalculationType => Definition.CalculationType!;
    public TimePeriod Period => Definition.TimePeriod!;

    /// <summary>Events before this moment never count: the "since" date, and the seeding cutoff (seed ⊕ data on/after it, §A6).</summary>
    public DateTimeOffset? CountsFrom =>
        Max(Period.IsRolling ? null : Period.Date, Definition.Seeding?.CutoffDate);

    /// <summary>
    /// This definition's regex budget for the batch it was loaded for (a page of the projection, a replay chunk): a new
    /// instance is loaded per batch, so the budget starts afresh with each one.
    /// </summary>
    public PatternBudget Patterns { get; } = new();

    public IEnumerable<Observation> Observe(EventCaptured e) =>
        e.WorkspaceId == WorkspaceId && (CountsFrom is not { } from || e.Timestamp >= from)
            ? EventSelection.Observe(Definition, e, Patterns)
            : [];

    /// <summary>
    /// Width of a rolling window's time buckets: an hour below ten days, a day from ten days on. An event leaves the
    /// value at most one bucket after it leaves the window — within mParticle's "≤ ~10 % of the window" (§C3).
    /// </summary>
    public TimeSpan BucketWidth => Period.Window < TimeSpan.FromDays(10) ? TimeSpan.FromHours(1) : TimeSpan.FromDays(1);

    public bool AcceptsSeed(CalculatedAttributeSeeded seed) =>
        seed.WorkspaceId == WorkspaceId && seed.AttributeName == Name
        && CalculationTypes.Canonical(seed.CalculationType) == CalculationType
        && Definition.Seeding?.CutoffDate is { } cutoff && DateOnly.FromDateTime(cutoff.UtcDateTime) == seed.CutoffDate;

    private static DateTimeOffset? Max(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;
}

/// <summary>A seed (§A6) as the calculation keeps it: when it was sent (a newer seed replaces an older one) and its value.</summary>
public sealed record SeedPart(DateTimeOffset SentAt, Aggregate Value);

/// <summary>
/// One person's state for one definition: a single running aggregate for "since" periods, or time buckets for
/// "within the last" windows (so the value falls back as buckets leave the window, with no new events), plus a seed.
/// </summary>
public sealed class Calculation
{
    public Guid Activation { get; set; }
    public Aggregate? Total { get; set; }
    /// <summary>Rolling windows: bucket start (Unix seconds) → what was observed in it.</summary>
    public SortedDictionary<long, Aggregate>? Buckets { get; set; }
    public SeedPart? Seed { get; set; }

    public static Calculation For(ActiveDefinition definition) => new() { Activation = definition.Activation };

    /// <summary>A copy that later observations of the original do not change (a seed is never changed in place).</summary>
    public Calculation Copy() => new()
    {
        Activation = Activation,
        Total = Total?.Copy(),
        Buckets = Buckets is null ? null : new SortedDictionary<long, Aggregate>(Buckets.ToDictionary(b => b.Key, b => b.Value.Copy())),
        Seed = Seed,
    };

    public void Observe(ActiveDefinition definition, Observation o, DateTimeOffset now)
    {
        if (!definition.Period.IsRolling)
        {
            (Total ??= new Aggregate()).Observe(definition.CalculationType, o);
            return;
        }
        var start = BucketStart(o.At, definition.BucketWidth);
        if (Expiry(start, definition) <= now) return; // already outside the window
        Buckets ??= new SortedDictionary<long, Aggregate>();
        if (!Buckets.TryGetValue(start, out var bucket)) Buckets[start] = bucket = new Aggregate();
        bucket.Observe(definition.CalculationType, o);
        Prune(definition, now);
    }

    public void TakeSeed(ActiveDefinition definition, CalculatedAttributeSeeded seed)
    {
        if (Seed is not null && Seed.SentAt > seed.At) return; // re-sending overwrites; an older one does not
        Seed = new SeedPart(seed.At, Seeds.ToAggregate(definition, seed));
    }

    /// <summary>Drops buckets that left the window, so state stays bounded by the window's length.</summary>
    public void Prune(ActiveDefinition definition, DateTimeOffset now)
    {
        if (Buckets is null) return;
        foreach (var start in Buckets.Keys.Where(s => Expiry(s, definition) <= now).ToList()) Buckets.Remove(start);
    }

    /// <summary>What is inside the window at <paramref name="now"/>, bucket by bucket in time order.</summary>
    public IEnumerable<(long Start, Aggregate Part)> PartsAt(ActiveDefinition definition, DateTimeOffset now) =>
        Buckets is null
            ? Total is null ? [] : [(long.MinValue, Total)]
            : Buckets.Where(b => Expiry(b.Key, definition) > now).Select(b => (b.Key, b.Value));

    /// <summary>The next moment the value changes with no new event: when the oldest bucket still inside leaves the window.</summary>
    public DateTimeOffset? NextChangeAt(ActiveDefinition definition, DateTimeOffset now) =>
        Buckets?.Keys.Select(s => Expiry(s, definition)).Where(at => at > now).Order().Cast<DateTimeOffset?>().FirstOrDefault();

    public static long BucketStart(DateTimeOffset at, TimeSpan width)
    {
        var seconds = at.ToUnixTimeSeconds();
        var w = (long)width.TotalSeconds;
        return seconds - (((seconds % w) + w) % w);
    }

    /// <summary>A bucket counts while its end is inside the window: until bucket start + width + window.</summary>
    public static DateTimeOffset Expiry(long bucketStart, ActiveDefinition definition) =>
        DateTimeOffset.FromUnixTimeSeconds(bucketStart) + definition.BucketWidth + definition.Period.Window;
}

/// <summary>Combining the parts of a value: the seed, the part initialised by replay, and the live part.</summary>
public static class CalculatedAttributeValues
{
    public static CalculatedValue? ValueAt(ActiveDefinition definition, DateTimeOffset now, params Calculation?[] parts)
    {
        var current = parts.Where(p => p is not null && p.Activation == definition.Activation).Cast<Calculation>().ToList();
        if (current.Count == 0) return null;
        var combined = new Aggregate();
        // A newer seed replaces an older one wherever it was recorded; seeds are not windowed (§A6).
        if (current.Where(p => p.Seed is not null).MaxBy(p => p.Seed!.SentAt)?.Seed is { } seed) combined.Merge(seed.Value);
        // Parts merge in time order (OrderBy is stable: the replayed part before the live part of the same bucket).
        foreach (var (_, part) in current.SelectMany(p => p.PartsAt(definition, now)).OrderBy(p => p.Start).ToList()) combined.Merge(part);
        return combined.Result(definition.CalculationType);
    }
}
