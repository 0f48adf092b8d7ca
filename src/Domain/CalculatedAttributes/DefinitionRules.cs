using System.Text.RegularExpressions;
using EventProfiles.Domain.Ingestion;

namespace EventProfiles.Domain.CalculatedAttributes;

/// <summary>A reason a definition cannot be accepted, with the field (JSON path) it concerns.</summary>
public sealed record DefinitionProblem(string Field, string Reason);

/// <summary>What makes a definition valid (§A1–§A4), checked before it is stored or activated.</summary>
public static class DefinitionRules
{
    public const int MaxNameLength = 100;

    /// <param name="retention">The org's data clocks: with Lifetime Profiles on, a "since" date may reach back to the
    /// retention period instead of the lookback (§A3 "With Lifetime Profiles the CA continues for the profile lifetime").</param>
    public static IReadOnlyList<DefinitionProblem> Check(Definition? definition, int lookbackDays, DateTimeOffset now, string prefix = "draft_definition",
        Privacy.RetentionSettings? retention = null)
    {
        var problems = new List<DefinitionProblem>();
        void Add(string field, string reason) => problems.Add(new DefinitionProblem($"{prefix}.{field}", reason));
        if (definition is null)
        {
            problems.Add(new DefinitionProblem(prefix, "is required."));
            return problems;
        }

        if (definition.RecipeType is not (null or DataPointTypes.Event)) Add("recipe_type", "must be \"event\": only event recipes are supported.");

        var calculation = CalculationTypes.Canonical(definition.CalculationType);
        if (calculation is null) Add("calculation_type", $"is required: one of {string.Join(", ", CalculationTypes.All)}.");
        else if (!CalculationTypes.All.Contains(calculation)) Add("calculation_type", $"\"{definition.CalculationType}\" is not one of {string.Join(", ", CalculationTypes.All)}.");

        var selector = definition.Selector;
        if (selector is null) Add("data_point", "is required.");
        else
        {
            if (selector.Type is not (null or DataPointTypes.Event)) Add("data_point.type", "must be \"event\": only events are supported.");
            if (selector.EventType is null) Add("data_point.event_type", "is required, e.g. custom_event, screen_view or commerce_event.");
            else if (!EventTypes.All.Contains(selector.EventType)) Add("data_point.event_type", $"\"{selector.EventType}\" is not an Events API event_type.");
            if (selector.EventType is EventTypes.CustomEvent or EventTypes.ScreenView && string.IsNullOrWhiteSpace(selector.EventName))
                Add("data_point.event_name", $"is required for {selector.EventType}.");
            if (selector.CustomEventType is not null && selector.EventType is not (EventTypes.CustomEvent or EventTypes.CommerceEvent))
                Add("data_point.custom_event_type", "applies only to custom_event and commerce_event.");
            var category = selector.AttributeCategory ?? AttributeCategories.Event;
            if (!AttributeCategories.All.Contains(category))
                Add("data_point.attribute_category", $"\"{category}\" is not one of {string.Join(", ", AttributeCategories.All)}.");
            else if (category != AttributeCategories.Event && selector.EventType != EventTypes.CommerceEvent)
                Add("data_point.attribute_category", $"{category} applies only to commerce_event.");
            if (selector.UseProductQuantity == true && selector.EventType != EventTypes.CommerceEvent)
                Add("data_point.use_product_quantity", "applies only to commerce_event.");
            if (calculation is not null && CalculationTypes.All.Contains(calculation) && CalculationTypes.NeedsAttribute(calculation) && string.IsNullOrWhiteSpace(selector.AttributeName))
                Add("data_point.attribute_name", $"is required for {calculation}.");
        }

        var conditions = definition.Conditions ?? [];
        for (var i = 0; i < conditions.Count; i++) CheckCondition(conditions[i], $"conditions[{i}]", Add);

        CheckTimePeriod(definition.TimePeriod, lookbackDays, now, retention, Add);
        if (definition.Seeding is { CutoffDate: null }) Add("seeding.cutoff_date", "is required when seeding is given (ISO 8601).");
        return problems;
    }

    /// <summary>The conditions alone, as audiences' event criteria use them (no time period, so no clock needed).</summary>
    public static IReadOnlyList<DefinitionProblem> CheckConditions(IReadOnlyList<Condition>? conditions, string prefix)
    {
        var problems = new List<DefinitionProblem>();
        var list = conditions ?? [];
        for (var i = 0; i < list.Count; i++)
            CheckCondition(list[i], $"conditions[{i}]", (field, reason) => problems.Add(new DefinitionProblem($"{prefix}.{field}", reason)));
        return problems;
    }

