using System.Text.Json;
using EventProfiles.Domain.CalculatedAttributes;
using static EventProfiles.Domain.Tests.CalculatedAttributes.CA;

namespace EventProfiles.Domain.Tests.CalculatedAttributes;

public class MergeTests
{
    private static Observation O(int minute, string? valueJson, decimal quantity = 1) =>
        new(T0.AddMinutes(minute), valueJson is null ? null : Json(valueJson), quantity);

    /// <summary>Observations in time order, with repeats, ties in time, numeric strings, non-numbers and quantities.</summary>
    private static readonly Observation[] Observations =
    [
        O(0, "\"b\""), O(1, "5"), O(1, "\"a\"", 3), O(2, "\"34.32\""), O(3, "\"b\"", 2), O(3, "\"c\""), O(4, "-1"),
        O(5, "\"a\""), O(6, "true"), O(7, "2.5", 4), O(8, "\"c\""), O(9, "\"b\""), O(9, "\"z\""), O(10, "\"a\""),
    ];

    private static Aggregate Observed(string calculation, IEnumerable<Observation> observations)
    {
        var aggregate = new Aggregate();
        foreach (var o in observations) aggregate.Observe(calculation, o);
        return aggregate;
    }

    public static TheoryData<string> Types => new(CalculationTypes.All);

    [Theory]
    [MemberData(nameof(Types))]
    public void merging_parts_in_time_order_equals_observing_in_time_order(string calculation)
    {
        var whole = Observed(calculation, Observations).Result(calculation);
        whole.ShouldNotBeNull();

        for (var split = 0; split <= Observations.Length; split++)
        {
            var merged = Observed(calculation, Observations.Take(split));
            merged.Merge(Observed(calculation, Observations.Skip(split)));
            var result = merged.Result(calculation)!;
            result.Text.ShouldBe(whole.Text, $"split at {split}");
            result.List.ShouldBe(whole.List, $"split at {split}");
        }

        // three parts
        var three = Observed(calculation, Observations.Take(4));
        three.Merge(Observed(calculation, Observations.Skip(4).Take(5)));
        three.Merge(Observed(calculation, Observations.Skip(9)));
        three.Result(calculation)!.Text.ShouldBe(whole.Text);
        three.Result(calculation)!.List.ShouldBe(whole.List);
    }

    [Theory]
    [InlineData(CalculationTypes.Count, "14")]
    [InlineData(CalculationTypes.Sum, "48.32")] // 5 + 34.32 + -1 + 2.5·4
    [InlineData(CalculationTypes.Min, "-1")]
    [InlineData(CalculationTypes.Max, "34.32")]
    [InlineData(CalculationTypes.Average, "6.9028571429")] // 48.32 / (1 + 1 + 1 + 4), rounded to 10 places
    [InlineData(CalculationTypes.MostFrequent, "a")] // a: 3+1+1 = 5, b: 1+2+1 = 4
    [InlineData(CalculationTypes.UniqueValuesCount, "9")] // b 5 a 34.32 c -1 true 2.5 z
    [InlineData(CalculationTypes.FirstValue, "b")]
    [InlineData(CalculationTypes.LastValue, "a")]
    [InlineData(CalculationTypes.FirstTimestamp, "2024-05-01T00:00:00.0000000Z")]
    [InlineData(CalculationTypes.LastTimestamp, "2024-05-01T00:10:00.0000000Z")]
    public void the_observations_give_these_values(string calculation, string expected)
    {
        Observed(calculation, Observations).Result(calculation)!.Text.ShouldBe(expected);
    }

    [Fact]
    public void the_observations_give_this_unique_list()
    {
        Observed(CalculationTypes.UniqueList, Observations).Result(CalculationTypes.UniqueList)!.List
            .ShouldBe(["-1", "2.5", "34.32", "5", "a", "b", "c", "true", "z"]);
    }

