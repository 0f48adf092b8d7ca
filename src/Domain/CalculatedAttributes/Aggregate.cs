namespace EventProfiles.Domain.CalculatedAttributes;

/// <summary>A value with the time it was seen: first/last value and first/last timestamp.</summary>
public sealed record TimedValue(DateTimeOffset At, string? Value);

/// <summary>
/// The running summary of observations that one calculation type needs — never the observations themselves, so a
/// person with a million events costs no more than one with ten. Aggregates merge (time buckets of a rolling window,
/// the part initialised by replay, a seed), and merging in time order gives the same result as observing in time order.
/// </summary>
public sealed class Aggregate
{
    /// <summary>Unique list and most frequent keep at most this many values (§C4).</summary>
    public const int ValueCap = 100;

    public long Count { get; set; }
    public decimal? Sum { get; set; }
    /// <summary>Total weight of the numbers summed (quantities for commerce averages).</summary>
    public decimal? Weight { get; set; }
    public decimal? Min { get; set; }
    public decimal? Max { get; set; }
    public TimedValue? First { get; set; }
    public TimedValue? Last { get; set; }
    /// <summary>Most frequent: value → count, in order of first sight.</summary>
    public Dictionary<string, decimal>? Frequencies { get; set; }
    /// <summary>Unique list: distinct values in order of first sight, capped.</summary>
    public List<string>? Values { get; set; }
    /// <summary>Unique values count: every distinct value (the count must stay exact, so it is not capped).</summary>
    public HashSet<string>? Distinct { get; set; }

    public void Observe(string calculation, Observation o)
    {
        switch (calculation)
        {
            case CalculationTypes.Count:
                Count++;
                break;
            case CalculationTypes.Sum or CalculationTypes.Average:
                if (Number(o) is not { } n) return;
                Count++;
                Sum = (Sum ?? 0) + n * o.Quantity;
                Weight = (Weight ?? 0) + o.Quantity;
                break;
            case CalculationTypes.Min:
                if (Number(o) is not { } low) return;
                Count++;
                Min = Min is { } m && m <= low ? m : low;
                break;
            case CalculationTypes.Max:
                if (Number(o) is not { } high) return;
                Count++;
                Max = Max is { } x && x >= high ? x : high;
                break;
            case CalculationTypes.MostFrequent:
                if (Text(o) is not { } seen) return;
                Count++;
                AddFrequency(seen, o.Quantity);
                break;
            case CalculationTypes.UniqueList:
                if (Text(o) is not { } listed) return;
                Count++;
                AddListed(listed);
                break;
            case CalculationTypes.UniqueValuesCount:
                if (Text(o) is not { } distinct) return;
                Count++;
                (Distinct ??= new HashSet<string>(StringComparer.Ordinal)).Add(distinct);
                break;
            case CalculationTypes.FirstValue or CalculationTypes.FirstTimestamp or CalculationTypes.LastValue or CalculationTypes.LastTimestamp:
                var value = calculation is CalculationTypes.FirstValue or CalculationTypes.LastValue ? Text(o) : null;
                if (value is null && calculation is CalculationTypes.FirstValue or CalculationTypes.LastValue) return;
                Count++;
                // Earliest wins for first (a tie keeps the earlier-seen item); latest wins for last (a tie takes the later-seen).
                if (First is null || o.At < First.At) First = new TimedValue(o.At, value);
                if (Last is null || o.At >= Last.At) Last = new TimedValue(o.At, value);
                break;
        }
    }

    /// <summary>Adds a later part (a later bucket, or live data after replayed data).</summary>
    public void Merge(Aggregate later)
    {
        Count += later.Count;
        if (later.Sum is { } s) Sum = (Sum ?? 0) + s;
        if (later.Weight is { } w) Weight = (Weight ?? 0) + w;
        if (later.Min is { } min) Min = Min is { } m && m <= min ? m : min;
        if (later.Max is { } max) Max = Max is { } x && x >= max ? x : max;
        if (later.First is { } first && (First is null || first.At < First.At)) First = first;
        if (later.Last is { } last && (Last is null || last.At >= Last.At)) Last = last;
        if (later.Frequencies is { } frequencies)
            foreach (var (value, count) in frequencies) AddFrequency(value, count);
        if (later.Values is { } values)
            foreach (var value in values) AddListed(value);
        if (later.Distinct is { } distinct) (Distinct ??= new HashSet<string>(StringComparer.Ordinal)).UnionWith(distinct);
    }

