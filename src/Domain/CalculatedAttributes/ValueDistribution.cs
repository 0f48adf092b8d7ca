using System.Globalization;
using System.Text.Json.Serialization;

namespace EventProfiles.Domain.CalculatedAttributes;

/// <summary>One bar of a histogram (numbers: [From, To), the last bar includes To) or one of the top values.</summary>
public sealed record DistributionBucket(
    [property: JsonPropertyName("label")] string Label,
    [property: JsonPropertyName("count")] long Count,
    [property: JsonPropertyName("from")] decimal? From = null,
    [property: JsonPropertyName("to")] decimal? To = null);

/// <summary>
/// How a calculated attribute's current values are spread: a histogram for numeric results (count, sum, minimum,
/// maximum, average, unique values count), the most common values otherwise (a list's items count one by one;
/// timestamps count by UTC day).
/// </summary>
public sealed record ValueDistribution(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("people_with_value")] long PeopleWithValue,
    [property: JsonPropertyName("buckets")] IReadOnlyList<DistributionBucket> Buckets,
    [property: JsonPropertyName("min")] decimal? Min = null,
    [property: JsonPropertyName("max")] decimal? Max = null,
    [property: JsonPropertyName("mean")] decimal? Mean = null)
{
    public const string Histogram = "histogram";
    public const string TopValues = "top_values";
    public const int Bars = 10;
    public const int Top = 10;

    public static bool IsNumeric(string? calculationType) => CalculationTypes.Canonical(calculationType) is
        CalculationTypes.Count or CalculationTypes.Sum or CalculationTypes.Min or CalculationTypes.Max or CalculationTypes.Average or CalculationTypes.UniqueValuesCount;

    public static ValueDistribution Of(string? calculationType, IReadOnlyCollection<CalculatedValue> values)
    {
        if (IsNumeric(calculationType)) return NumbersOf(values.Select(v => AttributeValues.ParseNumber(v.Text)).OfType<decimal>().ToList());
        var timestamps = CalculationTypes.Canonical(calculationType) is CalculationTypes.FirstTimestamp or CalculationTypes.LastTimestamp;
        var items = values.SelectMany(v => v.List ?? (v.Text is { } t ? new[] { t } : Array.Empty<string>()))
            .Select(t => timestamps && AttributeValues.ParseDate(t) is { } at ? at.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) : t);
        var top = items.GroupBy(t => t, StringComparer.Ordinal)
            .Select(g => new DistributionBucket(g.Key, g.LongCount()))
            .OrderByDescending(b => b.Count).ThenBy(b => b.Label, StringComparer.Ordinal).Take(Top).ToList();
        return new ValueDistribution(TopValues, values.Count, top);
    }

    private static ValueDistribution NumbersOf(IReadOnlyList<decimal> numbers)
    {
        if (numbers.Count == 0) return new ValueDistribution(Histogram, 0, []);
        var (min, max) = (numbers.Min(), numbers.Max());
        var mean = Math.Round(numbers.Sum() / numbers.Count, 4);
        if (min == max) return new ValueDistribution(Histogram, numbers.Count, [new DistributionBucket(Format(min), numbers.Count, min, max)], min, max, mean);
        // Whole numbers (counts) get whole-number bars when there are few distinct values.
        var whole = numbers.All(n => n == decimal.Truncate(n));
        var bars = whole && max - min < Bars ? (int)(max - min) + 1 : Bars;
        var width = whole && max - min < Bars ? 1m : (max - min) / bars;
        var counts = new long[bars];
        foreach (var n in numbers) counts[Math.Min(bars - 1, (int)((n - min) / width))]++;
        var buckets = Enumerable.Range(0, bars).Select(i =>
        {
            var from = min + i * width;
            var to = i == bars - 1 ? max : min + (i + 1) * width;
            var label = whole && width == 1 ? Format(from) : $"{Format(from)} – {Format(to)}";
            return new DistributionBucket(label, counts[i], from, to);
        }).ToList();
        return new ValueDistribution(Histogram, numbers.Count, buckets, min, max, mean);
    }

    private static string Format(decimal value) => Math.Round(value, 2).ToString("0.##", CultureInfo.InvariantCulture);
}
