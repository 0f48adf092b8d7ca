using System.Globalization;
using System.Text.Json;

namespace EventProfiles.Domain.CalculatedAttributes;

/// <summary>
/// A historical value handed over through the seeding API (§A6), recorded on the person's stream. It counts for the
/// definition with the same workspace, name, calculation type and seeding cutoff; live data counts from the cutoff on.
/// </summary>
public sealed record CalculatedAttributeSeeded(
    int WorkspaceId, string AttributeName, string CalculationType, DateOnly CutoffDate, JsonElement Seed, DateTimeOffset At);

/// <summary>The seed formats per calculation type (§A2 "Seed format"): <c>value</c>, <c>key_value_pairs</c> or <c>list</c>.</summary>
public static class Seeds
{
    /// <summary>Why a seed cannot be used for this calculation type, or null when it can.</summary>
    public static string? Problem(string calculationType, JsonElement seed)
    {
        if (seed.ValueKind != JsonValueKind.Object) return "must be an object with value, key_value_pairs or list.";
        switch (CalculationTypes.Canonical(calculationType))
        {
            case CalculationTypes.Count:
                return Value(seed) is { } c && AttributeValues.AsNumber(c) is { } n && n >= 0 && n == decimal.Truncate(n) ? null : "value must be a whole number ≥ 0 for count.";
            case CalculationTypes.Sum or CalculationTypes.Min or CalculationTypes.Max:
                return Value(seed) is { } v && AttributeValues.AsNumber(v) is not null ? null : "value must be a number.";
            case CalculationTypes.Average:
                var pairs = Pairs(seed);
                return pairs is not null && pairs.TryGetValue("sum", out var s) && s is not null
                       && pairs.TryGetValue("count", out var k) && k is > 0
                    ? null
                    : "key_value_pairs must hold a numeric sum and a count > 0 for average.";
            case CalculationTypes.MostFrequent:
                return Pairs(seed) is { } counts && counts.Values.All(x => x is >= 0) ? null : "key_value_pairs must map each value to its count for most_frequent.";
            case CalculationTypes.UniqueValuesCount or CalculationTypes.UniqueList:
                return List(seed) is not null ? null : "list must be an array of values.";
            case CalculationTypes.FirstValue or CalculationTypes.LastValue:
                return Value(seed) is { } text && AttributeValues.AsText(text) is not null ? null : "value is required.";
            case CalculationTypes.FirstTimestamp or CalculationTypes.LastTimestamp:
                return Value(seed) is { ValueKind: JsonValueKind.Number or JsonValueKind.String } t && AttributeValues.AsDate(t) is not null
                    ? null
                    : "value must be a time in Unix epoch milliseconds.";
            default:
                return $"unknown calculation type \"{calculationType}\".";
        }
    }

    /// <summary>The seed as an aggregate the live data merges into. Seeded first/last values sit just before the cutoff.</summary>
    public static Aggregate ToAggregate(ActiveDefinition definition, CalculatedAttributeSeeded seed)
    {
        var aggregate = new Aggregate();
        if (Problem(definition.CalculationType, seed.Seed) is not null) return aggregate;
        var beforeCutoff = new DateTimeOffset(seed.CutoffDate.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero).AddTicks(-1);
        var value = Value(seed.Seed);
        switch (definition.CalculationType)
        {
            case CalculationTypes.Count:
                aggregate.Count = (long)AttributeValues.AsNumber(value!.Value)!.Value;
                break;
            case CalculationTypes.Sum:
                aggregate.Sum = AttributeValues.AsNumber(value!.Value);
                aggregate.Weight = 0;
                break;
            case CalculationTypes.Min:
                aggregate.Min = AttributeValues.AsNumber(value!.Value);
                break;
            case CalculationTypes.Max:
                aggregate.Max = AttributeValues.AsNumber(value!.Value);
                break;
            case CalculationTypes.Average:
                var pairs = Pairs(seed.Seed)!;
                aggregate.Sum = pairs["sum"];
                aggregate.Weight = pairs["count"];
                break;
            case CalculationTypes.MostFrequent:
                aggregate.Frequencies = new Dictionary<string, decimal>(StringComparer.Ordinal);
                foreach (var (key, count) in Pairs(seed.Seed)!.Take(Aggregate.ValueCap)) aggregate.Frequencies[key] = count!.Value;
                break;
            case CalculationTypes.UniqueValuesCount:
                aggregate.Distinct = new HashSet<string>(List(seed.Seed)!, StringComparer.Ordinal);
                break;
            case CalculationTypes.UniqueList:
                aggregate.Values = List(seed.Seed)!.Distinct(StringComparer.Ordinal).Take(Aggregate.ValueCap).ToList();
                break;
            case CalculationTypes.FirstValue:
                aggregate.First = new TimedValue(beforeCutoff, AttributeValues.AsText(value!.Value));
                break;
            case CalculationTypes.LastValue:
                aggregate.Last = new TimedValue(beforeCutoff, AttributeValues.AsText(value!.Value));
                break;
            case CalculationTypes.FirstTimestamp:
                aggregate.First = new TimedValue(AttributeValues.AsDate(value!.Value)!.Value, null);
                break;
            case CalculationTypes.LastTimestamp:
                aggregate.Last = new TimedValue(AttributeValues.AsDate(value!.Value)!.Value, null);
                break;
        }
        return aggregate;
    }

    private static JsonElement? Value(JsonElement seed) =>
        seed.TryGetProperty("value", out var v) && v.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined) ? v : null;

    private static Dictionary<string, decimal?>? Pairs(JsonElement seed) =>
        seed.TryGetProperty("key_value_pairs", out var p) && p.ValueKind == JsonValueKind.Object
            ? p.EnumerateObject().ToDictionary(x => x.Name, x => AttributeValues.AsNumber(x.Value), StringComparer.Ordinal)
            : null;

    private static List<string>? List(JsonElement seed) =>
        seed.TryGetProperty("list", out var l) && l.ValueKind == JsonValueKind.Array
            ? l.EnumerateArray().Select(AttributeValues.AsText).Where(x => x is not null).Cast<string>().ToList()
            : null;

    /// <summary>Seeding cutoff dates are sent as <c>yyyy-MM-dd</c>.</summary>
    public static DateOnly? ParseCutoff(string? text) =>
        DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d) ? d : null;
}
