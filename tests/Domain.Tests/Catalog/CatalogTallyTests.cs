using System.Text.Json;
using EventProfiles.Domain.Catalog;
using EventProfiles.Domain.Ingestion;

namespace EventProfiles.Domain.Tests.Catalog;

public sealed class CatalogTallyTests
{
    private static readonly DateTimeOffset Morning = new(2026, 12, 5, 8, 0, 0, TimeSpan.Zero);

    private static Batch Parse(string json) => JsonSerializer.Deserialize<Batch>(json)!;

    private static Batch Names(params string[] events) =>
        Parse("{\"events\":[" + string.Join(",", events.Select(e => $"{{\"event_type\":\"custom_event\",\"data\":{{\"event_name\":{JsonSerializer.Serialize(e)}}}}}")) + "]}");

    [Fact]
    public void a_batch_names_its_events_with_their_type_its_screens_its_event_attributes_and_its_user_attributes()
    {
        var batch = Parse("""
            { "user_attributes": { "plan": "pro", "$City": "Porto" },
              "events": [
                { "event_type": "custom_event", "data": { "event_name": "Viewed Pricing", "custom_event_type": "navigation", "custom_attributes": { "tier": "gold" } } },
                { "event_type": "screen_view", "data": { "screen_name": "Home", "custom_attributes": { "referrer": "ad" } } },
                { "event_type": "session_start", "data": { } },
                null ] }
            """);

        CatalogTally.NamesIn(batch).ShouldBe([
            (CatalogKinds.Event, "custom_event", "Viewed Pricing"), (CatalogKinds.EventAttribute, "custom_event", "tier"),
            (CatalogKinds.Screen, "screen_view", "Home"), (CatalogKinds.EventAttribute, "screen_view", "referrer"),
            (CatalogKinds.UserAttribute, "", "plan"), (CatalogKinds.UserAttribute, "", "$City"),
        ]);
    }

    [Fact]
    public void occurrences_are_counted_per_name_and_day_with_first_and_last_seen()
    {
        var tally = new CatalogTally(100);
        tally.Add(1, Names("A", "A", "B"), Morning);
        tally.Add(1, Names("A"), Morning.AddHours(1));
        tally.Add(1, Names("A"), Morning.AddDays(1));
        tally.Add(2, Names("A"), Morning);

        var (counts, overflow) = tally.Take();

        overflow.ShouldBeEmpty();
        var a = counts.Where(c => c.Name is { WorkspaceId: 1, Name: "A" }).OrderBy(c => c.Day).ToList();
        a.Select(c => (c.Day, c.Count)).ShouldBe([(new DateOnly(2026, 12, 5), 3L), (new DateOnly(2026, 12, 6), 1L)]);
        (a[0].FirstAt, a[0].LastAt).ShouldBe((Morning, Morning.AddHours(1)));
        counts.Single(c => c.Name.WorkspaceId == 2).Count.ShouldBe(1);
        tally.IsEmpty.ShouldBeTrue();
    }

    [Fact]
    public void a_full_workspace_keeps_its_names_and_counts_new_ones_as_overflow_only()
    {
        var tally = new CatalogTally(2);
        tally.Add(1, Names("A", "B", "C", "D", "A"), Morning);
        tally.Add(2, Names("C"), Morning); // the bound is per workspace

        var (counts, overflow) = tally.Take();

        counts.Where(c => c.Name.WorkspaceId == 1).Select(c => (c.Name.Name, c.Count)).ShouldBe([("A", 2L), ("B", 1L)], ignoreOrder: true);
        overflow.Keys.ShouldBe([1]);
        overflow[1].ShouldBe(2);
        counts.Single(c => c.Name.WorkspaceId == 2).Name.Name.ShouldBe("C");

        // Names it holds are still counted after the take; new ones are not.
        tally.Add(1, Names("B", "E"), Morning);
        tally.Take().Counts.Select(c => c.Name.Name).ShouldBe(["B"]);
    }

    [Fact]
    public void the_names_a_workspace_has_stored_count_towards_its_bound_once_read()
    {
        var tally = new CatalogTally(2);
        tally.Add(1, Names("New1", "Old", "New2"), Morning); // counted before this node read what is stored
        tally.Unloaded.ShouldBe([1]);

        tally.Reconcile(1, [new CatalogName(1, CatalogKinds.Event, "custom_event", "Old"), new CatalogName(1, CatalogKinds.Event, "custom_event", "Stored")]);

        tally.Unloaded.ShouldBeEmpty();
        var (counts, overflow) = tally.Take();
        counts.Select(c => c.Name.Name).ShouldBe(["Old"]);
        overflow[1].ShouldBe(2);
    }

    [Fact]
    public void a_failed_write_is_given_back_and_added_to_what_came_since()
    {
        var tally = new CatalogTally(10);
        tally.Add(1, Names("A"), Morning);
        var (counts, overflow) = tally.Take();
        tally.Add(1, Names("A"), Morning.AddMinutes(1));

        tally.Restore(counts, overflow);

        var again = tally.Take().Counts.Single();
        (again.Count, again.FirstAt, again.LastAt).ShouldBe((2L, Morning, Morning.AddMinutes(1)));
    }

    [Fact]
    public void long_names_are_cut_without_splitting_a_character()
    {
        CatalogTally.Truncate(new string('x', 300)).Length.ShouldBe(CatalogTally.MaxNameLength);
        var emoji = new string('x', CatalogTally.MaxNameLength - 1) + "😀" + "tail";
        CatalogTally.Truncate(emoji).ShouldBe(new string('x', CatalogTally.MaxNameLength - 1));

        var tally = new CatalogTally(10);
        tally.Add(1, Names(new string('n', 1000)), Morning);
        tally.Take().Counts.Single().Name.Name.Length.ShouldBe(CatalogTally.MaxNameLength);
    }
}