    [Fact]
    public void on_a_tie_in_time_first_keeps_the_earlier_part_and_last_takes_the_later_part()
    {
        var earlier = Observed(CalculationTypes.FirstValue, [O(1, "\"x\"")]);
        earlier.Merge(Observed(CalculationTypes.FirstValue, [O(1, "\"y\"")]));
        earlier.Result(CalculationTypes.FirstValue)!.Text.ShouldBe("x");

        var later = Observed(CalculationTypes.LastValue, [O(1, "\"x\"")]);
        later.Merge(Observed(CalculationTypes.LastValue, [O(1, "\"y\"")]));
        later.Result(CalculationTypes.LastValue)!.Text.ShouldBe("y");
    }

    [Fact]
    public void merging_unique_lists_keeps_the_cap_of_100_in_order_of_collection()
    {
        var first = Observed(CalculationTypes.UniqueList, Enumerable.Range(0, 60).Select(i => O(i, $"\"b{i:000}\"")));
        var second = Observed(CalculationTypes.UniqueList, Enumerable.Range(0, 60).Select(i => O(100 + i, $"\"a{i:000}\"")));
        first.Merge(second);

        var list = first.Result(CalculationTypes.UniqueList)!.List!;
        list.Count.ShouldBe(100);
        list.ShouldContain("a039");
        list.ShouldNotContain("a040");
        list.ShouldContain("b059");
    }

    [Fact]
    public void each_part_counts_at_most_100_values_of_its_own_so_a_merge_can_differ_from_one_pass_only_past_the_cap()
    {
        // Documented approximation (docs/compatibility.md): parts (time buckets, replayed/live) cap most_frequent
        // separately. Earlier part: "zz" once. Later part: 100 new values, then "zz" five more times.
        var observations = new List<Observation> { O(0, "\"zz\"") };
        observations.AddRange(Enumerable.Range(0, 100).Select(i => O(1, $"\"n{i:000}\"")));
        observations.AddRange(Enumerable.Range(0, 5).Select(_ => O(2, "\"zz\"")));

        Observed(CalculationTypes.MostFrequent, observations).Result(CalculationTypes.MostFrequent)!.Text.ShouldBe("zz");

        var merged = Observed(CalculationTypes.MostFrequent, observations.Take(1));
        merged.Merge(Observed(CalculationTypes.MostFrequent, observations.Skip(1)));
        merged.Frequencies!.Count.ShouldBe(100); // still bounded
        merged.Result(CalculationTypes.MostFrequent)!.Text.ShouldBe("n000");
    }

    [Fact]
    public void a_copy_gives_the_same_result_and_is_independent()
    {
        var original = Observed(CalculationTypes.UniqueList, [O(0, "\"a\"")]);
        var copy = original.Copy();
        copy.Observe(CalculationTypes.UniqueList, O(1, "\"b\""));

        original.Result(CalculationTypes.UniqueList)!.List.ShouldBe(["a"]);
        copy.Result(CalculationTypes.UniqueList)!.List.ShouldBe(["a", "b"]);
    }

    // ---- replayed part + live part ----

    [Fact]
    public void the_value_combines_the_replayed_and_live_parts_of_the_same_activation()
    {
        var definition = Activate(OnPlay(CalculationTypes.Count, null, Since(T0)));
        var replayed = StateOf(Fold(definition, T0.AddDays(1), Custom("Play", T0.AddHours(1)), Custom("Play", T0.AddHours(2))));
        var live = StateOf(Fold(definition, T0.AddDays(1), Custom("Play", T0.AddHours(3))));

        CalculatedAttributeValues.ValueAt(definition, T0.AddDays(1), replayed, live)!.Text.ShouldBe("3");
        CalculatedAttributeValues.ValueAt(definition, T0.AddDays(1), replayed, null)!.Text.ShouldBe("2");
    }

    [Fact]
    public void a_part_built_for_another_activation_is_ignored()
    {
        var definition = Activate(OnPlay(CalculationTypes.Count, null, Since(T0)));
        var earlierActivation = definition with { Activation = Guid.NewGuid() };
        var stale = StateOf(Fold(earlierActivation, T0.AddDays(1), Enumerable.Range(0, 10).Select(i => Custom("Play", T0.AddHours(i))).ToArray()));
        var live = StateOf(Fold(definition, T0.AddDays(1), Custom("Play", T0.AddHours(3))));

        CalculatedAttributeValues.ValueAt(definition, T0.AddDays(1), stale, live)!.Text.ShouldBe("1");
        CalculatedAttributeValues.ValueAt(definition, T0.AddDays(1), stale).ShouldBeNull();
        CalculatedAttributeValues.ValueAt(definition, T0.AddDays(1)).ShouldBeNull();
    }