    public Aggregate Copy()
    {
        var copy = new Aggregate();
        copy.Merge(this);
        return copy;
    }

    /// <summary>
    /// The calculated value (§A2, §C1): numbers and timestamps as strings, the unique list alphabetically. Counts and
    /// unique-value counts fall back to 0 when nothing is left in the window; the other types have no value then (§C3).
    /// </summary>
    public CalculatedValue? Result(string calculation) => calculation switch
    {
        CalculationTypes.Count => CalculatedValue.Of(Count.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        // No numeric value to add (none in the window, or none convertible): empty, as mParticle shows "-" (§C5).
        CalculationTypes.Sum => Sum is { } sum0 ? CalculatedValue.Of(AttributeValues.FormatNumber(sum0)) : null,
        CalculationTypes.UniqueValuesCount => CalculatedValue.Of((Distinct?.Count ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture)),
        CalculationTypes.Min => Min is { } min ? CalculatedValue.Of(AttributeValues.FormatNumber(min)) : null,
        CalculationTypes.Max => Max is { } max ? CalculatedValue.Of(AttributeValues.FormatNumber(max)) : null,
        CalculationTypes.Average => Sum is { } sum && Weight is > 0 ? CalculatedValue.Of(AttributeValues.FormatNumber(decimal.Round(sum / Weight.Value, 10))) : null,
        CalculationTypes.MostFrequent => MostFrequent() is { } frequent ? CalculatedValue.Of(frequent) : null,
        CalculationTypes.FirstValue => First?.Value is { } firstValue ? CalculatedValue.Of(firstValue) : null,
        CalculationTypes.LastValue => Last?.Value is { } lastValue ? CalculatedValue.Of(lastValue) : null,
        CalculationTypes.FirstTimestamp => First is { } first ? CalculatedValue.Of(AttributeValues.FormatTimestamp(first.At)) : null,
        CalculationTypes.LastTimestamp => Last is { } last ? CalculatedValue.Of(AttributeValues.FormatTimestamp(last.At)) : null,
        CalculationTypes.UniqueList => Values is { Count: > 0 } list ? CalculatedValue.OfList(list.Order(StringComparer.Ordinal).ToList()) : null,
        _ => null,
    };

    /// <summary>The value seen most often; a tie goes to the alphabetically first (§A2).</summary>
    private string? MostFrequent() =>
        Frequencies is not { Count: > 0 } f ? null
        : f.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).First().Key;

    private void AddFrequency(string value, decimal count)
    {
        Frequencies ??= new Dictionary<string, decimal>(StringComparer.Ordinal);
        if (Frequencies.TryGetValue(value, out var current)) Frequencies[value] = current + count;
        else if (Frequencies.Count < ValueCap) Frequencies[value] = count; // after 100 values only the first 100 are counted (§C4)
    }

    private void AddListed(string value)
    {
        Values ??= [];
        if (Values.Count < ValueCap && !Values.Contains(value, StringComparer.Ordinal)) Values.Add(value);
    }

    private static decimal? Number(Observation o) => o.Value is { } v ? AttributeValues.AsNumber(v) : null;
    private static string? Text(Observation o) => o.Value is { } v ? AttributeValues.AsText(v) : null;
}

/// <summary>A calculated attribute's value: a string, or for unique lists a list of strings.</summary>
public sealed record CalculatedValue(string? Text, IReadOnlyList<string>? List)
{
    public static CalculatedValue Of(string text) => new(text, null);
    public static CalculatedValue OfList(IReadOnlyList<string> list) => new(null, list);
}
