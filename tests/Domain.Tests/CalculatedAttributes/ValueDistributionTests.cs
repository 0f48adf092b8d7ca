using EventProfiles.Domain.CalculatedAttributes;

namespace EventProfiles.Domain.Tests.CalculatedAttributes;

/// <summary>The console's distribution of current values: histograms for numbers, top values for the rest.</summary>
public class ValueDistributionTests
{
    private static CalculatedValue V(string text) => CalculatedValue.Of(text);

    [Fact]
    public void counts_with_few_distinct_values_get_one_bar_per_whole_number()
    {
        var d = ValueDistribution.Of("count", [V("1"), V("2"), V("2"), V("4")]);
        d.Kind.ShouldBe(ValueDistribution.Histogram);
        d.PeopleWithValue.ShouldBe(4);
        d.Buckets.Select(b => (b.Label, b.Count)).ShouldBe([("1", 1L), ("2", 2L), ("3", 0L), ("4", 1L)]);
        (d.Min, d.Max, d.Mean).ShouldBe((1m, 4m, 2.25m));
    }

    [Fact]
    public void spread_out_numbers_get_ten_equal_bars_and_the_largest_value_falls_in_the_last()
    {
        var d = ValueDistribution.Of("sum", [V("0"), V("10.5"), V("99.5"), V("100")]);
        d.Buckets.Count.ShouldBe(ValueDistribution.Bars);
        d.Buckets[0].Count.ShouldBe(1);
        d.Buckets[1].Count.ShouldBe(1);
        d.Buckets[^1].Count.ShouldBe(2);
        d.Buckets[^1].To.ShouldBe(100m);
        d.Buckets.Sum(b => b.Count).ShouldBe(4);
    }

    [Fact]
    public void one_value_for_everyone_is_a_single_bar()
    {
        var d = ValueDistribution.Of("average", [V("3.5"), V("3.5")]);
        d.Buckets.ShouldHaveSingleItem().Count.ShouldBe(2);
        d.Mean.ShouldBe(3.5m);
    }

    [Fact]
    public void texts_list_items_and_timestamps_count_as_top_values()
    {
        ValueDistribution.Of("most_frequent", [V("pro"), V("free"), V("pro")]).Buckets.Select(b => (b.Label, b.Count)).ShouldBe([("pro", 2L), ("free", 1L)]);
        var lists = ValueDistribution.Of("unique_list", [CalculatedValue.OfList(["a", "b"]), CalculatedValue.OfList(["b"])]);
        lists.Kind.ShouldBe(ValueDistribution.TopValues);
        lists.PeopleWithValue.ShouldBe(2);
        lists.Buckets.First().ShouldBe(new DistributionBucket("b", 2));
        ValueDistribution.Of("last_occurrence_timestamp", [V("2024-05-01T10:00:00Z"), V("2024-05-01T23:00:00Z"), V("2024-05-02T01:00:00Z")])
            .Buckets.Select(b => (b.Label, b.Count)).ShouldBe([("2024-05-01", 2L), ("2024-05-02", 1L)]);
    }

    [Fact]
    public void no_values_is_an_empty_distribution()
    {
        ValueDistribution.Of("count", []).Buckets.ShouldBeEmpty();
        ValueDistribution.Of("first_occurrence", []).Buckets.ShouldBeEmpty();
    }
}
