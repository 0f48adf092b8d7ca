using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Profiles;
using static EventProfiles.Domain.Tests.CalculatedAttributes.CA;

namespace EventProfiles.Domain.Tests.CalculatedAttributes;

public class CalculationTypeTests
{
    private static EventCaptured[] Plays(params string[] valuesJson) =>
        valuesJson.Select((v, i) => Play(T0.AddMinutes(i), v)).ToArray();

    private static string? TextOf(string calculation, params string[] valuesJson) => Text(OnPlay(calculation), Plays(valuesJson));

    [Fact]
    public void the_twelve_calculation_types_are_known()
    {
        CalculationTypes.All.ShouldBe([
            "count", "sum", "min", "max", "average", "most_frequent", "unique_values_count",
            "first_occurrence", "last_occurrence", "first_occurrence_timestamp", "last_occurrence_timestamp", "unique_list"]);
    }

    // ---- count ----

    [Fact]
    public void count_counts_the_matching_events_only()
    {
        Text(OnPlay(CalculationTypes.Count, attribute: null),
            Play(T0, "1"), Custom("Pause", T0.AddMinutes(1)), Play(T0.AddMinutes(2), "\"x\""), Custom("Play", T0.AddMinutes(3))).ShouldBe("3");
    }

    [Fact]
    public void count_of_no_events_is_zero()
    {
        var definition = Activate(OnPlay(CalculationTypes.Count, attribute: null));
        var person = Fold(definition, T0, Custom("Pause", T0));
        StateOf(person).ShouldBeNull();
        CalculatedAttributeValues.ValueAt(definition, T0, Calculation.For(definition))!.Text.ShouldBe("0");
    }

    // ---- sum ----

    [Fact]
    public void sum_adds_numbers_and_numeric_strings()
    {
        TextOf(CalculationTypes.Sum, "10", "\"34.32\"", "0.68", "\" 5 \"").ShouldBe("50");
        TextOf(CalculationTypes.Sum, "\"34.32\"").ShouldBe("34.32");
        TextOf(CalculationTypes.Sum, "1.25", "-3").ShouldBe("-1.75");
    }

    [Fact]
    public void sum_ignores_values_that_are_not_numbers_and_events_without_the_attribute()
    {
        Text(OnPlay(CalculationTypes.Sum),
            Play(T0, "\"abc\""), Play(T0, "true"), Play(T0, "null"), Play(T0, "\"\""), Play(T0, "7"), Custom("Play", T0, """{ "other": 100 }""")).ShouldBe("7");
    }

    [Fact]
    public void sum_with_nothing_to_add_is_empty_while_a_count_is_zero()
    {
        Text(OnPlay(CalculationTypes.Sum)).ShouldBeNull(); // no state at all: no value
        var sum = Activate(OnPlay(CalculationTypes.Sum));
        CalculatedAttributeValues.ValueAt(sum, T0, Calculation.For(sum)).ShouldBeNull();
        var count = Activate(OnPlay(CalculationTypes.Count, null));
        CalculatedAttributeValues.ValueAt(count, T0, Calculation.For(count))!.Text.ShouldBe("0");
    }

    [Fact]
    public void a_sum_of_values_none_of_which_is_a_number_is_empty()
    {
        TextOf(CalculationTypes.Sum, "\"abc\"", "true", "\"\"").ShouldBeNull();
    }

    [Fact]
    public void numbers_are_written_as_the_shortest_exact_invariant_decimal()
    {
        TextOf(CalculationTypes.Sum, "\"12.50\"").ShouldBe("12.5");
        TextOf(CalculationTypes.Sum, "1e3").ShouldBe("1000");
        TextOf(CalculationTypes.Max, "0.0000001").ShouldBe("0.0000001");
        TextOf(CalculationTypes.Sum, "0.1", "0.2").ShouldBe("0.3");
    }

    // ---- min / max ----

    [Fact]
    public void min_is_the_smallest_number_seen()
    {
        TextOf(CalculationTypes.Min, "3", "\"-2.5\"", "7", "\"x\"").ShouldBe("-2.5");
        TextOf(CalculationTypes.Min, "\"34.32\"", "100").ShouldBe("34.32");
    }

    [Fact]
    public void max_is_the_largest_number_seen()
    {
        TextOf(CalculationTypes.Max, "3", "\"-2.5\"", "7", "\"99x\"").ShouldBe("7");
        TextOf(CalculationTypes.Max, "\"34.32\"", "-100").ShouldBe("34.32");
    }

    [Theory]
    [InlineData(CalculationTypes.Min)]
    [InlineData(CalculationTypes.Max)]
    [InlineData(CalculationTypes.Average)]
    public void min_max_and_average_have_no_value_when_nothing_is_a_number(string calculation)
    {
        TextOf(calculation, "\"abc\"", "true", "\"\"").ShouldBeNull();
    }

