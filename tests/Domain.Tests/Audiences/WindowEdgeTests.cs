using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Tests.CalculatedAttributes;
using static EventProfiles.Domain.Audiences.AudienceOperators;
using static EventProfiles.Domain.Tests.Audiences.Aud;

namespace EventProfiles.Domain.Tests.Audiences;

/// <summary>When time alone changes an event criterion: buckets leaving (and entering) the period, and the next such moment.</summary>
public class WindowEdgeTests
{
    private static DateTimeOffset Utc(int month, int day, int hour = 0, int minute = 0) => new(2024, month, day, hour, minute, 0, TimeSpan.Zero);

    /// <summary>2024-05-11T10:30Z.</summary>
    private static readonly DateTimeOffset At = Utc(5, 11, 10, 30);

    private static bool MemberAt(ActiveAudience audience, DateTimeOffset now, params EventCaptured[] events) =>
        Verdict(audience, Person(), now, events).IsMember;

    private static DateTimeOffset? NextChange(ActiveAudience audience, DateTimeOffset now, params EventCaptured[] events) =>
        AudienceEvaluation.NextChangeAt(audience, Facts(audience, Person(), now, events));

    [Fact]
    public void within_seven_days_an_event_counts_until_one_tick_before_its_hour_bucket_expires()
    {
        var audience = Chain(Did(recency: InLast(7)));
        var counter = audience.Counters[0];
        counter.BucketWidth.ShouldBe(TimeSpan.FromHours(1));
        var expiry = Calculation.Expiry(Calculation.BucketStart(At, counter.BucketWidth), counter);
        expiry.ShouldBe(Utc(5, 18, 11)); // bucket 10:00–11:00 plus seven days

        MemberAt(audience, At, Purchase(At)).ShouldBeTrue();
        MemberAt(audience, At.AddDays(7), Purchase(At)).ShouldBeTrue(); // exactly seven days after the event: still in
        MemberAt(audience, expiry - Tick, Purchase(At)).ShouldBeTrue();
        MemberAt(audience, expiry, Purchase(At)).ShouldBeFalse();
        MemberAt(audience, expiry.AddDays(3), Purchase(At)).ShouldBeFalse();
    }

    [Fact]
    public void over_the_thirty_day_lookback_an_event_counts_until_one_tick_before_its_day_bucket_expires()
    {
        var audience = Chain(Did());
        var counter = audience.Counters[0];
        counter.BucketWidth.ShouldBe(TimeSpan.FromDays(1));
        var expiry = Calculation.Expiry(Calculation.BucketStart(At, counter.BucketWidth), counter);
        expiry.ShouldBe(Utc(6, 11)); // day 2024-05-11 plus thirty days

        MemberAt(audience, expiry - Tick, Purchase(At)).ShouldBeTrue();
        MemberAt(audience, expiry, Purchase(At)).ShouldBeFalse();
    }

    [Fact]
    public void a_less_than_criterion_becomes_true_when_the_event_leaves_the_period()
    {
        var audience = Chain(Did(op: LessThan, count: 1, recency: InLast(7)));
        MemberAt(audience, Utc(5, 18, 11) - Tick, Purchase(At)).ShouldBeFalse();
        MemberAt(audience, Utc(5, 18, 11), Purchase(At)).ShouldBeTrue();
    }

    [Fact]
    public void the_next_change_is_the_expiry_of_the_oldest_bucket_still_inside()
    {
        var audience = Chain(Did(recency: InLast(7)));
        var events = new[] { Purchase(At), Purchase(At.AddHours(2)), Purchase(At.AddHours(2).AddMinutes(10)) };

        NextChange(audience, At.AddHours(3), events).ShouldBe(Utc(5, 18, 11));
        NextChange(audience, Utc(5, 18, 11), events).ShouldBe(Utc(5, 18, 13)); // the 12:00 bucket
        NextChange(audience, Utc(5, 18, 13), events).ShouldBeNull();
        NextChange(audience, At).ShouldBeNull(); // no events: nothing changes by itself
    }

    [Fact]
    public void the_next_change_is_the_earliest_over_all_event_criteria()
    {
        var audience = Chain(Did("Purchase", recency: InLast(7)), Did("Browse", recency: InLast(2), join: Joins.Or));
        NextChange(audience, At.AddHours(1), Purchase(At), CA.Custom("Browse", At)).ShouldBe(Utc(5, 13, 11));
        NextChange(audience, Utc(5, 13, 11), Purchase(At), CA.Custom("Browse", At)).ShouldBe(Utc(5, 18, 11));
    }

