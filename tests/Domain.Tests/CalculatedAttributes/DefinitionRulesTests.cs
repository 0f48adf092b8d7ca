using System.Text.Json;
using EventProfiles.Domain.CalculatedAttributes;
using static EventProfiles.Domain.CalculatedAttributes.ConditionOperators;
using static EventProfiles.Domain.Tests.CalculatedAttributes.CA;

namespace EventProfiles.Domain.Tests.CalculatedAttributes;

public class DefinitionRulesTests
{
    private const int Lookback = 30;
    /// <summary>2024-05-31T12:00:00Z: with a 30-day lookback the earliest date available is 2024-05-01.</summary>
    private static readonly DateTimeOffset Now = new(2024, 5, 31, 12, 0, 0, TimeSpan.Zero);

    /// <summary>The spec's example (§A1): purchases in EUR or AUD over the last 30 days.</summary>
    private static Definition Example() => JsonSerializer.Deserialize<Definition>("""
        { "recipe_type": "event",
          "data_point": { "type": "event", "event_name": "Purchase", "event_type": "commerce_event",
                          "custom_event_type": "purchase", "attribute_name": null },
          "conditions": [ { "type": "string", "operator": "in_list", "attribute_name": "currency",
                            "value": null, "values": ["EUR","AUD"], "min_value": null, "max_value": null } ],
          "calculation_type": "count",
          "time_period": { "type": "within", "within": 30, "within_unit": "days", "date": null } }
        """)!;

    private static IReadOnlyList<DefinitionProblem> Check(Definition definition) => DefinitionRules.Check(definition, Lookback, Now);

    private static IReadOnlyList<DefinitionProblem> CheckCondition(Condition condition) => Check(Example() with { Conditions = [condition] });

    private static DefinitionProblem Single(IReadOnlyList<DefinitionProblem> problems)
    {
        problems.Count.ShouldBe(1, string.Join("; ", problems));
        return problems[0];
    }

    [Fact]
    public void the_spec_example_is_valid()
    {
        Check(Example()).ShouldBeEmpty();
    }