    [Fact]
    public void the_seeding_api_spellings_minimum_and_maximum_mean_min_and_max()
    {
        TextOf("minimum", "3", "1", "2").ShouldBe("1");
        TextOf("maximum", "3", "1", "2").ShouldBe("3");
        OnPlay("minimum").Normalized().CalculationType.ShouldBe(CalculationTypes.Min);
        OnPlay("maximum").Normalized().CalculationType.ShouldBe(CalculationTypes.Max);
    }

    // ---- average ----

    [Fact]
    public void average_is_sum_over_count_of_the_numbers()
    {
        TextOf(CalculationTypes.Average, "10", "20", "\"30\"", "\"n/a\"").ShouldBe("20");
        TextOf(CalculationTypes.Average, "1", "2").ShouldBe("1.5");
        TextOf(CalculationTypes.Average, "1", "1", "2").ShouldBe("1.3333333333");
    }

    [Fact]
    public void a_commerce_average_of_price_is_weighted_by_quantity_when_asked()
    {
        var first = Commerce(T0, """[ { "id": "a", "price": 10, "quantity": 3 }, { "id": "b", "price": "20", "quantity": 1 } ]""");
        var second = Commerce(T0.AddMinutes(1), """[ { "id": "c", "price": 5, "quantity": "2" } ]""");

        // (10·3 + 20·1 + 5·2) / (3 + 1 + 2) = 60 / 6
        Text(OnPurchasedProducts(CalculationTypes.Average, "price", useQuantity: true), first, second).ShouldBe("10");
        // unweighted: (10 + 20 + 5) / 3
        Text(OnPurchasedProducts(CalculationTypes.Average, "price", useQuantity: false), first, second).ShouldBe("11.6666666667");
    }

    // ---- most frequent ----

    [Fact]
    public void most_frequent_is_the_value_seen_most_often()
    {
        TextOf(CalculationTypes.MostFrequent, "\"b\"", "\"a\"", "\"b\"", "\"c\"", "\"b\"", "\"a\"").ShouldBe("b");
    }

    [Fact]
    public void a_most_frequent_tie_goes_to_the_alphabetically_first_value()
    {
        TextOf(CalculationTypes.MostFrequent, "\"pear\"", "\"apple\"", "\"pear\"", "\"apple\"", "\"fig\"").ShouldBe("apple");
        TextOf(CalculationTypes.MostFrequent, "\"zebra\"", "\"mango\"").ShouldBe("mango");
    }

    [Fact]
    public void most_frequent_keeps_the_type_of_the_attribute_as_text()
    {
        TextOf(CalculationTypes.MostFrequent, "3", "4", "3").ShouldBe("3");
        TextOf(CalculationTypes.MostFrequent, "true", "false", "true").ShouldBe("true");
    }

    [Fact]
    public void a_commerce_most_frequent_counts_product_quantities_when_asked()
    {
        var socks = Commerce(T0, """[ { "name": "socks", "quantity": 5 } ]""");
        var hats = Commerce(T0.AddMinutes(1), """[ { "name": "hat", "quantity": 1 }, { "name": "hat", "quantity": 1 } ]""");

        Text(OnPurchasedProducts(CalculationTypes.MostFrequent, "name", useQuantity: true), socks, hats).ShouldBe("socks");
        Text(OnPurchasedProducts(CalculationTypes.MostFrequent, "name", useQuantity: false), socks, hats).ShouldBe("hat");
    }

    [Fact]
    public void most_frequent_tracks_the_first_100_values_and_keeps_counting_them()
    {
        var events = new List<EventCaptured>();
        for (var i = 0; i < 100; i++) events.Add(Play(T0.AddMinutes(i), $"\"v{i:000}\""));
        for (var i = 0; i < 5; i++) events.Add(Play(T0.AddHours(2).AddMinutes(i), "\"late\"")); // the 101st value: not tracked
        events.Add(Play(T0.AddHours(3), "\"v050\""));
        events.Add(Play(T0.AddHours(3).AddMinutes(1), "\"v050\""));

        var definition = Activate(OnPlay(CalculationTypes.MostFrequent));
        var state = StateOf(Fold(definition, T0.AddDays(1), events.ToArray()))!;
        CalculatedAttributeValues.ValueAt(definition, T0.AddDays(1), state)!.Text.ShouldBe("v050");
        state.Total!.Frequencies!.Count.ShouldBe(Aggregate.ValueCap);
        state.Total.Frequencies.ShouldNotContainKey("late");
        state.Total.Frequencies["v050"].ShouldBe(3);
    }

    // ---- unique values count ----

    [Fact]
    public void unique_values_count_counts_distinct_values()
    {
        TextOf(CalculationTypes.UniqueValuesCount, "\"a\"", "\"b\"", "\"a\"", "\"c\"", "\"b\"").ShouldBe("3");
        TextOf(CalculationTypes.UniqueValuesCount, "1", "\"1\"", "2").ShouldBe("2"); // both read as the text 1
    }

    [Fact]
    public void unique_values_count_is_not_capped_at_100()
    {
        TextOf(CalculationTypes.UniqueValuesCount, Enumerable.Range(0, 150).Select(i => $"\"v{i}\"").ToArray()).ShouldBe("150");
    }

    // ---- first / last value ----

