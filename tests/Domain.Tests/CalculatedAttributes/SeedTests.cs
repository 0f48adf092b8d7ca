using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Profiles;
using static EventProfiles.Domain.Tests.CalculatedAttributes.CA;

namespace EventProfiles.Domain.Tests.CalculatedAttributes;

public class SeedTests
{
    /// <summary>Seeding cutoff 2024-05-10: live data counts from that day on.</summary>
    private static readonly DateTimeOffset Cutoff = new(2024, 5, 10, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateOnly CutoffDay = new(2024, 5, 10);

    private static Definition Seeded(string calculation, TimePeriod? period = null) =>
        OnPlay(calculation, CalculationTypes.NeedsAttribute(calculation) ? "v" : null, period ?? Since(T0)) with { Seeding = new Seeding { CutoffDate = Cutoff } };

    private static CalculatedAttributeSeeded Seed(string calculation, string seedJson, DateTimeOffset? sentAt = null, DateOnly? cutoff = null, string name = Name, int workspace = Workspace) =>
        new(workspace, name, calculation, cutoff ?? CutoffDay, Json(seedJson), sentAt ?? T0);

    private static CalculatedValue? SeededValue(ActiveDefinition definition, DateTimeOffset now, CalculatedAttributeSeeded seed, params EventCaptured[] events)
    {
        var person = Fold(definition, now, events);
        person.TakeSeed(definition, seed);
        return CalculatedAttributeValues.ValueAt(definition, now, StateOf(person));
    }

    // ---- formats ----

    [Theory]
    [InlineData("count", """{ "value": 5 }""")]
    [InlineData("count", """{ "value": "5" }""")]
    [InlineData("count", """{ "value": 0 }""")]
    [InlineData("sum", """{ "value": -12.5 }""")]
    [InlineData("sum", """{ "value": "34.32" }""")]
    [InlineData("min", """{ "value": 1 }""")]
    [InlineData("minimum", """{ "value": 1 }""")]
    [InlineData("max", """{ "value": 1 }""")]
    [InlineData("maximum", """{ "value": "1.5" }""")]
    [InlineData("average", """{ "key_value_pairs": { "sum": 30, "count": 3 } }""")]
    [InlineData("average", """{ "key_value_pairs": { "sum": "30.5", "count": "1" } }""")]
    [InlineData("most_frequent", """{ "key_value_pairs": { "a": 3, "b": 1 } }""")]
    [InlineData("most_frequent", """{ "key_value_pairs": { } }""")]
    [InlineData("unique_values_count", """{ "list": ["a", "b"] }""")]
    [InlineData("unique_list", """{ "list": ["a", "b", 3] }""")]
    [InlineData("first_occurrence", """{ "value": "x" }""")]
    [InlineData("last_occurrence", """{ "value": 42 }""")]
    [InlineData("first_occurrence_timestamp", """{ "value": 1578694487105 }""")]
    [InlineData("last_occurrence_timestamp", """{ "value": "1578694487105" }""")]
    public void a_seed_in_the_format_of_its_calculation_type_is_accepted(string calculation, string seed)
    {
        Seeds.Problem(calculation, Json(seed)).ShouldBeNull();
    }

    [Theory]
    [InlineData("count", """{ "value": -1 }""")]
    [InlineData("count", """{ "value": 1.5 }""")]
    [InlineData("count", """{ "value": "many" }""")]
    [InlineData("count", """{ }""")]
    [InlineData("count", """{ "list": [1] }""")]
    [InlineData("sum", """{ "value": "abc" }""")]
    [InlineData("sum", """{ "value": null }""")]
    [InlineData("min", """{ "value": true }""")]
    [InlineData("max", """{ "key_value_pairs": { "max": 1 } }""")]
    [InlineData("average", """{ "key_value_pairs": { "sum": 30, "count": 0 } }""")]
    [InlineData("average", """{ "key_value_pairs": { "count": 3 } }""")]
    [InlineData("average", """{ "key_value_pairs": { "sum": "x", "count": 3 } }""")]
    [InlineData("average", """{ "value": 10 }""")]
    [InlineData("most_frequent", """{ "key_value_pairs": { "a": "often" } }""")]
    [InlineData("most_frequent", """{ "key_value_pairs": { "a": -1 } }""")]
    [InlineData("most_frequent", """{ "list": ["a"] }""")]
    [InlineData("unique_values_count", """{ "value": 2 }""")]
    [InlineData("unique_list", """{ "list": "a" }""")]
    [InlineData("first_occurrence", """{ }""")]
    [InlineData("last_occurrence", """{ "value": null }""")]
    [InlineData("first_occurrence_timestamp", """{ "value": "soon" }""")]
    [InlineData("last_occurrence_timestamp", """{ "value": true }""")]
    [InlineData("median", """{ "value": 1 }""")]
    [InlineData("count", "5")]
    [InlineData("unique_list", """["a"]""")]
    public void a_seed_in_another_format_is_refused(string calculation, string seed)
    {
        Seeds.Problem(calculation, Json(seed)).ShouldNotBeNull();
    }

    [Theory]
    [InlineData("count", """{ "value": 5 }""", "5")]
    [InlineData("count", """{ "value": "7" }""", "7")]
    [InlineData("sum", """{ "value": "34.32" }""", "34.32")]
    [InlineData("min", """{ "value": -3 }""", "-3")]
    [InlineData("max", """{ "value": 99.9 }""", "99.9")]
    [InlineData("average", """{ "key_value_pairs": { "sum": 30, "count": 4 } }""", "7.5")]
    [InlineData("most_frequent", """{ "key_value_pairs": { "pear": 2, "apple": 2, "fig": 1 } }""", "apple")]
    [InlineData("unique_values_count", """{ "list": ["a", "b", "a", "c"] }""", "3")]
    [InlineData("first_occurrence", """{ "value": "first" }""", "first")]
    [InlineData("last_occurrence", """{ "value": 42 }""", "42")]
    [InlineData("first_occurrence_timestamp", """{ "value": 1578694487105 }""", "2020-01-10T22:14:47.1050000Z")]
    [InlineData("last_occurrence_timestamp", """{ "value": "1578694487105" }""", "2020-01-10T22:14:47.1050000Z")]
    public void a_seed_alone_gives_its_value(string calculation, string seed, string expected)
    {
        var definition = Activate(Seeded(calculation));
        SeededValue(definition, Cutoff, Seed(calculation, seed))!.Text.ShouldBe(expected);
    }

    [Fact]
    public void a_unique_list_seed_reads_back_alphabetically_without_duplicates_and_capped()
    {
        var definition = Activate(Seeded(CalculationTypes.UniqueList));
        SeededValue(definition, Cutoff, Seed("unique_list", """{ "list": ["pear", "apple", "pear", 7] }"""))!.List.ShouldBe(["7", "apple", "pear"]);

        var many = "[" + string.Join(",", Enumerable.Range(0, 120).Select(i => $"\"v{i:000}\"")) + "]";
        var capped = SeededValue(definition, Cutoff, Seed("unique_list", $$"""{ "list": {{many}} }"""))!.List!;
        capped.Count.ShouldBe(100);
        capped[^1].ShouldBe("v099");
    }

    [Fact]
    public void seeded_min_and_max_are_read_through_their_seeding_api_names()
    {
        SeededValue(Activate(Seeded("min")), Cutoff, Seed("minimum", """{ "value": 4 }"""))!.Text.ShouldBe("4");
        SeededValue(Activate(Seeded("max")), Cutoff, Seed("maximum", """{ "value": 4 }"""))!.Text.ShouldBe("4");
    }

    // ---- seed ⊕ live data from the cutoff ----

    [Theory]
    [InlineData("count", """{ "value": 5 }""", "7")]
    [InlineData("sum", """{ "value": 10 }""", "13")]
    [InlineData("min", """{ "value": 1.5 }""", "1")]
    [InlineData("max", """{ "value": 1.5 }""", "2")]
    [InlineData("average", """{ "key_value_pairs": { "sum": 27, "count": 3 } }""", "6")] // (27 + 1 + 2) / 5
    [InlineData("most_frequent", """{ "key_value_pairs": { "2": 1, "9": 1 } }""", "2")]
    [InlineData("unique_values_count", """{ "list": ["1", "5"] }""", "3")]
    [InlineData("first_occurrence", """{ "value": "seeded" }""", "seeded")]
    [InlineData("last_occurrence", """{ "value": "seeded" }""", "2")]
    [InlineData("first_occurrence_timestamp", """{ "value": 1578694487105 }""", "2020-01-10T22:14:47.1050000Z")]
    [InlineData("last_occurrence_timestamp", """{ "value": 1578694487105 }""", "2024-05-11T00:00:00.0000000Z")]
    public void the_value_is_the_seed_plus_live_data_on_or_after_the_cutoff(string calculation, string seed, string expected)
    {
        var definition = Activate(Seeded(calculation));
        var events = new[] { Play(Cutoff.AddDays(-1), "100"), Play(Cutoff, "1"), Play(Cutoff.AddDays(1), "2") }; // the first is before the cutoff

        SeededValue(definition, Cutoff.AddDays(2), Seed(calculation, seed), events)!.Text.ShouldBe(expected);
    }

    [Fact]
    public void a_unique_list_seed_combines_with_live_values()
    {
        var definition = Activate(Seeded(CalculationTypes.UniqueList));
        SeededValue(definition, Cutoff.AddDays(2), Seed("unique_list", """{ "list": ["b", "a"] }"""), Play(Cutoff, "\"c\""), Play(Cutoff, "\"a\""))!
            .List.ShouldBe(["a", "b", "c"]);
    }

    [Fact]
    public void a_newer_seed_replaces_an_older_one_and_an_older_one_does_not_replace_a_newer()
    {
        var definition = Activate(Seeded(CalculationTypes.Count));
        var person = Fold(definition, Cutoff, Custom("Play", Cutoff));

        person.TakeSeed(definition, Seed("count", """{ "value": 5 }""", sentAt: T0.AddHours(1)));
        CalculatedAttributeValues.ValueAt(definition, Cutoff, StateOf(person))!.Text.ShouldBe("6");

        person.TakeSeed(definition, Seed("count", """{ "value": 9 }""", sentAt: T0.AddHours(2)));
        CalculatedAttributeValues.ValueAt(definition, Cutoff, StateOf(person))!.Text.ShouldBe("10");

        person.TakeSeed(definition, Seed("count", """{ "value": 3 }""", sentAt: T0.AddHours(1).AddMinutes(30)));
        CalculatedAttributeValues.ValueAt(definition, Cutoff, StateOf(person))!.Text.ShouldBe("10");

        person.TakeSeed(definition, Seed("count", """{ "value": 1 }""", sentAt: T0.AddHours(2))); // re-sent: overwrites
        CalculatedAttributeValues.ValueAt(definition, Cutoff, StateOf(person))!.Text.ShouldBe("2");
    }

    [Fact]
    public void across_parts_the_newest_seed_counts_once()
    {
        var definition = Activate(Seeded(CalculationTypes.Sum));
        var replayed = Calculation.For(definition);
        replayed.TakeSeed(definition, Seed("sum", """{ "value": 100 }""", sentAt: T0.AddHours(2)));
        var live = StateOf(Fold(definition, Cutoff, Play(Cutoff, "1")))!;
        live.TakeSeed(definition, Seed("sum", """{ "value": 50 }""", sentAt: T0.AddHours(1)));

        CalculatedAttributeValues.ValueAt(definition, Cutoff, replayed, live)!.Text.ShouldBe("101");
        CalculatedAttributeValues.ValueAt(definition, Cutoff, live, replayed)!.Text.ShouldBe("101");
    }

    [Fact]
    public void seeds_are_not_windowed()
    {
        var definition = Activate(Seeded(CalculationTypes.Count, Within(1)));
        var person = Fold(definition, Cutoff, Custom("Play", Cutoff));
        person.TakeSeed(definition, Seed("count", """{ "value": 5 }"""));

        CalculatedAttributeValues.ValueAt(definition, Cutoff, StateOf(person))!.Text.ShouldBe("6");
        CalculatedAttributeValues.ValueAt(definition, Cutoff.AddDays(100), StateOf(person))!.Text.ShouldBe("5");
        person.Tidy([definition], Cutoff.AddDays(100));
        CalculatedAttributeValues.ValueAt(definition, Cutoff.AddDays(100), StateOf(person))!.Text.ShouldBe("5");
    }

    // ---- which seeds a definition accepts ----

    [Fact]
    public void a_seed_for_another_calculation_type_cutoff_name_or_workspace_is_not_accepted()
    {
        var definition = Activate(Seeded(CalculationTypes.Count));

        foreach (var seed in new[]
                 {
                     Seed("sum", """{ "value": 5 }"""),
                     Seed("count", """{ "value": 5 }""", cutoff: CutoffDay.AddDays(1)),
                     Seed("count", """{ "value": 5 }""", cutoff: CutoffDay.AddDays(-1)),
                     Seed("count", """{ "value": 5 }""", name: "other_ca"),
                     Seed("count", """{ "value": 5 }""", workspace: 2),
                 })
        {
            definition.AcceptsSeed(seed).ShouldBeFalse();
            var person = PersonCalculations.For(1);
            person.TakeSeed(definition, seed);
            person.Definitions.ShouldBeEmpty();
        }

        definition.AcceptsSeed(Seed("count", """{ "value": 5 }""")).ShouldBeTrue();
    }

    [Fact]
    public void a_definition_without_seeding_accepts_no_seed()
    {
        var definition = Activate(OnPlay(CalculationTypes.Count, null, Since(T0)));
        definition.AcceptsSeed(Seed("count", """{ "value": 5 }""")).ShouldBeFalse();
    }

    [Fact]
    public void a_seed_in_the_wrong_format_adds_nothing()
    {
        var definition = Activate(Seeded(CalculationTypes.Average));
        var aggregate = Seeds.ToAggregate(definition, Seed("average", """{ "value": 10 }"""));

        aggregate.Sum.ShouldBeNull();
        aggregate.Weight.ShouldBeNull();
        aggregate.Result(CalculationTypes.Average).ShouldBeNull();
        SeededValue(definition, Cutoff.AddDays(1), Seed("average", """{ "value": 10 }"""), Play(Cutoff, "4"))!.Text.ShouldBe("4");
    }

    [Fact]
    public void seeded_first_and_last_values_sit_just_before_the_cutoff()
    {
        var first = Seeds.ToAggregate(Activate(Seeded(CalculationTypes.FirstValue)), Seed("first_occurrence", """{ "value": "x" }"""));
        first.First.ShouldBe(new TimedValue(Cutoff.AddTicks(-1), "x"));

        var last = Seeds.ToAggregate(Activate(Seeded(CalculationTypes.LastValue)), Seed("last_occurrence", """{ "value": "y" }"""));
        last.Last.ShouldBe(new TimedValue(Cutoff.AddTicks(-1), "y"));
    }

    [Fact]
    public void seeding_cutoff_dates_are_yyyy_mm_dd()
    {
        Seeds.ParseCutoff("2024-05-10").ShouldBe(CutoffDay);
        Seeds.ParseCutoff("2024-05-10T00:00:00Z").ShouldBeNull();
        Seeds.ParseCutoff("10/05/2024").ShouldBeNull();
        Seeds.ParseCutoff(null).ShouldBeNull();
    }
}
