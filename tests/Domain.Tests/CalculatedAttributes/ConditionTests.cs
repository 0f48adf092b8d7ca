using System.Text.Json;
using EventProfiles.Domain.CalculatedAttributes;
using static EventProfiles.Domain.CalculatedAttributes.ConditionOperators;
using static EventProfiles.Domain.Tests.CalculatedAttributes.CA;

namespace EventProfiles.Domain.Tests.CalculatedAttributes;

public class ConditionTests
{
    /// <summary>The attribute as raw JSON; the text MISSING stands for an event without the attribute.</summary>
    private static JsonElement? Attribute(string json) => json == "MISSING" ? null : Json(json);

    private static bool Holds(string type, string op, string attribute, string? value = null, string[]? values = null, string? min = null, string? max = null) =>
        ConditionEvaluator.Holds(When(type, op, value: value, values: values, min: min, max: max), Attribute(attribute));

    // ---- exists / not_exists / empty: every type ----

    [Theory]
    [InlineData(StringType, "\"x\"", true)]
    [InlineData(StringType, "\"\"", true)]
    [InlineData(StringType, "null", false)]
    [InlineData(StringType, "MISSING", false)]
    [InlineData(NumberType, "0", true)]
    [InlineData(NumberType, "MISSING", false)]
    [InlineData(BooleanType, "false", true)]
    [InlineData(BooleanType, "MISSING", false)]
    [InlineData(DateType, "\"2024-05-01\"", true)]
    [InlineData(DateType, "MISSING", false)]
    public void exists(string type, string attribute, bool expected)
    {
        Holds(type, Exists, attribute).ShouldBe(expected);
        Holds(type, NotExists, attribute).ShouldBe(!expected);
    }

    [Theory]
    [InlineData(StringType, "\"\"", true)]
    [InlineData(StringType, "\"   \"", true)]
    [InlineData(StringType, "null", true)]
    [InlineData(StringType, "\"x\"", false)]
    [InlineData(StringType, "MISSING", false)]
    [InlineData(NumberType, "null", true)]
    [InlineData(NumberType, "0", false)]
    [InlineData(BooleanType, "false", false)]
    [InlineData(BooleanType, "null", true)]
    [InlineData(DateType, "\"\"", true)]
    [InlineData(DateType, "\"2024-05-01\"", false)]
    public void empty(string type, string attribute, bool expected)
    {
        Holds(type, Empty, attribute).ShouldBe(expected);
    }

    // ---- string ----

    [Theory]
    [InlineData("\"gold\"", "gold", true)]
    [InlineData("\"Gold\"", "gOLD", true)]
    [InlineData("\"gold \"", "gold", false)]
    [InlineData("\"golden\"", "gold", false)]
    [InlineData("42", "42", true)]
    [InlineData("true", "TRUE", true)]
    [InlineData("MISSING", "gold", false)]
    [InlineData("null", "gold", false)]
    public void string_equals_ignores_case(string attribute, string value, bool expected)
    {
        Holds(StringType, EqualTo, attribute, value).ShouldBe(expected);
    }

    [Theory]
    [InlineData("\"silver\"", "gold", true)]
    [InlineData("\"GOLD\"", "gold", false)]
    [InlineData("MISSING", "gold", false)]
    public void string_not_equals(string attribute, string value, bool expected)
    {
        Holds(StringType, NotEquals, attribute, value).ShouldBe(expected);
    }

    [Theory]
    [InlineData("\"EUR\"", true)]
    [InlineData("\"aud\"", true)]
    [InlineData("\"USD\"", false)]
    [InlineData("\"EU\"", false)]
    [InlineData("MISSING", false)]
    public void string_in_list_ignores_case_and_the_single_value(string attribute, bool expected)
    {
        Holds(StringType, InList, attribute, value: "USD", values: ["eur", "AUD"]).ShouldBe(expected);
    }

    [Theory]
    [InlineData("\"Running Shoes\"", "shoe", true, false)]
    [InlineData("\"SHOES\"", "Shoe", true, false)]
    [InlineData("\"Boots\"", "shoe", false, true)]
    [InlineData("MISSING", "shoe", false, false)]
    public void string_contains_and_not_contains_ignore_case(string attribute, string value, bool contains, bool notContains)
    {
        Holds(StringType, Contains, attribute, value).ShouldBe(contains);
        Holds(StringType, NotContains, attribute, value).ShouldBe(notContains);
    }

