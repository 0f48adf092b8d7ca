using EventProfiles.Domain.CalculatedAttributes;
using static EventProfiles.Domain.Tests.CalculatedAttributes.CA;

namespace EventProfiles.Domain.Tests.CalculatedAttributes;

public class RollingWindowTests
{
    private static readonly TimeSpan Tick = TimeSpan.FromTicks(1);

    private static string? CountAt(ActiveDefinition definition, Calculation? state, DateTimeOffset now) =>
        CalculatedAttributeValues.ValueAt(definition, now, state)?.Text;

    [Theory]
    [InlineData(1, TimePeriodTypes.Days, 1)]
    [InlineData(9, TimePeriodTypes.Days, 1)]
    [InlineData(10, TimePeriodTypes.Days, 24)]
    [InlineData(30, TimePeriodTypes.Days, 24)]
    [InlineData(1, TimePeriodTypes.Weeks, 1)]
    [InlineData(2, TimePeriodTypes.Weeks, 24)]
    public void buckets_are_an_hour_wide_below_ten_days_and_a_day_wide_from_ten_days(int within, string unit, int hours)
    {
        Activate(OnPlay(CalculationTypes.Count, null, Within(within, unit))).BucketWidth.ShouldBe(TimeSpan.FromHours(hours));
    }

    [Fact]
    public void a_week_is_seven_days()
    {
        Within(3, TimePeriodTypes.Weeks).Window.ShouldBe(TimeSpan.FromDays(21));
        Within(3).Window.ShouldBe(TimeSpan.FromDays(3));
    }