    [Fact]
    public void a_fully_specified_definition_is_valid()
    {
        var definition = OnPurchasedProducts(CalculationTypes.Average, "price", useQuantity: true, Since(new DateTimeOffset(2024, 5, 2, 0, 0, 0, TimeSpan.Zero)),
            When(StringType, Contains, "category", "shoe"),
            When(NumberType, Between, "quantity", min: "1", max: "10"),
            When(BooleanType, EqualTo, "on_sale", "false"),
            When(DateType, BetweenDates, "released", min: "2024-01-01", max: "2024-03-31T12:00:00Z"),
            When(StringType, InList, "brand", values: ["acme", "globex"]),
            When(StringType, Exists, "sku")) with { Seeding = new Seeding { CutoffDate = new DateTimeOffset(2024, 5, 10, 0, 0, 0, TimeSpan.Zero) } };

        Check(definition).ShouldBeEmpty();
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void every_calculation_type_is_valid_with_an_attribute(string calculation)
    {
        Check(OnPlay(calculation, "v", Within(4, TimePeriodTypes.Weeks))).ShouldBeEmpty();
    }

    public static TheoryData<string> AllTypes => new(CalculationTypes.All.Append("minimum").Append("maximum"));

    public static TheoryData<string, string, string?, string[]?, string?, string?> ValidConditions => new()
    {
        { StringType, Exists, null, null, null, null },
        { StringType, NotExists, null, null, null, null },
        { StringType, Empty, null, null, null, null },
        { StringType, EqualTo, "gold", null, null, null },
        { StringType, NotEquals, "gold", null, null, null },
        { StringType, InList, null, ["a", "b"], null, null },
        { StringType, InList, "ignored", ["a"], null, null },
        { StringType, Contains, "x", null, null, null },
        { StringType, NotContains, "x", null, null, null },
        { StringType, Pattern, @"^a\d+$", null, null, null },
        { NumberType, Exists, null, null, null, null },
        { NumberType, EqualTo, "34.32", null, null, null },
        { NumberType, NotEquals, "-1", null, null, null },
        { NumberType, InList, null, ["1", "2.5"], null, null },
        { NumberType, GreaterThan, "5", null, null, null },
        { NumberType, GreaterOrEqual, "5", null, null, null },
        { NumberType, LessThan, "5", null, null, null },
        { NumberType, LessOrEqual, "5", null, null, null },
        { NumberType, Between, null, null, "5", "5" },
        { BooleanType, Exists, null, null, null, null },
        { BooleanType, Empty, null, null, null, null },
        { BooleanType, EqualTo, "true", null, null, null },
        { DateType, NotExists, null, null, null, null },
        { DateType, EqualTo, "2024-05-01", null, null, null },
        { DateType, Before, "2024-05-01T10:00:00Z", null, null, null },
        { DateType, After, "1714521600000", null, null, null },
        { DateType, BetweenDates, null, null, "2024-05-01", "2024-05-31" },
    };

    [Theory]
    [MemberData(nameof(ValidConditions))]
    public void every_operator_is_valid_for_the_types_it_applies_to(string type, string op, string? value, string[]? values, string? min, string? max)
    {
        CheckCondition(When(type, op, "attr", value, values, min, max)).ShouldBeEmpty();
    }

    // ---- conditions ----

    [Fact]
    public void an_unknown_operator_is_refused()
    {
        var problem = Single(CheckCondition(When(StringType, "starts_with", value: "a")));
        problem.Field.ShouldBe("draft_definition.conditions[0].operator");
        problem.Reason.ShouldStartWith("\"starts_with\" is not an operator");
    }

    [Theory]
    [InlineData(NumberType, Contains, "5")]
    [InlineData(NumberType, Pattern, "5")]
    [InlineData(NumberType, Before, "5")]
    [InlineData(StringType, GreaterThan, "5")]
    [InlineData(StringType, After, "2024-05-01")]
    [InlineData(BooleanType, NotEquals, "true")]
    [InlineData(BooleanType, InList, null)]
    [InlineData(DateType, NotEquals, "2024-05-01")]
    [InlineData(DateType, GreaterThan, "2024-05-01")]
    public void an_operator_for_another_type_is_refused(string type, string op, string? value)
    {
        var problem = Single(CheckCondition(When(type, op, value: value)));
        problem.Field.ShouldBe("draft_definition.conditions[0].operator");
        problem.Reason.ShouldStartWith($"{op} does not apply to a {type} attribute");
    }

    [Fact]
    public void contains_on_a_number_names_the_types_it_applies_to()
    {
        Single(CheckCondition(When(NumberType, Contains, value: "5"))).Reason.ShouldBe("contains does not apply to a number attribute (it applies to string).");
    }

    [Theory]
    [InlineData(GreaterThan, "abc", null, null)]
    [InlineData(EqualTo, "12,5", null, null)]
    [InlineData(Between, null, "1", "ten")]
    public void a_number_condition_needs_numeric_operands(string op, string? value, string? min, string? max)
    {
        var problem = Single(CheckCondition(When(NumberType, op, value: value, min: min, max: max)));
        problem.Field.ShouldBe("draft_definition.conditions[0].value");
        problem.Reason.ShouldBe($"\"{value ?? max}\" is not a number.");
    }

    [Fact]
    public void a_number_in_list_needs_numeric_values()
    {
        Single(CheckCondition(When(NumberType, InList, values: ["1", "two"]))).Reason.ShouldBe("\"two\" is not a number.");
    }

    [Fact]
    public void date_and_boolean_operands_must_parse()
    {
        Single(CheckCondition(When(DateType, Before, value: "yesterday"))).Reason.ShouldBe("\"yesterday\" is not a date.");
        Single(CheckCondition(When(BooleanType, EqualTo, value: "yes"))).Reason.ShouldBe("\"yes\" is not a boolean.");
    }

    [Theory]
    [InlineData(StringType, EqualTo, "draft_definition.conditions[0].value", "is required for equals.")]
    [InlineData(StringType, Contains, "draft_definition.conditions[0].value", "is required for contains.")]
    [InlineData(NumberType, LessThan, "draft_definition.conditions[0].value", "is required for less_than.")]
    [InlineData(DateType, After, "draft_definition.conditions[0].value", "is required for after.")]
    [InlineData(StringType, InList, "draft_definition.conditions[0].values", "needs at least one value for in_list.")]
    [InlineData(NumberType, Between, "draft_definition.conditions[0].min_value", "min_value and max_value are required for between.")]
    [InlineData(DateType, BetweenDates, "draft_definition.conditions[0].min_value", "min_value and max_value are required for between_dates.")]
    public void missing_operands_are_refused(string type, string op, string field, string reason)
    {
        var problem = Single(CheckCondition(When(type, op)));
        problem.Field.ShouldBe(field);
        problem.Reason.ShouldBe(reason);
    }

    [Fact]
    public void a_range_needs_both_ends()
    {
        Single(CheckCondition(When(NumberType, Between, min: "1"))).Field.ShouldBe("draft_definition.conditions[0].min_value");
        Single(CheckCondition(When(DateType, BetweenDates, max: "2024-05-01"))).Field.ShouldBe("draft_definition.conditions[0].min_value");
        Single(CheckCondition(When(StringType, InList, values: []))).Field.ShouldBe("draft_definition.conditions[0].values");
    }

    [Theory]
    [InlineData(Exists, "x", null, null, "draft_definition.conditions[0].value")]
    [InlineData(Empty, null, "x", null, "draft_definition.conditions[0].values")]
    [InlineData(EqualTo, "x", null, "y", "draft_definition.conditions[0].min_value")]
    public void unused_operands_must_be_empty(string op, string? value, string? listed, string? min, string field)
    {
        var problems = CheckCondition(When(StringType, op, value: value, values: listed is null ? null : [listed], min: min));
        Single(problems).Field.ShouldBe(field);
    }

    [Fact]
    public void a_number_range_must_not_be_reversed()
    {
        var problem = Single(CheckCondition(When(NumberType, Between, min: "10", max: "5")));
        problem.Field.ShouldBe("draft_definition.conditions[0].min_value");
        problem.Reason.ShouldBe("must not be greater than max_value.");
    }

    [Fact]
    public void a_pattern_must_be_a_regular_expression()
    {
        Single(CheckCondition(When(StringType, Pattern, value: "(unclosed"))).Reason.ShouldBe("is not a valid pattern (regular expression).");
    }

    [Fact]
    public void a_condition_needs_an_attribute_name_and_a_known_type()
    {
        Single(CheckCondition(When(StringType, Exists, attribute: " "))).Field.ShouldBe("draft_definition.conditions[0].attribute_name");
        Single(CheckCondition(When("text", Exists))).Field.ShouldBe("draft_definition.conditions[0].type");
        Single(CheckCondition(When(null!, Exists))).Field.ShouldBe("draft_definition.conditions[0].type");
    }

    [Fact]
    public void problems_name_the_index_of_the_condition()
    {
        var problems = Check(Example() with { Conditions = [When(StringType, Exists), When(NumberType, Contains, value: "1"), When(StringType, EqualTo)] });
        problems.Select(p => p.Field).ShouldBe(["draft_definition.conditions[1].operator", "draft_definition.conditions[2].value"]);
    }

    // ---- time period ----

    [Theory]
    [InlineData(31, TimePeriodTypes.Days)]
    [InlineData(5, TimePeriodTypes.Weeks)]
    [InlineData(365, TimePeriodTypes.Days)]
    public void a_window_beyond_the_lookback_is_refused(int within, string unit)
    {
        var problem = Single(Check(Example() with { TimePeriod = Within(within, unit) }));
        problem.Field.ShouldBe("draft_definition.time_period.within");
        problem.Reason.ShouldBe("The within time period cannot exceed your configured retention period of 30 days.");
    }

    [Theory]
    [InlineData(30, TimePeriodTypes.Days)]
    [InlineData(4, TimePeriodTypes.Weeks)]
    [InlineData(1, TimePeriodTypes.Days)]
    public void a_window_up_to_the_lookback_is_valid(int within, string unit)
    {
        Check(Example() with { TimePeriod = Within(within, unit) }).ShouldBeEmpty();
    }

    [Fact]
    public void the_lookback_given_is_the_one_named()
    {
        var problems = DefinitionRules.Check(Example() with { TimePeriod = Within(91) }, 90, Now);
        Single(problems).Reason.ShouldBe("The within time period cannot exceed your configured retention period of 90 days.");
        DefinitionRules.Check(Example() with { TimePeriod = Within(90) }, 90, Now).ShouldBeEmpty();
    }

    [Theory]
    [InlineData(0, "days", "draft_definition.time_period.within")]
    [InlineData(-3, "days", "draft_definition.time_period.within")]
    [InlineData(3, "months", "draft_definition.time_period.within_unit")]
    public void a_window_needs_a_positive_length_in_days_or_weeks(int within, string unit, string field)
    {
        Single(Check(Example() with { TimePeriod = Within(within, unit) })).Field.ShouldBe(field);
    }

    [Fact]
    public void a_since_date_before_the_earliest_date_available_is_refused()
    {
        var problem = Single(Check(Example() with { TimePeriod = Since(new DateTimeOffset(2024, 4, 30, 23, 59, 59, TimeSpan.Zero)) }));
        problem.Field.ShouldBe("draft_definition.time_period.date");
        problem.Reason.ShouldBe("'time_period.date' must be on or after the earliest date available of 2024-05-01.");
    }

    [Fact]
    public void a_since_date_on_the_earliest_date_available_is_valid()
    {
        Check(Example() with { TimePeriod = Since(new DateTimeOffset(2024, 5, 1, 0, 0, 0, TimeSpan.Zero)) }).ShouldBeEmpty();
        Check(Example() with { TimePeriod = Since(Now) }).ShouldBeEmpty();
    }

    [Fact]
    public void a_since_period_needs_a_date_and_no_window()
    {
        Single(Check(Example() with { TimePeriod = new TimePeriod { Type = TimePeriodTypes.Since } })).Field.ShouldBe("draft_definition.time_period.date");
        Single(Check(Example() with { TimePeriod = Since(Now) with { Within = 3 } })).Field.ShouldBe("draft_definition.time_period.within");
        Single(Check(Example() with { TimePeriod = Within(3) with { Date = Now } })).Field.ShouldBe("draft_definition.time_period.date");
    }

    [Theory]
    [InlineData("all")]
    [InlineData("lifetime")]
    [InlineData(null)]
    public void only_within_and_since_periods_are_offered(string? type)
    {
        var problem = Single(Check(Example() with { TimePeriod = new TimePeriod { Type = type } }));
        problem.Field.ShouldBe("draft_definition.time_period.type");
        problem.Reason.ShouldBe("must be \"within\" or \"since\" (a lifetime period is not offered).");
    }

    [Fact]
    public void a_time_period_is_required()
    {
        Single(Check(Example() with { TimePeriod = null })).Field.ShouldBe("draft_definition.time_period");
    }

    // ---- data point and calculation ----

    [Theory]
    [InlineData(CalculationTypes.Sum)]
    [InlineData(CalculationTypes.Min)]
    [InlineData(CalculationTypes.Max)]
    [InlineData(CalculationTypes.Average)]
    [InlineData(CalculationTypes.MostFrequent)]
    [InlineData(CalculationTypes.UniqueValuesCount)]
    [InlineData(CalculationTypes.FirstValue)]
    [InlineData(CalculationTypes.LastValue)]
    [InlineData(CalculationTypes.UniqueList)]
    public void calculations_reading_an_attribute_need_its_name(string calculation)
    {
        var problem = Single(Check(OnPlay(calculation, attribute: null, Within(7))));
        problem.Field.ShouldBe("draft_definition.data_point.attribute_name");
        problem.Reason.ShouldBe($"is required for {calculation}.");
        Single(Check(OnPlay(calculation, attribute: "", Within(7)))).Field.ShouldBe("draft_definition.data_point.attribute_name");
    }

    [Theory]
    [InlineData(CalculationTypes.Count)]
    [InlineData(CalculationTypes.FirstTimestamp)]
    [InlineData(CalculationTypes.LastTimestamp)]
    public void counts_and_timestamps_need_no_attribute(string calculation)
    {
        Check(OnPlay(calculation, attribute: null, Within(7))).ShouldBeEmpty();
    }

    [Fact]
    public void a_product_attribute_on_a_custom_event_is_refused()
    {
        var definition = OnPlay(CalculationTypes.Sum, "price", Within(7));
        var problem = Single(Check(definition with { DataPoint = definition.DataPoint! with { AttributeCategory = AttributeCategories.Product } }));
        problem.Field.ShouldBe("draft_definition.data_point.attribute_category");
        problem.Reason.ShouldBe("product_attribute applies only to commerce_event.");
    }

    [Fact]
    public void an_unknown_attribute_category_is_refused()
    {
        var definition = OnPurchasedProducts(CalculationTypes.Sum, "price", period: Within(7));
        Single(Check(definition with { DataPoint = definition.DataPoint! with { AttributeCategory = "user_attribute" } }))
            .Field.ShouldBe("draft_definition.data_point.attribute_category");
    }

    [Fact]
    public void product_quantity_applies_only_to_commerce_events()
    {
        var definition = OnPlay(CalculationTypes.Average, "v", Within(7));
        Single(Check(definition with { DataPoint = definition.DataPoint! with { UseProductQuantity = true } }))
            .Field.ShouldBe("draft_definition.data_point.use_product_quantity");
    }

    [Fact]
    public void custom_event_type_applies_only_to_custom_and_commerce_events()
    {
        var definition = OnPlay(CalculationTypes.Count, null, Within(7));
        Check(definition with { DataPoint = definition.DataPoint! with { CustomEventType = "navigation" } }).ShouldBeEmpty();
        Single(Check(definition with { DataPoint = definition.DataPoint! with { EventType = "screen_view", CustomEventType = "navigation" } }))
            .Field.ShouldBe("draft_definition.data_point.custom_event_type");
    }

    [Fact]
    public void the_event_type_is_required_and_must_be_an_events_api_type()
    {
        var definition = OnPlay(CalculationTypes.Count, null, Within(7));
        Single(Check(definition with { DataPoint = definition.DataPoint! with { EventType = null } })).Field.ShouldBe("draft_definition.data_point.event_type");
        Single(Check(definition with { DataPoint = definition.DataPoint! with { EventType = "click" } })).Field.ShouldBe("draft_definition.data_point.event_type");
    }

    [Theory]
    [InlineData("custom_event", true)]
    [InlineData("screen_view", true)]
    [InlineData("commerce_event", false)]
    public void custom_events_and_screen_views_need_an_event_name(string eventType, bool required)
    {
        var definition = OnPlay(CalculationTypes.Count, null, Within(7));
        var problems = Check(definition with { DataPoint = definition.DataPoint! with { EventType = eventType, EventName = null } });
        if (required) Single(problems).Field.ShouldBe("draft_definition.data_point.event_name");
        else problems.ShouldBeEmpty();
    }

    [Fact]
    public void only_event_recipes_and_data_points_are_supported()
    {
        var definition = OnPlay(CalculationTypes.Count, null, Within(7));
        Single(Check(definition with { RecipeType = "user" })).Field.ShouldBe("draft_definition.recipe_type");
        Single(Check(definition with { DataPoint = definition.DataPoint! with { Type = "user_attribute" } })).Field.ShouldBe("draft_definition.data_point.type");
        Single(Check(definition with { DataPoint = null })).Field.ShouldBe("draft_definition.data_point");
    }

    [Fact]
    public void the_datapoint_spelling_is_accepted_too()
    {
        var definition = JsonSerializer.Deserialize<Definition>("""
            { "recipe_type": "event", "datapoint": { "type": "event", "event_name": "Play", "event_type": "custom_event" },
              "calculation_type": "count", "time_period": { "type": "within", "within": 7, "within_unit": "days" } }
            """)!;

        Check(definition).ShouldBeEmpty();
        definition.Normalized().DataPoint!.EventName.ShouldBe("Play");
        definition.Normalized().DataPointAlternateSpelling.ShouldBeNull();
    }

    [Theory]
    [InlineData(null, "draft_definition.calculation_type")]
    [InlineData("median", "draft_definition.calculation_type")]
    public void the_calculation_type_must_be_one_of_the_twelve(string? calculation, string field)
    {
        Single(Check(OnPlay(calculation!, "v", Within(7)))).Field.ShouldBe(field);
    }

    [Fact]
    public void seeding_needs_a_cutoff_date()
    {
        Single(Check(Example() with { Seeding = new Seeding() })).Field.ShouldBe("draft_definition.seeding.cutoff_date");
    }

    [Fact]
    public void a_missing_definition_is_refused_under_the_prefix_given()
    {
        Single(DefinitionRules.Check(null, Lookback, Now)).ShouldBe(new DefinitionProblem("draft_definition", "is required."));
        Single(DefinitionRules.Check(Example() with { TimePeriod = null }, Lookback, Now, "active_definition")).Field.ShouldBe("active_definition.time_period");
    }

    [Theory]
    [InlineData("", false)]
    [InlineData("  ", false)]
    [InlineData("orders_last_30d", true)]
    public void a_name_is_required(string name, bool valid)
    {
        (DefinitionRules.CheckName(name) is null).ShouldBe(valid);
    }

    [Fact]
    public void a_name_has_at_most_100_characters()
    {
        DefinitionRules.CheckName(new string('a', 100)).ShouldBeNull();
        DefinitionRules.CheckName(new string('a', 101))!.Reason.ShouldBe("must be at most 100 characters.");
    }
}