    private static void CheckCondition(Condition c, string at, Action<string, string> add)
    {
        if (c is null) { add(at, "must be an object."); return; }
        if (string.IsNullOrWhiteSpace(c.AttributeName)) add($"{at}.attribute_name", "is required.");
        if (c.Type is null || !ConditionOperators.Types.Contains(c.Type))
        {
            add($"{at}.type", $"must be one of {string.Join(", ", ConditionOperators.Types)}.");
            return;
        }
        if (c.Operator is null || !ConditionOperators.ValidTypes.TryGetValue(c.Operator, out var types))
        {
            add($"{at}.operator", $"\"{c.Operator}\" is not an operator; expected one of {string.Join(", ", ConditionOperators.ValidTypes.Keys)}.");
            return;
        }
        if (!types.Contains(c.Type))
        {
            add($"{at}.operator", $"{c.Operator} does not apply to a {c.Type} attribute (it applies to {string.Join(", ", types)}).");
            return;
        }

        var shape = ConditionOperators.OperandsOf(c.Operator);
        var hasValue = c.Value is not null;
        var hasValues = c.Values is { Count: > 0 };
        var hasRange = c.MinValue is not null || c.MaxValue is not null;
        if (shape == OperandShape.Single && !hasValue) add($"{at}.value", $"is required for {c.Operator}.");
        if (shape != OperandShape.Single && hasValue && shape != OperandShape.List) add($"{at}.value", $"must be empty for {c.Operator}.");
        if (shape == OperandShape.List && !hasValues) add($"{at}.values", "needs at least one value for in_list.");
        if (shape != OperandShape.List && hasValues) add($"{at}.values", $"must be empty for {c.Operator}.");
        if (shape == OperandShape.Range && (c.MinValue is null || c.MaxValue is null)) add($"{at}.min_value", $"min_value and max_value are required for {c.Operator}.");
        if (shape != OperandShape.Range && hasRange) add($"{at}.min_value", $"min_value and max_value must be empty for {c.Operator}.");

        // Operands must have the attribute's type: a number condition compares numbers.
        IEnumerable<string?> given = shape switch
        {
            OperandShape.Single => new[] { c.Value },
            OperandShape.List => (c.Values ?? []).Cast<string?>(),
            OperandShape.Range => new[] { c.MinValue, c.MaxValue },
            _ => Array.Empty<string?>(),
        };
        var operands = given.Where(o => o is not null).ToList();
        var bad = c.Type switch
        {
            ConditionOperators.NumberType => operands.FirstOrDefault(o => AttributeValues.ParseNumber(o) is null),
            ConditionOperators.DateType => operands.FirstOrDefault(o => AttributeValues.ParseDate(o) is null),
            ConditionOperators.BooleanType => operands.FirstOrDefault(o => !bool.TryParse(o, out _)),
            _ => null,
        };
        if (bad is not null) add($"{at}.value", $"\"{bad}\" is not a {c.Type}.");
        if (c.Operator == ConditionOperators.Pattern && c.Value is { } pattern && !IsRegex(pattern)) add($"{at}.value", "is not a valid pattern (regular expression).");
        if (shape == OperandShape.Range && c.Type == ConditionOperators.NumberType
            && AttributeValues.ParseNumber(c.MinValue) is { } min && AttributeValues.ParseNumber(c.MaxValue) is { } max && min > max)
            add($"{at}.min_value", "must not be greater than max_value.");
    }

    private static void CheckTimePeriod(TimePeriod? period, int lookbackDays, DateTimeOffset now, Privacy.RetentionSettings? retention, Action<string, string> add)
    {
        if (period is null) { add("time_period", "is required: {\"type\": \"within\", \"within\": N, \"within_unit\": \"days\"} or {\"type\": \"since\", \"date\": …}."); return; }
        switch (period.Type)
        {
            case TimePeriodTypes.Within:
                if (period.Within is not > 0) add("time_period.within", "must be a positive whole number.");
                if (period.WithinUnit is not (TimePeriodTypes.Days or TimePeriodTypes.Weeks)) add("time_period.within_unit", "must be \"days\" or \"weeks\".");
                else if (period.Within is > 0 && period.Window > TimeSpan.FromDays(lookbackDays))
                    add("time_period.within", $"The within time period cannot exceed your configured retention period of {lookbackDays} days.");
                if (period.Date is not null) add("time_period.date", "must be empty for a within period.");
                break;
            case TimePeriodTypes.Since:
                // Without Lifetime Profiles the lookback bounds the start (the product's wording); with it, the retention period does.
                var lifetime = retention is { LifetimeProfiles: true };
                var reach = lifetime ? retention!.DataRetentionDays : lookbackDays;
                var earliest = new DateTimeOffset((now - TimeSpan.FromDays(reach)).UtcDateTime.Date, TimeSpan.Zero);
                if (period.Date is not { } date) add("time_period.date", "is required for a since period (ISO 8601).");
                else if (date < earliest)
                    add("time_period.date", lifetime
                        ? $"'time_period.date' must be on or after the earliest date available of {earliest:yyyy-MM-dd}: with Lifetime Profiles on, the limit is the data retention period of {reach} days."
                        : $"'time_period.date' must be on or after the earliest date available of {earliest:yyyy-MM-dd}.");
                if (period.Within is not null || period.WithinUnit is not null) add("time_period.within", "must be empty for a since period.");
                break;
            default:
                add("time_period.type", "must be \"within\" or \"since\" (a lifetime period is not offered).");
                break;
        }
    }

    private static bool IsRegex(string pattern) => UserPatterns.Regex(pattern) is not null;

    public static DefinitionProblem? CheckName(string? name) =>
        string.IsNullOrWhiteSpace(name) ? new DefinitionProblem("name", "is required.")
        : name.Length > MaxNameLength ? new DefinitionProblem("name", $"must be at most {MaxNameLength} characters.")
        : null;
}