    [Fact]
    public void a_profile_criterion_alone_has_no_next_change()
    {
        NextChange(Chain(UserAttr("string", Exists)), At).ShouldBeNull();
    }

    [Fact]
    public void between_days_ago_an_event_starts_counting_once_its_bucket_is_older_than_from_days_ago()
    {
        var audience = Chain(Did(recency: DaysAgo(4, 6)));
        var counter = audience.Counters[0];
        counter.BucketWidth.ShouldBe(TimeSpan.FromHours(1));
        var enters = Utc(5, 15, 10); // bucket start 10:00 + 4 days
        var leaves = Utc(5, 17, 11); // bucket end 11:00 + 6 days

        MemberAt(audience, At, Purchase(At)).ShouldBeFalse();
        MemberAt(audience, enters - Tick, Purchase(At)).ShouldBeFalse();
        MemberAt(audience, enters, Purchase(At)).ShouldBeTrue(); // the bucket is four days old: the near end is inclusive, and that is the scheduled moment
        MemberAt(audience, enters + Tick, Purchase(At)).ShouldBeTrue();
        MemberAt(audience, At.AddDays(5), Purchase(At)).ShouldBeTrue();
        MemberAt(audience, leaves - Tick, Purchase(At)).ShouldBeTrue();
        MemberAt(audience, leaves, Purchase(At)).ShouldBeFalse();
    }

    [Fact]
    public void between_days_ago_the_next_changes_are_entering_then_leaving_the_period()
    {
        var audience = Chain(Did(recency: DaysAgo(4, 6)));
        NextChange(audience, At, Purchase(At))!.Value.ShouldBeInRange(Utc(5, 15, 10), Utc(5, 15, 10).AddSeconds(1)); // entering (bucket start + 4 days)
        NextChange(audience, Utc(5, 15, 10) + Tick, Purchase(At)).ShouldBe(Utc(5, 17, 11));
        NextChange(audience, Utc(5, 17, 11), Purchase(At)).ShouldBeNull();
    }

    [Fact]
    public void at_the_next_change_moment_of_a_between_days_ago_criterion_the_verdict_has_changed()
    {
        var audience = Chain(Did(recency: DaysAgo(4, 6)));
        var next = NextChange(audience, At, Purchase(At))!.Value;
        MemberAt(audience, next, Purchase(At)).ShouldBeTrue();
    }

    [Fact]
    public void first_seen_within_the_last_days_changes_when_the_first_day_leaves_the_period()
    {
        var audience = Chain(FirstSeen(WithinLastDays, "7"));
        var person = Stranger().Evolve(Batch(Ws, Utc(5, 3, 12)));
        var facts = (DateTimeOffset now) => Facts(audience, person, now);

        AudienceEvaluation.NextChangeAt(audience, facts(Utc(5, 5))).ShouldBe(Utc(5, 10, 12));
        AudienceEvaluation.Evaluate(audience, facts(Utc(5, 10, 12) - Tick)).IsMember.ShouldBeTrue();
        AudienceEvaluation.Evaluate(audience, facts(Utc(5, 10, 12))).IsMember.ShouldBeFalse();
        AudienceEvaluation.NextChangeAt(audience, facts(Utc(5, 10, 12))).ShouldBeNull();
    }

    [Fact]
    public void a_date_attribute_within_the_last_days_changes_when_the_date_leaves_the_period()
    {
        var audience = Chain(UserAttr("date", WithinLastDays, "7", name: "signed_up"));
        var person = Person(Attr("signed_up", "\"2024-05-03T12:00:00Z\""));
        AudienceEvaluation.Evaluate(audience, Facts(audience, person, Utc(5, 10, 12) - Tick)).IsMember.ShouldBeTrue();
        AudienceEvaluation.Evaluate(audience, Facts(audience, person, Utc(5, 10, 12))).IsMember.ShouldBeFalse();
        AudienceEvaluation.NextChangeAt(audience, Facts(audience, person, Utc(5, 5))).ShouldBe(Utc(5, 10, 12));
    }
}