    [Theory]
    [InlineData("\"order-123\"", @"^ORDER-\d+$", true)]
    [InlineData("\"order-abc\"", @"^ORDER-\d+$", false)]
    [InlineData("\"my order-1\"", @"order-\d", true)]
    [InlineData("\"my order-1\"", @"^order-\d", false)]
    [InlineData("MISSING", ".*", false)]
    public void string_pattern_is_a_case_insensitive_regular_expression(string attribute, string pattern, bool expected)
    {
        Holds(StringType, Pattern, attribute, pattern).ShouldBe(expected);
    }

    // ---- number ----

    [Theory]
    [InlineData("34.32", "34.32", true)]
    [InlineData("\"34.32\"", "34.32", true)]
    [InlineData("34.32", "34.320", true)]
    [InlineData("34", "34.32", false)]
    [InlineData("\"abc\"", "34.32", false)]
    [InlineData("MISSING", "34.32", false)]
    public void number_equals_compares_numbers_coercing_numeric_strings(string attribute, string value, bool expected)
    {
        Holds(NumberType, EqualTo, attribute, value).ShouldBe(expected);
    }

    [Theory]
    [InlineData("5", "6", true)]
    [InlineData("\"5.0\"", "5", false)]
    [InlineData("\"abc\"", "5", false)]
    [InlineData("MISSING", "5", false)]
    public void number_not_equals(string attribute, string value, bool expected)
    {
        Holds(NumberType, NotEquals, attribute, value).ShouldBe(expected);
    }

    [Theory]
    [InlineData("5", true)]
    [InlineData("\"2.50\"", true)]
    [InlineData("7", false)]
    [InlineData("MISSING", false)]
    public void number_in_list(string attribute, bool expected)
    {
        Holds(NumberType, InList, attribute, values: ["1", "2.5", "5.0"]).ShouldBe(expected);
    }

    [Theory]
    [InlineData("4.99", false, false, true, true)]
    [InlineData("5", false, true, false, true)]
    [InlineData("\"5.00\"", false, true, false, true)]
    [InlineData("5.01", true, true, false, false)]
    [InlineData("\"10\"", true, true, false, false)]
    public void number_comparisons(string attribute, bool greater, bool greaterOrEqual, bool less, bool lessOrEqual)
    {
        Holds(NumberType, GreaterThan, attribute, "5").ShouldBe(greater);
        Holds(NumberType, GreaterOrEqual, attribute, "5").ShouldBe(greaterOrEqual);
        Holds(NumberType, LessThan, attribute, "5").ShouldBe(less);
        Holds(NumberType, LessOrEqual, attribute, "5").ShouldBe(lessOrEqual);
    }

    [Theory]
    [InlineData(GreaterThan)]
    [InlineData(GreaterOrEqual)]
    [InlineData(LessThan)]
    [InlineData(LessOrEqual)]
    public void number_comparisons_fail_without_a_number(string op)
    {
        Holds(NumberType, op, "MISSING", "5").ShouldBeFalse();
        Holds(NumberType, op, "\"five\"", "5").ShouldBeFalse();
        Holds(NumberType, op, "true", "5").ShouldBeFalse();
    }

    [Theory]
    [InlineData("4.99", false)]
    [InlineData("5", true)]
    [InlineData("7.5", true)]
    [InlineData("\"10\"", true)]
    [InlineData("10.01", false)]
    [InlineData("MISSING", false)]
    public void number_between_includes_both_ends(string attribute, bool expected)
    {
        Holds(NumberType, Between, attribute, min: "5", max: "10").ShouldBe(expected);
    }

    [Theory]
    [InlineData(Contains)]
    [InlineData(NotContains)]
    [InlineData(Pattern)]
    [InlineData(Before)]
    public void operators_of_other_types_never_hold_for_a_number(string op)
    {
        Holds(NumberType, op, "5", "5").ShouldBeFalse();
    }

    // ---- boolean ----

    [Theory]
    [InlineData("true", "true", true)]
    [InlineData("true", "True", true)]
    [InlineData("\"TRUE\"", "true", true)]
    [InlineData("false", "false", true)]
    [InlineData("false", "true", false)]
    [InlineData("\"yes\"", "true", false)]
    [InlineData("1", "true", false)]
    [InlineData("MISSING", "false", false)]
    public void boolean_equals(string attribute, string value, bool expected)
    {
        Holds(BooleanType, EqualTo, attribute, value).ShouldBe(expected);
    }

    // ---- date ----

