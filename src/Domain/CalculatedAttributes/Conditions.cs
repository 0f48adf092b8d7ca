using System.Text.Json;

namespace EventProfiles.Domain.CalculatedAttributes;

/// <summary>The condition operators and the value types each one accepts (§A4).</summary>
public static class ConditionOperators
{
    public const string Exists = "exists";
    public const string NotExists = "not_exists";
    public const string Empty = "empty";
    public const string EqualTo = "equals";
    public const string NotEquals = "not_equals";
    public const string InList = "in_list";
    public const string Contains = "contains";
    public const string NotContains = "not_contains";
    public const string Pattern = "pattern";
    public const string GreaterThan = "greater_than";
    public const string GreaterOrEqual = "greater_or_equal";
    public const string LessThan = "less_than";
    public const string LessOrEqual = "less_than_or_equal";
    public const string Between = "between";
    public const string Before = "before";
    public const string After = "after";
    public const string BetweenDates = "between_dates";

    public const string StringType = "string";
    public const string NumberType = "number";
    public const string BooleanType = "boolean";
    public const string DateType = "date";
    public static readonly IReadOnlyList<string> Types = [StringType, NumberType, BooleanType, DateType];

    /// <summary>Which value types each operator applies to.</summary>
    public static readonly IReadOnlyDictionary<string, IReadOnlySet<string>> ValidTypes = new Dictionary<string, IReadOnlySet<string>>
    {
        [Exists] = Set(StringType, NumberType, BooleanType, DateType),
        [NotExists] = Set(StringType, NumberType, BooleanType, DateType),
        [Empty] = Set(StringType, NumberType, BooleanType, DateType),
        [EqualTo] = Set(StringType, NumberType, BooleanType, DateType),
        [NotEquals] = Set(StringType, NumberType),
        [InList] = Set(StringType, NumberType),
        [Contains] = Set(StringType),
        [NotContains] = Set(StringType),
        [Pattern] = Set(StringType),
        [GreaterThan] = Set(NumberType),
        [GreaterOrEqual] = Set(NumberType),
        [LessThan] = Set(NumberType),
        [LessOrEqual] = Set(NumberType),
        [Between] = Set(NumberType),
        [Before] = Set(DateType),
        [After] = Set(DateType),
        [BetweenDates] = Set(DateType),
    };

    /// <summary>Which operand fields each operator reads; the others must be left empty.</summary>
    public static OperandShape OperandsOf(string op) => op switch
    {
        Exists or NotExists or Empty => OperandShape.None,
        InList => OperandShape.List,
        Between or BetweenDates => OperandShape.Range,
        _ => OperandShape.Single,
    };

    private static IReadOnlySet<string> Set(params string[] types) => new HashSet<string>(types);
}

public enum OperandShape { None, Single, List, Range }

/// <summary>
/// Whether an event's attribute satisfies a condition. An event without the attribute fails every condition
/// except <c>not_exists</c> (§A4). String matching ignores case, as audience matching does (§B5).
/// </summary>
public static class ConditionEvaluator
{
    /// <summary>Whether the condition holds; <paramref name="patterns"/> is the definition's regex budget for this batch.</summary>
    public static bool Holds(Condition condition, JsonElement? attribute, PatternBudget? patterns = null)
    {
        var present = attribute is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) };
        switch (condition.Operator)
        {
            case ConditionOperators.Exists: return present;
            case ConditionOperators.NotExists: return !present;
            case ConditionOperators.Empty:
                return attribute is { } a && (a.ValueKind is JsonValueKind.Null || (a.ValueKind is JsonValueKind.String && string.IsNullOrWhiteSpace(a.GetString())));
        }
        if (!present) return false;
        var value = attribute!.Value;
        return condition.Type switch
        {
            ConditionOperators.NumberType => NumberHolds(condition, AttributeValues.AsNumber(value)),
            ConditionOperators.BooleanType => condition.Operator == ConditionOperators.EqualTo
                && AttributeValues.AsBoolean(value) is { } b && bool.TryParse(condition.Value, out var wanted) && b == wanted,
            ConditionOperators.DateType => DateHolds(condition, AttributeValues.AsDate(value)),
            _ => StringHolds(condition, AttributeValues.AsText(value) ?? "", patterns),
        };
    }

    private static bool StringHolds(Condition c, string text, PatternBudget? patterns) => c.Operator switch
    {
        ConditionOperators.EqualTo => Same(text, c.Value),
        ConditionOperators.NotEquals => !Same(text, c.Value),
        ConditionOperators.InList => (c.Values ?? []).Any(v => Same(text, v)),
        ConditionOperators.Contains => text.Contains(c.Value ?? "", StringComparison.OrdinalIgnoreCase),
        ConditionOperators.NotContains => !text.Contains(c.Value ?? "", StringComparison.OrdinalIgnoreCase),
        ConditionOperators.Pattern => Matches(text, c.Value ?? "", patterns),
        _ => false,
    };

    private static bool Same(string text, string? operand) => string.Equals(text, operand, StringComparison.OrdinalIgnoreCase);

    /// <summary>Compiled once per pattern; a match that times out, or one past the budget, does not hold.</summary>
    private static bool Matches(string text, string pattern, PatternBudget? patterns) =>
        UserPatterns.Regex(pattern) is { } regex && (patterns ?? new PatternBudget()).IsMatch(regex, text);

    private static bool NumberHolds(Condition c, decimal? number)
    {
        if (number is not { } n) return false;
        var operand = AttributeValues.ParseNumber(c.Value);
        return c.Operator switch
        {
            ConditionOperators.EqualTo => n == operand,
            ConditionOperators.NotEquals => operand is { } o && n != o,
            ConditionOperators.InList => (c.Values ?? []).Any(v => AttributeValues.ParseNumber(v) == n),
            ConditionOperators.GreaterThan => n > operand,
            ConditionOperators.GreaterOrEqual => n >= operand,
            ConditionOperators.LessThan => n < operand,
            ConditionOperators.LessOrEqual => n <= operand,
            ConditionOperators.Between => AttributeValues.ParseNumber(c.MinValue) is { } min && AttributeValues.ParseNumber(c.MaxValue) is { } max
                && n >= min && n <= max,
            _ => false,
        };
    }

    private static bool DateHolds(Condition c, DateTimeOffset? date)
    {
        if (date is not { } d) return false;
        return c.Operator switch
        {
            ConditionOperators.EqualTo => AttributeValues.IsDateOnly(c.Value)
                ? AttributeValues.ParseDate(c.Value) is { } day && d.UtcDateTime.Date == day.UtcDateTime.Date
                : AttributeValues.ParseDate(c.Value) == d,
            ConditionOperators.Before => AttributeValues.ParseDate(c.Value) is { } limit && d < limit,
            ConditionOperators.After => AttributeValues.ParseDate(c.Value) is { } start && d > StartOrEndOfDay(c.Value, start),
            // Both ends inclusive; a date without a time covers its whole day.
            ConditionOperators.BetweenDates => AttributeValues.ParseDate(c.MinValue) is { } from && AttributeValues.ParseDate(c.MaxValue) is { } to
                && d >= from && d <= StartOrEndOfDay(c.MaxValue, to),
            _ => false,
        };
    }

    /// <summary>"After 2024-05-01" means after that day; "between … and 2024-05-31" includes that day.</summary>
    private static DateTimeOffset StartOrEndOfDay(string? operand, DateTimeOffset parsed) =>
        AttributeValues.IsDateOnly(operand) ? parsed.AddDays(1).AddTicks(-1) : parsed;
}