    [Fact]
    public void first_and_last_occurrence_take_the_value_of_the_earliest_and_latest_event_whatever_the_order_of_arrival()
    {
        var events = new[] { Play(T0.AddHours(2), "\"middle\""), Play(T0.AddHours(3), "\"latest\""), Play(T0.AddHours(1), "\"earliest\"") };

        Text(OnPlay(CalculationTypes.FirstValue), events).ShouldBe("earliest");
        Text(OnPlay(CalculationTypes.LastValue), events).ShouldBe("latest");
    }

    [Fact]
    public void first_and_last_occurrence_skip_events_without_the_attribute()
    {
        var events = new[] { Custom("Play", T0), Play(T0.AddHours(1), "\"a\""), Play(T0.AddHours(2), "42"), Custom("Play", T0.AddHours(3)) };

        Text(OnPlay(CalculationTypes.FirstValue), events).ShouldBe("a");
        Text(OnPlay(CalculationTypes.LastValue), events).ShouldBe("42");
    }

    // ---- first / last timestamp ----

    [Fact]
    public void first_and_last_occurrence_timestamps_are_iso_8601_utc_with_seven_fractional_digits()
    {
        var first = DateTimeOffset.Parse("2020-01-10T22:14:47.105Z", System.Globalization.CultureInfo.InvariantCulture);
        var events = new[] { Custom("Play", first.AddDays(1)), Custom("Play", first), Custom("Play", first.AddHours(5).AddTicks(1234567)) };

        Text(OnPlay(CalculationTypes.FirstTimestamp, attribute: null), events).ShouldBe("2020-01-10T22:14:47.1050000Z");
        Text(OnPlay(CalculationTypes.LastTimestamp, attribute: null), events).ShouldBe("2020-01-11T22:14:47.1050000Z");
        Text(OnPlay(CalculationTypes.LastTimestamp, attribute: null), events[1], events[2]).ShouldBe("2020-01-11T03:14:47.2284567Z");
    }

    [Fact]
    public void timestamps_given_with_an_offset_are_shown_in_utc()
    {
        var at = new DateTimeOffset(2024, 5, 1, 2, 30, 0, TimeSpan.FromHours(2));
        Text(OnPlay(CalculationTypes.FirstTimestamp, attribute: null), Custom("Play", at)).ShouldBe("2024-05-01T00:30:00.0000000Z");
    }

    // ---- unique list ----

    [Fact]
    public void unique_list_reads_back_the_distinct_values_alphabetically()
    {
        var value = ValueOf(Activate(OnPlay(CalculationTypes.UniqueList)), T0.AddDays(1), Plays("\"pear\"", "\"apple\"", "\"fig\"", "\"apple\"", "\"pear\""))!;

        value.Text.ShouldBeNull();
        value.List.ShouldBe(["apple", "fig", "pear"]);
    }

    [Fact]
    public void unique_list_keeps_the_first_100_values_in_order_of_collection()
    {
        // Collected in reverse alphabetical order: the 101st collected (v000) is the one left out.
        var values = Enumerable.Range(0, 101).Reverse().Select(i => $"\"v{i:000}\"").ToArray();
        var list = List(OnPlay(CalculationTypes.UniqueList), Plays(values))!;

        list.Count.ShouldBe(100);
        list.ShouldNotContain("v000");
        list[0].ShouldBe("v001");
        list[99].ShouldBe("v100");
    }

    [Fact]
    public void unique_list_has_no_value_when_nothing_was_collected()
    {
        var definition = Activate(OnPlay(CalculationTypes.UniqueList));
        CalculatedAttributeValues.ValueAt(definition, T0, Calculation.For(definition)).ShouldBeNull();
    }

    // ---- across types ----

    [Theory]
    [InlineData(CalculationTypes.Count, "2")]
    [InlineData(CalculationTypes.Sum, "46.64")]
    [InlineData(CalculationTypes.Min, "12.32")]
    [InlineData(CalculationTypes.Max, "34.32")]
    [InlineData(CalculationTypes.Average, "23.32")]
    [InlineData(CalculationTypes.MostFrequent, "12.32")]
    [InlineData(CalculationTypes.UniqueValuesCount, "2")]
    [InlineData(CalculationTypes.FirstValue, "34.32")]
    [InlineData(CalculationTypes.LastValue, "12.32")]
    [InlineData(CalculationTypes.FirstTimestamp, "2024-05-01T00:00:00.0000000Z")]
    [InlineData(CalculationTypes.LastTimestamp, "2024-05-01T00:01:00.0000000Z")]
    public void every_type_reads_the_same_two_events(string calculation, string expected)
    {
        // 34.32 as a number, then "12.32" as a string; events of another name never count.
        var events = new[] { Play(T0, "34.32"), Custom("Other", T0.AddSeconds(30), """{ "v": 1000 }"""), Play(T0.AddMinutes(1), "\"12.32\"") };
        var attribute = CalculationTypes.NeedsAttribute(calculation) ? "v" : null;

        Text(OnPlay(calculation, attribute), events).ShouldBe(expected);
    }
}
