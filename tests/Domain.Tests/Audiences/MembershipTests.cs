using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Tests.CalculatedAttributes;
using static EventProfiles.Domain.Audiences.AudienceOperators;
using static EventProfiles.Domain.Tests.Audiences.Aud;

namespace EventProfiles.Domain.Tests.Audiences;

/// <summary><see cref="PersonCalculations.EvaluateAudiences"/>: the stored memberships, the changes it records, the next re-evaluation.</summary>
public class MembershipTests
{
    private static readonly DateTimeOffset Now = T0.AddDays(10);

    private static Profile Tier(string tier, params object[] events) => Person([Attr("tier", $"\"{tier}\""), .. events]);

    private static readonly ActiveAudience GoldTier = Chain(UserAttr("string", EqualTo, "gold"));

    /// <summary>Evaluates as the projection does: memberships of other audiences read live from the person's state.</summary>
    private static bool Evaluate(PersonCalculations person, IReadOnlyList<ActiveAudience> audiences, Profile profile, DateTimeOffset now,
        IEnumerable<EventCaptured>? events = null, Func<int, IReadOnlyDictionary<string, CalculatedValue>>? calculated = null)
    {
        var list = events?.ToList() ?? [];
        return person.EvaluateAudiences(audiences, p => Facts(audiences, profile, now, list, calculated, id => p.IsMemberOf(id)), now);
    }

    [Fact]
    public void a_person_who_starts_matching_is_added()
    {
        var person = PersonCalculations.For(Mpid);
        Evaluate(person, [GoldTier], Tier("gold"), Now).ShouldBeTrue();

        person.Changes.ShouldBe([new MembershipChange(1, AudienceActivation, Mpid, true, Now, "#1 user_attribute true: user attribute tier is \"gold\"")]);
        person.Audiences.ShouldBe(new Dictionary<int, Membership> { [1] = new(AudienceActivation, true, Now) });
        person.IsMemberOf(1).ShouldBeTrue();
        person.IsMemberOf(1, AudienceActivation).ShouldBeTrue();
        person.IsMemberOf(1, Guid.NewGuid()).ShouldBeFalse();
    }

    [Fact]
    public void nothing_is_recorded_while_the_verdict_stays_the_same()
    {
        var person = PersonCalculations.For(Mpid);
        Evaluate(person, [GoldTier], Tier("gold"), Now);
        person.Changes.Clear();

        Evaluate(person, [GoldTier], Tier("gold"), Now.AddDays(1)).ShouldBeFalse();
        person.Changes.ShouldBeEmpty();
        person.Audiences[1].ShouldBe(new Membership(AudienceActivation, true, Now)); // member since the first time

        var never = PersonCalculations.For(Mpid);
        Evaluate(never, [GoldTier], Tier("silver"), Now).ShouldBeFalse();
        never.Changes.ShouldBeEmpty();
        never.Audiences.ShouldBeEmpty();
    }

    [Fact]
    public void a_member_who_stops_matching_is_removed()
    {
        var person = PersonCalculations.For(Mpid);
        Evaluate(person, [GoldTier], Tier("gold"), Now);
        person.Changes.Clear();

        Evaluate(person, [GoldTier], Tier("silver"), Now.AddDays(1)).ShouldBeTrue();
        person.Changes.ShouldBe([new MembershipChange(1, AudienceActivation, Mpid, false, Now.AddDays(1), "#1 user_attribute false: user attribute tier is \"silver\"")]);
        person.Audiences[1].ShouldBe(new Membership(AudienceActivation, false, Now.AddDays(1)));
        person.IsMemberOf(1).ShouldBeFalse();
        person.Changes.Clear();

        Evaluate(person, [GoldTier], Tier("silver"), Now.AddDays(2)).ShouldBeFalse();
        person.Changes.ShouldBeEmpty();

        Evaluate(person, [GoldTier], Tier("gold"), Now.AddDays(3)).ShouldBeTrue();
        person.Changes.Single().Added.ShouldBeTrue();
    }

    [Fact]
    public void opting_out_removes_a_member()
    {
        var person = PersonCalculations.For(Mpid);
        Evaluate(person, [GoldTier], Tier("gold"), Now);
        person.Changes.Clear();

        Evaluate(person, [GoldTier], Tier("gold", new OptOutChanged(Ws, true, Now)), Now.AddHours(1)).ShouldBeTrue();
        person.Changes.ShouldBe([new MembershipChange(1, AudienceActivation, Mpid, false, Now.AddHours(1), "the person opted out")]);
    }