    [Fact]
    public void buckets_start_on_the_hour_or_at_midnight_utc()
    {
        var at = new DateTimeOffset(2024, 5, 1, 10, 30, 15, TimeSpan.Zero);
        Calculation.BucketStart(at, TimeSpan.FromHours(1)).ShouldBe(new DateTimeOffset(2024, 5, 1, 10, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds());
        Calculation.BucketStart(at, TimeSpan.FromDays(1)).ShouldBe(T0.ToUnixTimeSeconds());
        Calculation.BucketStart(new DateTimeOffset(2024, 5, 1, 12, 30, 0, TimeSpan.FromHours(5)), TimeSpan.FromDays(1)).ShouldBe(T0.ToUnixTimeSeconds());
    }

    [Fact]
    public void an_event_in_an_hour_bucket_counts_until_one_tick_before_its_expiry()
    {
        var definition = Activate(OnPlay(CalculationTypes.Count, null, Within(1)));
        var at = T0.AddHours(10).AddMinutes(30);
        var state = StateOf(Fold(definition, at, Custom("Play", at)));

        var expiry = Calculation.Expiry(Calculation.BucketStart(at, definition.BucketWidth), definition);
        expiry.ShouldBe(T0.AddDays(1).AddHours(11)); // bucket 10:00–11:00, plus one day

        CountAt(definition, state, at).ShouldBe("1");
        CountAt(definition, state, at.AddDays(1)).ShouldBe("1"); // a full day after the event: still inside
        CountAt(definition, state, expiry - Tick).ShouldBe("1");
        CountAt(definition, state, expiry).ShouldBe("0");
        CountAt(definition, state, expiry.AddDays(5)).ShouldBe("0");
    }

    [Fact]
    public void an_event_in_a_day_bucket_counts_until_one_tick_before_its_expiry()
    {
        var definition = Activate(OnPlay(CalculationTypes.Count, null, Within(10)));
        var at = T0.AddHours(10).AddMinutes(30);
        var state = StateOf(Fold(definition, at, Custom("Play", at)));

        var expiry = Calculation.Expiry(Calculation.BucketStart(at, definition.BucketWidth), definition);
        expiry.ShouldBe(T0.AddDays(11)); // bucket 2024-05-01, plus ten days

        CountAt(definition, state, expiry - Tick).ShouldBe("1");
        CountAt(definition, state, expiry).ShouldBe("0");
    }

    [Fact]
    public void the_lag_after_leaving_the_window_stays_within_ten_percent()
    {
        foreach (var days in new[] { 1, 9, 10, 30 })
        {
            var definition = Activate(OnPlay(CalculationTypes.Count, null, Within(days)));
            foreach (var minute in new[] { 0, 1, 59, 61, 23 * 60 + 59 })
            {
                var at = T0.AddMinutes(minute);
                var expiry = Calculation.Expiry(Calculation.BucketStart(at, definition.BucketWidth), definition);
                (expiry - at).ShouldBeGreaterThan(TimeSpan.FromDays(days));
                (expiry - at).ShouldBeLessThanOrEqualTo(TimeSpan.FromDays(days) * 1.1);
            }
        }
    }

    [Fact]
    public void an_event_that_already_left_the_window_is_not_recorded()
    {
        var definition = Activate(OnPlay(CalculationTypes.Count, null, Within(1)));
        var at = T0.AddHours(10).AddMinutes(30);
        var expiry = T0.AddDays(1).AddHours(11);

        var person = Fold(definition, expiry, Custom("Play", at));
        StateOf(person)!.Buckets.ShouldBeNull();
        CountAt(definition, StateOf(person), expiry).ShouldBe("0");

        var justInside = Fold(definition, expiry - Tick, Custom("Play", at));
        CountAt(definition, StateOf(justInside), expiry - Tick).ShouldBe("1");
    }

    [Fact]
    public void values_fall_back_as_buckets_leave_the_window()
    {
        var events = new[] { Play(T0.AddHours(1), "5"), Play(T0.AddHours(3), "2"), Play(T0.AddHours(3).AddMinutes(5), "9") };
        var now = T0.AddHours(4);
        var firstGone = T0.AddDays(1).AddHours(2);
        var allGone = T0.AddDays(1).AddHours(4);

        string? At(string calculation, DateTimeOffset when)
        {
            var definition = Activate(OnPlay(calculation, CalculationTypes.NeedsAttribute(calculation) ? "v" : null, Within(1)));
            return CalculatedAttributeValues.ValueAt(definition, when, StateOf(Fold(definition, now, events)))?.Text;
        }

        At(CalculationTypes.Count, firstGone - Tick).ShouldBe("3");
        At(CalculationTypes.Count, firstGone).ShouldBe("2");
        At(CalculationTypes.Count, allGone).ShouldBe("0");

        At(CalculationTypes.Sum, firstGone - Tick).ShouldBe("16");
        At(CalculationTypes.Sum, firstGone).ShouldBe("11");
        At(CalculationTypes.Sum, allGone).ShouldBeNull(); // nothing left to add: empty, unlike a count

        At(CalculationTypes.Max, firstGone).ShouldBe("9");
        At(CalculationTypes.Min, firstGone - Tick).ShouldBe("2");
        At(CalculationTypes.Min, allGone).ShouldBeNull();

        At(CalculationTypes.FirstValue, firstGone - Tick).ShouldBe("5");
        At(CalculationTypes.FirstValue, firstGone).ShouldBe("2");
        At(CalculationTypes.LastValue, firstGone).ShouldBe("9");
        At(CalculationTypes.LastValue, allGone).ShouldBeNull();

        At(CalculationTypes.FirstTimestamp, firstGone).ShouldBe("2024-05-01T03:00:00.0000000Z");
        At(CalculationTypes.LastTimestamp, allGone).ShouldBeNull();
        At(CalculationTypes.UniqueValuesCount, allGone).ShouldBe("0");
        At(CalculationTypes.Average, firstGone).ShouldBe("5.5");
    }

    [Fact]
    public void the_next_change_is_when_the_oldest_bucket_still_inside_leaves_the_window()
    {
        var definition = Activate(OnPlay(CalculationTypes.Count, null, Within(1)));
        var now = T0.AddHours(4);
        var state = StateOf(Fold(definition, now, Custom("Play", T0.AddHours(1).AddMinutes(15)), Custom("Play", T0.AddHours(3).AddMinutes(45))))!;

        state.NextChangeAt(definition, now).ShouldBe(T0.AddDays(1).AddHours(2));
        state.NextChangeAt(definition, T0.AddDays(1).AddHours(2)).ShouldBe(T0.AddDays(1).AddHours(4));
        state.NextChangeAt(definition, T0.AddDays(1).AddHours(4)).ShouldBeNull();
    }

    [Fact]
    public void a_since_period_has_no_next_change()
    {
        var definition = Activate(OnPlay(CalculationTypes.Count, null, Since(T0)));
        var state = StateOf(Fold(definition, T0.AddHours(1), Custom("Play", T0.AddHours(1))))!;

        state.NextChangeAt(definition, T0.AddHours(1)).ShouldBeNull();
        CountAt(definition, state, T0.AddYears(5)).ShouldBe("1");
    }

    [Fact]
    public void tidying_prunes_buckets_that_left_the_window_and_records_the_next_change()
    {
        var definition = Activate(OnPlay(CalculationTypes.Count, null, Within(1)));
        var person = Fold(definition, T0.AddHours(4), Custom("Play", T0.AddHours(1)), Custom("Play", T0.AddHours(3)));

        person.Tidy([definition], T0.AddHours(4));
        person.NextChangeAt.ShouldBe(T0.AddDays(1).AddHours(2));
        StateOf(person)!.Buckets!.Count.ShouldBe(2);

        person.Tidy([definition], T0.AddDays(1).AddHours(2));
        person.NextChangeAt.ShouldBe(T0.AddDays(1).AddHours(4));
        StateOf(person)!.Buckets!.Count.ShouldBe(1);

        person.Tidy([definition], T0.AddDays(1).AddHours(4));
        person.NextChangeAt.ShouldBeNull();
        StateOf(person)!.Buckets!.Count.ShouldBe(0);
    }

    [Fact]
    public void tidying_drops_state_of_definitions_no_longer_active_or_reactivated()
    {
        var definition = Activate(OnPlay(CalculationTypes.Count, null, Within(1)));
        var person = Fold(definition, T0, Custom("Play", T0));

        person.Tidy([definition with { Activation = Guid.NewGuid() }], T0);
        person.Definitions.ShouldBeEmpty();

        person = Fold(definition, T0, Custom("Play", T0));
        person.Tidy([], T0);
        person.Definitions.ShouldBeEmpty();
        person.NextChangeAt.ShouldBeNull();
    }

    [Fact]
    public void a_since_period_counts_from_its_date_inclusive()
    {
        var since = new DateTimeOffset(2024, 5, 10, 0, 0, 0, TimeSpan.Zero);
        var definition = OnPlay(CalculationTypes.Count, null, Since(since));

        Text(definition, Custom("Play", since)).ShouldBe("1");
        Text(definition, Custom("Play", since - Tick)).ShouldBeNull();
        Text(definition, Custom("Play", since - Tick), Custom("Play", since), Custom("Play", since.AddDays(100))).ShouldBe("2");
        Text(OnPlay(CalculationTypes.FirstTimestamp, null, Since(since)), Custom("Play", since - Tick), Custom("Play", since.AddHours(1)))
            .ShouldBe("2024-05-10T01:00:00.0000000Z");
    }

    [Fact]
    public void with_a_seeding_cutoff_only_events_on_or_after_the_cutoff_count()
    {
        var cutoff = new DateTimeOffset(2024, 5, 20, 0, 0, 0, TimeSpan.Zero);
        var since = OnPlay(CalculationTypes.Count, null, Since(T0)) with { Seeding = new Seeding { CutoffDate = cutoff } };
        var within = OnPlay(CalculationTypes.Count, null, Within(30)) with { Seeding = new Seeding { CutoffDate = cutoff } };

        Activate(since).CountsFrom.ShouldBe(cutoff);
        Activate(within).CountsFrom.ShouldBe(cutoff);
        Activate(OnPlay(CalculationTypes.Count, null, Within(30))).CountsFrom.ShouldBeNull();
        Activate(OnPlay(CalculationTypes.Count, null, Since(T0))).CountsFrom.ShouldBe(T0);

        var events = new[] { Custom("Play", T0.AddDays(5)), Custom("Play", cutoff - Tick), Custom("Play", cutoff), Custom("Play", cutoff.AddDays(1)) };
        ValueOf(Activate(since), cutoff.AddDays(2), events)!.Text.ShouldBe("2");
        ValueOf(Activate(within), cutoff.AddDays(2), events)!.Text.ShouldBe("2");
    }

    [Fact]
    public void a_since_date_later_than_the_seeding_cutoff_wins()
    {
        var since = new DateTimeOffset(2024, 5, 20, 0, 0, 0, TimeSpan.Zero);
        var definition = OnPlay(CalculationTypes.Count, null, Since(since)) with { Seeding = new Seeding { CutoffDate = T0 } };

        Activate(definition).CountsFrom.ShouldBe(since);
        Text(definition, Custom("Play", T0.AddDays(1)), Custom("Play", since)).ShouldBe("1");
    }

    [Fact]
    public void events_of_another_workspace_never_count()
    {
        var definition = OnPlay(CalculationTypes.Count, null, Within(1));
        ValueOf(Activate(definition), T0, Custom("Play", T0, workspace: 2), Custom("Play", T0)).ShouldBe(CalculatedValue.Of("1"));
    }
}
