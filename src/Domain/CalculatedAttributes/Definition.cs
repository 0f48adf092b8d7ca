using System.Text.Json.Serialization;

namespace EventProfiles.Domain.CalculatedAttributes;

// The definition object of the Platform API v2 (audiences-and-calculated-attributes.md §A1), snake_case on the wire.
// Records with nullable members: the API validates what a client sent, the calculation reads a validated copy.

/// <summary>What to compute: one event (and optional conditions on its attributes), one calculation, one date range.</summary>
public sealed record Definition
{
    [JsonPropertyName("recipe_type")] public string? RecipeType { get; init; }
    [JsonPropertyName("data_point")] public DataPoint? DataPoint { get; init; }
    /// <summary>The docs also spell the field <c>datapoint</c>; either is accepted.</summary>
    [JsonPropertyName("datapoint"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DataPoint? DataPointAlternateSpelling { get; init; }
    [JsonPropertyName("conditions")] public IReadOnlyList<Condition>? Conditions { get; init; }
    [JsonPropertyName("calculation_type")] public string? CalculationType { get; init; }
    [JsonPropertyName("time_period")] public TimePeriod? TimePeriod { get; init; }
    [JsonPropertyName("seeding")] public Seeding? Seeding { get; init; }

    [JsonIgnore] public DataPoint? Selector => DataPoint ?? DataPointAlternateSpelling;

    /// <summary>The definition as stored: one spelling of the data point, calculation aliases resolved.</summary>
    public Definition Normalized() => this with
    {
        DataPoint = Selector,
        DataPointAlternateSpelling = null,
        CalculationType = CalculationTypes.Canonical(CalculationType),
        Conditions = Conditions ?? [],
    };
}

public sealed record DataPoint
{
    [JsonPropertyName("type")] public string? Type { get; init; }
    [JsonPropertyName("event_name")] public string? EventName { get; init; }
    [JsonPropertyName("attribute_name")] public string? AttributeName { get; init; }
    [JsonPropertyName("event_type")] public string? EventType { get; init; }
    [JsonPropertyName("custom_event_type")] public string? CustomEventType { get; init; }
    [JsonPropertyName("attribute_category")] public string? AttributeCategory { get; init; }
    [JsonPropertyName("use_product_quantity")] public bool? UseProductQuantity { get; init; }
}

public sealed record Condition
{
    [JsonPropertyName("type")] public string? Type { get; init; }
    [JsonPropertyName("operator")] public string? Operator { get; init; }
    [JsonPropertyName("attribute_name")] public string? AttributeName { get; init; }
    [JsonPropertyName("value")] public string? Value { get; init; }
    [JsonPropertyName("values")] public IReadOnlyList<string>? Values { get; init; }
    [JsonPropertyName("min_value")] public string? MinValue { get; init; }
    [JsonPropertyName("max_value")] public string? MaxValue { get; init; }
}

public sealed record TimePeriod
{
    [JsonPropertyName("type")] public string? Type { get; init; }
    [JsonPropertyName("date")] public DateTimeOffset? Date { get; init; }
    [JsonPropertyName("within")] public int? Within { get; init; }
    [JsonPropertyName("within_unit")] public string? WithinUnit { get; init; }

    [JsonIgnore] public bool IsRolling => Type == TimePeriodTypes.Within;

    /// <summary>Length of a "within the last" window.</summary>
    [JsonIgnore]
    public TimeSpan Window => WithinUnit == TimePeriodTypes.Weeks ? TimeSpan.FromDays(7 * (Within ?? 0)) : TimeSpan.FromDays(Within ?? 0);
}

public sealed record Seeding
{
    [JsonPropertyName("cutoff_date")] public DateTimeOffset? CutoffDate { get; init; }
}

public static class TimePeriodTypes
{
    public const string Since = "since";
    public const string Within = "within";
    public const string Days = "days";
    public const string Weeks = "weeks";
}

public static class DataPointTypes
{
    public const string Event = "event";
}

public static class AttributeCategories
{
    public const string Event = "event_attribute";
    public const string Product = "product_attribute";
    public const string Promotion = "promotion_attribute";
    public static readonly IReadOnlySet<string> All = new HashSet<string> { Event, Product, Promotion };
}

/// <summary>The twelve calculation types (§A2). The seeding API spells min/max as minimum/maximum.</summary>
public static class CalculationTypes
{
    public const string Count = "count";
    public const string Sum = "sum";
    public const string Min = "min";
    public const string Max = "max";
    public const string Average = "average";
    public const string MostFrequent = "most_frequent";
    public const string UniqueValuesCount = "unique_values_count";
    public const string FirstValue = "first_occurrence";
    public const string LastValue = "last_occurrence";
    public const string FirstTimestamp = "first_occurrence_timestamp";
    public const string LastTimestamp = "last_occurrence_timestamp";
    public const string UniqueList = "unique_list";

    public static readonly IReadOnlyList<string> All =
        [Count, Sum, Min, Max, Average, MostFrequent, UniqueValuesCount, FirstValue, LastValue, FirstTimestamp, LastTimestamp, UniqueList];

    /// <summary>Types that read a number from the attribute (numeric strings are coerced, §C5).</summary>
    public static bool IsNumeric(string type) => type is Sum or Min or Max or Average;

    /// <summary>Types that need no attribute: they count or time the matching events.</summary>
    public static bool NeedsAttribute(string type) => type is not (Count or FirstTimestamp or LastTimestamp);

    public static string? Canonical(string? type) => type switch
    {
        "minimum" => Min,
        "maximum" => Max,
        _ => type,
    };
}