    [Fact]
    public void the_state_of_an_audience_no_longer_active_is_dropped_without_a_message()
    {
        var other = AudienceOf(2, [Ws], [UserAttr("string", Exists)]);
        var person = PersonCalculations.For(Mpid);
        Evaluate(person, [GoldTier, other], Tier("gold"), Now);
        person.Audiences.Keys.Order().ShouldBe([1, 2]);
        person.Changes.Clear();

        Evaluate(person, [other], Tier("gold"), Now.AddHours(1)).ShouldBeTrue();
        person.Audiences.Keys.ShouldBe([2]);
        person.Changes.ShouldBeEmpty();

        Evaluate(person, [], Tier("gold"), Now.AddHours(2)).ShouldBeTrue();
        person.Audiences.ShouldBeEmpty();
        person.Changes.ShouldBeEmpty();
        Evaluate(person, [], Tier("gold"), Now.AddHours(3)).ShouldBeFalse();
    }

    [Fact]
    public void a_non_member_state_of_an_audience_no_longer_active_is_dropped_too()
    {
        var person = PersonCalculations.For(Mpid);
        Evaluate(person, [GoldTier], Tier("gold"), Now);
        Evaluate(person, [GoldTier], Tier("silver"), Now.AddHours(1));
        person.Changes.Clear();
        person.Audiences[1].IsMember.ShouldBeFalse();

        Evaluate(person, [], Tier("silver"), Now.AddHours(2)).ShouldBeTrue();
        person.Audiences.ShouldBeEmpty();
        person.Changes.ShouldBeEmpty();
    }

    [Fact]
    public void a_re_activated_audience_starts_afresh()
    {
        var person = PersonCalculations.For(Mpid);
        Evaluate(person, [GoldTier], Tier("gold"), Now);
        person.Changes.Clear();

        var reactivated = GoldTier with { Activation = Guid.NewGuid() };
        Evaluate(person, [reactivated], Tier("gold"), Now.AddHours(1)).ShouldBeTrue();
        person.Changes.ShouldBe([new MembershipChange(1, reactivated.Activation, Mpid, true, Now.AddHours(1), "#1 user_attribute true: user attribute tier is \"gold\"")]);
        person.Audiences[1].ShouldBe(new Membership(reactivated.Activation, true, Now.AddHours(1)));
        person.Changes.Clear();

        // re-activated again while the person no longer matches: the old membership is forgotten, not removed
        var again = GoldTier with { Activation = Guid.NewGuid() };
        Evaluate(person, [again], Tier("silver"), Now.AddHours(2)).ShouldBeTrue();
        person.Changes.ShouldBeEmpty();
        person.Audiences.ShouldBeEmpty();
    }

    [Fact]
    public void nested_audiences_are_evaluated_after_the_audiences_they_reference()
    {
        var nesting = AudienceOf(2, [Ws], [MemberOf(1)]);
        var notIn = AudienceOf(3, [Ws], [MemberOf(1, member: false)]);
        var person = PersonCalculations.For(Mpid);

        Evaluate(person, [nesting, notIn, GoldTier], Tier("gold"), Now).ShouldBeTrue();
        person.Changes.Select(c => (c.AudienceId, c.Added)).ShouldBe([(1, true), (2, true)]);
        person.Changes.Clear();

        Evaluate(person, [nesting, notIn, GoldTier], Tier("silver"), Now.AddHours(1)).ShouldBeTrue();
        person.Changes.Select(c => (c.AudienceId, c.Added)).ShouldBe([(1, false), (2, false), (3, true)]);
        person.Changes[1].Reason.ShouldBe("#1 audience_membership false: not a member of audience 1");
        person.Changes[2].Reason.ShouldBe("#1 audience_membership true: not a member of audience 1");
    }

    [Fact]
    public void a_nesting_audience_does_not_see_memberships_of_a_deactivated_audience()
    {
        var nesting = AudienceOf(2, [Ws], [MemberOf(1)]);
        var person = PersonCalculations.For(Mpid);
        Evaluate(person, [nesting, GoldTier], Tier("gold"), Now);
        person.Changes.Clear();

        // audience 1 is deactivated (it has no members any more); audience 2 still nests it
        Evaluate(person, [nesting], Tier("gold"), Now.AddHours(1));
        person.Changes.Select(c => (c.AudienceId, c.Added)).ShouldBe([(2, false)]);
        person.IsMemberOf(2).ShouldBeFalse();
    }

    [Fact]
    public void a_nesting_audience_does_not_see_memberships_of_an_earlier_activation()
    {
        var nesting = AudienceOf(2, [Ws], [MemberOf(1)]);
        var person = PersonCalculations.For(Mpid);
        Evaluate(person, [nesting, GoldTier], Tier("gold"), Now);
        person.Changes.Clear();

        // audience 1 is re-activated and the person no longer matches it
        var reactivated = GoldTier with { Activation = Guid.NewGuid() };
        Evaluate(person, [nesting, reactivated], Tier("silver"), Now.AddHours(1));
        person.Changes.Select(c => (c.AudienceId, c.Added)).ShouldBe([(2, false)]);
    }