    [Theory]
    [InlineData("\"2024-05-01T13:00:00Z\"", "2024-05-01", true)]
    [InlineData("\"2024-05-01\"", "2024-05-01", true)]
    [InlineData("1714521600000", "2024-05-01", true)] // epoch ms of 2024-05-01T00:00:00Z
    [InlineData("\"2024-05-02T00:00:00Z\"", "2024-05-01", false)]
    [InlineData("\"2024-04-30T23:59:59Z\"", "2024-05-01", false)]
    [InlineData("\"2024-05-01T13:00:00+02:00\"", "2024-05-01T11:00:00Z", true)]
    [InlineData("\"2024-05-01T13:00:00Z\"", "2024-05-01T13:00:01Z", false)]
    [InlineData("\"not a date\"", "2024-05-01", false)]
    [InlineData("MISSING", "2024-05-01", false)]
    public void date_equals_a_day_or_an_instant(string attribute, string value, bool expected)
    {
        Holds(DateType, EqualTo, attribute, value).ShouldBe(expected);
    }

    [Theory]
    [InlineData("\"2024-04-30T23:59:59.999Z\"", true, false)]
    [InlineData("\"2024-05-01T00:00:00Z\"", false, false)]
    [InlineData("\"2024-05-01T23:59:59Z\"", false, false)]
    [InlineData("\"2024-05-02T00:00:00Z\"", false, true)]
    [InlineData("\"2024-05-02\"", false, true)]
    [InlineData("\"garbage\"", false, false)]
    [InlineData("MISSING", false, false)]
    public void before_and_after_a_day_exclude_that_day(string attribute, bool before, bool after)
    {
        Holds(DateType, Before, attribute, "2024-05-01").ShouldBe(before);
        Holds(DateType, After, attribute, "2024-05-01").ShouldBe(after);
    }

    [Theory]
    [InlineData("\"2024-05-01T11:59:59Z\"", true, false)]
    [InlineData("\"2024-05-01T12:00:00Z\"", false, false)]
    [InlineData("\"2024-05-01T12:00:01Z\"", false, true)]
    public void before_and_after_an_instant_exclude_that_instant(string attribute, bool before, bool after)
    {
        Holds(DateType, Before, attribute, "2024-05-01T12:00:00Z").ShouldBe(before);
        Holds(DateType, After, attribute, "2024-05-01T12:00:00Z").ShouldBe(after);
    }

    [Theory]
    [InlineData("\"2024-04-30T23:59:59Z\"", false)]
    [InlineData("\"2024-05-01T00:00:00Z\"", true)]
    [InlineData("\"2024-05-15\"", true)]
    [InlineData("\"2024-05-31T23:59:59Z\"", true)]
    [InlineData("\"2024-06-01T00:00:00Z\"", false)]
    [InlineData("MISSING", false)]
    public void between_dates_includes_both_days(string attribute, bool expected)
    {
        Holds(DateType, BetweenDates, attribute, min: "2024-05-01", max: "2024-05-31").ShouldBe(expected);
    }

    [Theory]
    [InlineData(GreaterThan)]
    [InlineData(Contains)]
    [InlineData(Between)]
    public void operators_of_other_types_never_hold_for_a_date(string op)
    {
        Holds(DateType, op, "\"2024-05-01\"", "2024-04-01", min: "2024-04-01", max: "2024-06-01").ShouldBeFalse();
    }

    // ---- conditions inside a calculation ----

    [Fact]
    public void only_events_whose_attributes_meet_every_condition_count()
    {
        var definition = OnPlay(CalculationTypes.Count, attribute: null, period: null,
            When(StringType, InList, attribute: "currency", values: ["EUR", "AUD"]),
            When(NumberType, GreaterThan, attribute: "amount", value: "10"));

        Text(definition,
            Custom("Play", T0, """{ "currency": "eur", "amount": "11" }"""),   // counts
            Custom("Play", T0, """{ "currency": "AUD", "amount": 50 }"""),     // counts
            Custom("Play", T0, """{ "currency": "USD", "amount": 50 }"""),     // currency not in the list
            Custom("Play", T0, """{ "currency": "EUR", "amount": 10 }"""),     // not greater than 10
            Custom("Play", T0, """{ "currency": "EUR" }"""),                   // lacks amount
            Custom("Play", T0, """{ "amount": 99 }""")).ShouldBe("2");         // lacks currency
    }

    [Fact]
    public void an_event_lacking_the_attribute_fails_even_a_negative_condition()
    {
        var definition = OnPlay(CalculationTypes.Sum, "v", null, When(StringType, NotEquals, attribute: "tier", value: "gold"));

        Text(definition,
            Play(T0, "1"),
            Custom("Play", T0, """{ "v": 10, "tier": "silver" }"""),
            Custom("Play", T0, """{ "v": 100, "tier": "GOLD" }""")).ShouldBe("10");
    }
}