    [Theory]
    [InlineData(CalculationTypes.FirstValue, "replayed-1")]
    [InlineData(CalculationTypes.LastValue, "live-2")]
    [InlineData(CalculationTypes.UniqueValuesCount, "4")]
    [InlineData(CalculationTypes.MostFrequent, "live-2")]
    public void replayed_and_live_parts_merge_in_time_order(string calculation, string expected)
    {
        var definition = Activate(OnPlay(calculation, "v", Since(T0)));
        var replayed = StateOf(Fold(definition, T0.AddDays(1), Play(T0.AddHours(1), "\"replayed-1\""), Play(T0.AddHours(2), "\"replayed-2\"")));
        var live = StateOf(Fold(definition, T0.AddDays(1),
            Play(T0.AddHours(3), "\"live-1\""), Play(T0.AddHours(4), "\"live-2\""), Play(T0.AddHours(5), "\"live-2\"")));

        CalculatedAttributeValues.ValueAt(definition, T0.AddDays(1), replayed, live)!.Text.ShouldBe(expected);
        CalculatedAttributeValues.ValueAt(definition, T0.AddDays(1), live, replayed)!.Text.ShouldBe(expected);
    }

    [Fact]
    public void replayed_and_live_parts_of_a_rolling_window_expire_bucket_by_bucket()
    {
        var definition = Activate(OnPlay(CalculationTypes.Sum, "v", Within(1)));
        var now = T0.AddHours(5);
        var replayed = StateOf(Fold(definition, now, Play(T0.AddHours(1), "1"), Play(T0.AddHours(2).AddMinutes(10), "10")));
        var live = StateOf(Fold(definition, now, Play(T0.AddHours(2).AddMinutes(50), "100"), Play(T0.AddHours(4), "1000")));

        CalculatedAttributeValues.ValueAt(definition, now, replayed, live)!.Text.ShouldBe("1111");
        CalculatedAttributeValues.ValueAt(definition, T0.AddDays(1).AddHours(2), replayed, live)!.Text.ShouldBe("1110");
        CalculatedAttributeValues.ValueAt(definition, T0.AddDays(1).AddHours(3), replayed, live)!.Text.ShouldBe("1000");
        CalculatedAttributeValues.ValueAt(definition, T0.AddDays(1).AddHours(5), replayed, live).ShouldBeNull(); // nothing left to add: empty
    }

    [Fact]
    public void a_reactivated_definition_starts_again_on_the_person()
    {
        var first = Activate(OnPlay(CalculationTypes.Count, null, Since(T0)));
        var second = first with { Activation = Guid.NewGuid() };
        var person = Fold(first, T0.AddDays(1), Custom("Play", T0.AddHours(1)), Custom("Play", T0.AddHours(2)));
        person.Observe(second, Custom("Play", T0.AddHours(3)), T0.AddDays(1));

        StateOf(person)!.Activation.ShouldBe(second.Activation);
        CalculatedAttributeValues.ValueAt(second, T0.AddDays(1), StateOf(person))!.Text.ShouldBe("1");
        CalculatedAttributeValues.ValueAt(first, T0.AddDays(1), StateOf(person)).ShouldBeNull();
    }

    [Fact]
    public void observations_carry_no_value_for_counts_and_timestamps()
    {
        var definition = Activate(OnPlay(CalculationTypes.LastTimestamp, null));
        var observed = definition.Observe(Play(T0, "1")).ToList();

        observed.Count.ShouldBe(1);
        observed[0].At.ShouldBe(T0);
        observed[0].Value.ShouldBeNull();
        observed[0].Quantity.ShouldBe(1m);
        Activate(OnPlay(CalculationTypes.Sum)).Observe(Play(T0, "\"4.5\"")).Single().Value!.Value.ValueKind.ShouldBe(JsonValueKind.String);
    }
}