    // ---- the next time-based re-evaluation

    [Fact]
    public void the_next_re_evaluation_is_when_the_earliest_verdict_can_change_by_itself()
    {
        var at = new DateTimeOffset(2024, 5, 11, 10, 30, 0, TimeSpan.Zero);
        var week = AudienceOf(1, [Ws], [Did(recency: InLast(7))]);
        var twoDays = AudienceOf(2, [Ws], [Did("Browse", recency: InLast(2))]);
        var person = PersonCalculations.For(Mpid);
        EventCaptured[] events = [Purchase(at), CA.Custom("Browse", at)];

        Evaluate(person, [week, twoDays], Person(), at, events).ShouldBeTrue();
        person.AudiencesChangeAt.ShouldBe(new DateTimeOffset(2024, 5, 13, 11, 0, 0, TimeSpan.Zero));
        person.Changes.Clear();

        // nothing changed: neither membership nor the next moment
        Evaluate(person, [week, twoDays], Person(), at.AddHours(1), events).ShouldBeFalse();

        // only the next moment changed: that is a change of state (to be stored and scheduled)
        Evaluate(person, [week, twoDays], Person(), new DateTimeOffset(2024, 5, 13, 11, 0, 0, TimeSpan.Zero), events).ShouldBeTrue();
        person.Changes.Select(c => (c.AudienceId, c.Added)).ShouldBe([(2, false)]);
        person.AudiencesChangeAt.ShouldBe(new DateTimeOffset(2024, 5, 18, 11, 0, 0, TimeSpan.Zero));

        Evaluate(person, [GoldTier], Tier("gold"), at).ShouldBeTrue();
        person.AudiencesChangeAt.ShouldBeNull();
    }

    [Fact]
    public void a_rolling_calculated_value_schedules_the_audiences_that_use_it()
    {
        var next = Now.AddDays(3);
        var byValue = AudienceOf(1, [Ws], [Calculated("number", GreaterThan, "2")]);
        var values = (int _) => Values(("orders", CalculatedValue.Of("3")));

        var person = PersonCalculations.For(Mpid);
        person.NextChangeAt = next;
        Evaluate(person, [byValue], Person(), Now, calculated: values).ShouldBeTrue();
        person.Changes.Single().Added.ShouldBeTrue();
        person.AudiencesChangeAt.ShouldBe(next);

        var unrelated = PersonCalculations.For(Mpid);
        unrelated.NextChangeAt = next;
        Evaluate(unrelated, [GoldTier], Tier("silver"), Now).ShouldBeFalse();
        unrelated.AudiencesChangeAt.ShouldBeNull();
    }

    [Fact]
    public void a_member_by_a_recent_event_is_removed_at_the_scheduled_moment()
    {
        var at = new DateTimeOffset(2024, 5, 11, 10, 30, 0, TimeSpan.Zero);
        var audience = Chain(Did(recency: InLast(7)));
        var person = PersonCalculations.For(Mpid);

        Evaluate(person, [audience], Person(), at, [Purchase(at)]);
        person.Changes.Single().Added.ShouldBeTrue();
        person.Changes.Clear();
        var scheduled = person.AudiencesChangeAt!.Value;
        scheduled.ShouldBe(new DateTimeOffset(2024, 5, 18, 11, 0, 0, TimeSpan.Zero));

        Evaluate(person, [audience], Person(), scheduled, [Purchase(at)]).ShouldBeTrue();
        person.Changes.ShouldBe([new MembershipChange(1, AudienceActivation, Mpid, false, scheduled,
            "#1 event false: 0 matching Purchase event(s) in the last 7 days; wanted greater than 0")]);
        person.AudiencesChangeAt.ShouldBeNull();
    }

    [Fact]
    public void a_person_whose_event_enters_a_between_days_ago_period_is_added_at_the_scheduled_moment()
    {
        var at = new DateTimeOffset(2024, 5, 11, 10, 30, 0, TimeSpan.Zero);
        var audience = Chain(Did(recency: DaysAgo(4, 6)));
        var person = PersonCalculations.For(Mpid);

        Evaluate(person, [audience], Person(), at, [Purchase(at)]);
        person.Changes.ShouldBeEmpty();
        var scheduled = person.AudiencesChangeAt!.Value;

        Evaluate(person, [audience], Person(), scheduled, [Purchase(at)]);
        person.Changes.Select(c => (c.AudienceId, c.Added)).ShouldBe([(1, true)]);
    }
}
