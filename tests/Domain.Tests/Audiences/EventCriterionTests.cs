using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Tests.CalculatedAttributes;
using static EventProfiles.Domain.Audiences.AudienceOperators;
using static EventProfiles.Domain.Tests.Audiences.Aud;

namespace EventProfiles.Domain.Tests.Audiences;

public class EventCriterionTests
{
    /// <summary>2024-05-21T00:00:00Z.</summary>
    private static readonly DateTimeOffset Now = T0.AddDays(20);

    /// <summary>n purchases, one, two, … hours before now.</summary>
    private static EventCaptured[] Purchases(int n) => Enumerable.Range(1, n).Select(i => Purchase(Now.AddHours(-i))).ToArray();

    // ---- frequency

    [Theory]
    [InlineData(GreaterThan, 2, 2, false)]
    [InlineData(GreaterThan, 2, 3, true)]
    [InlineData(GreaterThan, 0, 0, false)]
    [InlineData(GreaterOrEqual, 2, 1, false)]
    [InlineData(GreaterOrEqual, 2, 2, true)]
    [InlineData(GreaterOrEqual, 2, 3, true)]
    [InlineData(LessThan, 2, 1, true)]
    [InlineData(LessThan, 2, 2, false)]
    [InlineData(LessThan, 1, 0, true)]
    [InlineData(LessOrEqual, 2, 2, true)]
    [InlineData(LessOrEqual, 2, 3, false)]
    [InlineData(LessOrEqual, 0, 0, true)]
    [InlineData(EqualTo, 2, 2, true)]
    [InlineData(EqualTo, 2, 1, false)]
    [InlineData(EqualTo, 2, 3, false)]
    [InlineData(EqualTo, 0, 0, true)]
    public void frequency_compares_the_number_of_matching_events_with_the_count(string op, int count, int events, bool expected) =>
        Holds(Did(op: op, count: count, recency: InLast(7)), Person(), Now, Purchases(events)).ShouldBe(expected);

    [Fact]
    public void without_a_frequency_the_criterion_is_more_than_zero_events()
    {
        Holds(Did(recency: InLast(7)), Person(), Now).ShouldBeFalse();
        Holds(Did(recency: InLast(7)), Person(), Now, Purchases(1)).ShouldBeTrue();
    }

    [Fact]
    public void a_frequency_without_an_operator_is_greater_than_its_count()
    {
        var criterion = Did(recency: InLast(7)) with { Frequency = new Frequency(null, 2) };
        Holds(criterion, Person(), Now, Purchases(2)).ShouldBeFalse();
        Holds(criterion, Person(), Now, Purchases(3)).ShouldBeTrue();
    }

    [Fact]
    public void the_explanation_gives_the_count_the_period_and_what_was_wanted()
    {
        Verdict(Chain(Did(op: GreaterOrEqual, count: 2, recency: InLast(7))), Person(), Now, Purchases(3)).Criteria.Single()
            .ShouldBe(new CriterionResult(0, "event", true, "3 matching Purchase event(s) in the last 7 days; wanted greater or equal 2"));
        Verdict(Chain(Did(op: LessThan, count: 1, recency: DaysAgo(4, 6))), Person(), Now, [Purchase(Now.AddDays(-5))]).Criteria.Single()
            .ShouldBe(new CriterionResult(0, "event", false, "1 matching Purchase event(s) between 4 and 6 days ago; wanted less than 1"));
    }

    // ---- the counter behind the criterion

    [Fact]
    public void the_counter_counts_the_selected_events_with_the_conditions_over_the_outer_period()
    {
        var criterion = Did(recency: DaysAgo(4, 6), conditions: [CA.When("string", ConditionOperators.EqualTo, "plan", "pro")]) with { CustomEventType = "transaction" };
        var counter = Audience.CounterFor(criterion, 30);

        counter.RecipeType.ShouldBe(DataPointTypes.Event);
        counter.CalculationType.ShouldBe(CalculationTypes.Count);
        counter.DataPoint.ShouldBe(new DataPoint { Type = DataPointTypes.Event, EventType = EventTypes.CustomEvent, EventName = "Purchase", CustomEventType = "transaction" });
        counter.Conditions!.Single().ShouldBe(CA.When("string", ConditionOperators.EqualTo, "plan", "pro"));
        counter.TimePeriod.ShouldBe(new TimePeriod { Type = TimePeriodTypes.Within, Within = 6, WithinUnit = TimePeriodTypes.Days });
    }

    [Theory]
    [InlineData(7, null, null, 30, 7)]
    [InlineData(null, 4, 6, 30, 6)]
    [InlineData(null, null, null, 30, 30)]
    [InlineData(null, null, null, 90, 90)]
    public void the_counter_period_is_the_outer_end_of_the_recency_or_the_lookback(int? within, int? from, int? to, int lookback, int expected)
    {
        var recency = within is null && from is null && to is null ? null : new Recency(within, from, to);
        Audience.CounterFor(Did(recency: recency), lookback).TimePeriod!.Within.ShouldBe(expected);
    }

    [Fact]
    public void without_a_recency_events_count_over_the_real_time_lookback()
    {
        // 30-day lookback: day buckets; 29 days ago counts, 31 days ago does not.
        Holds(Did(), Person(), Now, Purchase(Now.AddDays(-29))).ShouldBeTrue();
        Holds(Did(), Person(), Now, Purchase(Now.AddDays(-31))).ShouldBeFalse();

        var longer = AudienceOf(1, [Ws], [Did()], lookbackDays: 60);
        Verdict(longer, Person(), Now, [Purchase(Now.AddDays(-31))]).IsMember.ShouldBeTrue();
        Verdict(longer, Person(), Now, [Purchase(Now.AddDays(-62))]).IsMember.ShouldBeFalse();
    }

    [Fact]
    public void within_days_counts_only_events_of_the_last_n_days()
    {
        var criterion = Did(op: EqualTo, count: 1, recency: InLast(7));
        Holds(criterion, Person(), Now, Purchase(Now.AddDays(-6).AddHours(-23))).ShouldBeTrue();
        Holds(criterion, Person(), Now, Purchase(Now.AddDays(-8))).ShouldBeFalse();
        Holds(criterion, Person(), Now, Purchase(Now.AddDays(-2)), Purchase(Now.AddDays(-9)), Purchase(Now.AddDays(-20))).ShouldBeTrue();
    }

    [Fact]
    public void between_days_ago_counts_only_events_between_the_two_points()
    {
        var criterion = Did(recency: DaysAgo(4, 6));
        Holds(criterion, Person(), Now, Purchase(Now.AddDays(-5))).ShouldBeTrue();
        Holds(criterion, Person(), Now, Purchase(Now.AddDays(-4).AddHours(-2))).ShouldBeTrue();
        Holds(criterion, Person(), Now, Purchase(Now.AddDays(-3))).ShouldBeFalse(); // too recent
        Holds(criterion, Person(), Now, Purchase(Now.AddHours(-1))).ShouldBeFalse();
        Holds(criterion, Person(), Now, Purchase(Now.AddDays(-7))).ShouldBeFalse(); // too old

        var twice = Did(op: EqualTo, count: 2, recency: DaysAgo(4, 6));
        Holds(twice, Person(), Now, Purchase(Now.AddDays(-5)), Purchase(Now.AddDays(-4.5)), Purchase(Now.AddDays(-1)), Purchase(Now.AddDays(-8))).ShouldBeTrue();
    }

    [Fact]
    public void recent_events_do_not_satisfy_a_less_than_between_days_ago()
    {
        // "fewer than 1 purchase 4–6 days ago": purchases of yesterday do not change that.
        Holds(Did(op: LessThan, count: 1, recency: DaysAgo(4, 6)), Person(), Now, Purchase(Now.AddDays(-1))).ShouldBeTrue();
    }

    // ---- which events match

    [Fact]
    public void only_events_of_the_named_type_count_and_names_match_case_insensitively()
    {
        Holds(Did("Purchase"), Person(), Now, CA.Custom("Browse", Now.AddHours(-1))).ShouldBeFalse();
        Holds(Did("purchase"), Person(), Now, CA.Custom("PURCHASE", Now.AddHours(-1))).ShouldBeTrue();
        Holds(Did("Purchase"), Person(), Now, CA.ScreenView("Purchase", Now.AddHours(-1))).ShouldBeFalse();
    }

    [Fact]
    public void a_custom_event_type_narrows_the_selection()
    {
        var criterion = Did() with { CustomEventType = "transaction" };
        Holds(criterion, Person(), Now, CA.Custom("Purchase", Now.AddHours(-1), customEventType: "other")).ShouldBeFalse();
        Holds(criterion, Person(), Now, CA.Custom("Purchase", Now.AddHours(-1), customEventType: "Transaction")).ShouldBeTrue();
    }

    [Fact]
    public void screen_views_and_commerce_actions_can_be_counted()
    {
        var screen = new Criterion { Kind = CriterionKinds.Event, EventType = EventTypes.ScreenView, EventName = "Home" };
        Holds(screen, Person(), Now, CA.ScreenView("Home", Now.AddHours(-1))).ShouldBeTrue();
        Holds(screen, Person(), Now, CA.ScreenView("Cart", Now.AddHours(-1))).ShouldBeFalse();

        var bought = new Criterion { Kind = CriterionKinds.Event, EventType = EventTypes.CommerceEvent, CustomEventType = "purchase" };
        Holds(bought, Person(), Now, CA.Commerce(Now.AddHours(-1), "[]")).ShouldBeTrue();
        Holds(bought, Person(), Now, CA.Commerce(Now.AddHours(-1), "[]", action: "add_to_cart")).ShouldBeFalse();
    }

    [Fact]
    public void events_of_another_workspace_and_events_copied_by_an_alias_do_not_count()
    {
        Holds(Did(), PersonIn([Ws, Ws2]), Now, Purchase(Now.AddHours(-1), workspace: Ws2)).ShouldBeFalse();
        Holds(Did(), Person(), Now, CA.Custom("Purchase", Now.AddHours(-1), copiedFrom: 99)).ShouldBeFalse();

        // A criterion naming workspace 2 counts that workspace's events.
        var audience = AudienceOf(1, [Ws, Ws2], [Did(workspace: Ws2)]);
        audience.Counters[0].WorkspaceId.ShouldBe(Ws2);
        Verdict(audience, PersonIn([Ws, Ws2]), Now, [Purchase(Now.AddHours(-1), workspace: Ws2)]).IsMember.ShouldBeTrue();
        Verdict(audience, PersonIn([Ws, Ws2]), Now, [Purchase(Now.AddHours(-1), workspace: Ws)]).IsMember.ShouldBeFalse();
    }

    [Fact]
    public void conditions_on_event_attributes_filter_what_counts()
    {
        var over10 = Did(conditions: [CA.When("number", ConditionOperators.GreaterThan, "amount", "10")]);
        Holds(over10, Person(), Now, Purchase(Now.AddHours(-1), """{ "amount": "5" }""")).ShouldBeFalse();
        Holds(over10, Person(), Now, Purchase(Now.AddHours(-1), """{ "amount": 50 }""")).ShouldBeTrue();
        Holds(over10, Person(), Now, Purchase(Now.AddHours(-1))).ShouldBeFalse(); // no attribute: fails the condition

        var pro = Did(op: EqualTo, count: 1, conditions: [CA.When("string", ConditionOperators.EqualTo, "plan", "pro")]);
        Holds(pro, Person(), Now, Purchase(Now.AddHours(-1), """{ "plan": "PRO" }"""), Purchase(Now.AddHours(-2), """{ "plan": "free" }""")).ShouldBeTrue();

        var both = Did(conditions: [CA.When("number", ConditionOperators.GreaterThan, "amount", "10"), CA.When("string", ConditionOperators.EqualTo, "plan", "pro")]);
        Holds(both, Person(), Now, Purchase(Now.AddHours(-1), """{ "amount": 50, "plan": "free" }""")).ShouldBeFalse();
        Holds(both, Person(), Now, Purchase(Now.AddHours(-1), """{ "amount": 50, "plan": "pro" }""")).ShouldBeTrue();

        var withoutCoupon = Did(conditions: [CA.When("string", ConditionOperators.NotExists, "coupon")]);
        Holds(withoutCoupon, Person(), Now, Purchase(Now.AddHours(-1), """{ "coupon": "X" }""")).ShouldBeFalse();
        Holds(withoutCoupon, Person(), Now, Purchase(Now.AddHours(-1))).ShouldBeTrue();
    }

    // ---- the parts of a count

    [Fact]
    public void the_replayed_and_live_parts_add_up_and_parts_of_another_activation_are_ignored()
    {
        var audience = Chain(Did(op: EqualTo, count: 3, recency: InLast(7)));
        var counter = audience.Counters[0];
        Calculation Part(Guid activation, params EventCaptured[] events)
        {
            var part = new Calculation { Activation = activation };
            foreach (var e in events)
                foreach (var o in counter.Observe(e)) part.Observe(counter, o, e.Timestamp);
            return part;
        }
        var replayed = Part(counter.Activation, Purchase(Now.AddDays(-3)), Purchase(Now.AddDays(-2)));
        var live = Part(counter.Activation, Purchase(Now.AddHours(-1)));
        var stale = Part(Guid.NewGuid(), Purchase(Now.AddHours(-3)), Purchase(Now.AddHours(-2)));

        bool With(params Calculation?[] parts) =>
            AudienceEvaluation.Evaluate(audience, new PersonFacts(Person(), Now, _ => parts, _ => NoValues, _ => false)).IsMember;

        With(replayed, live).ShouldBeTrue();
        With(null, replayed, live, stale).ShouldBeTrue();
        With(replayed, stale).ShouldBeFalse(); // 2 current + 2 of an old activation
        With().ShouldBeFalse();
        AudienceEvaluation.CountEvents(counter, 0, Now, replayed, live, stale).ShouldBe(3);
        AudienceEvaluation.CountEvents(counter, 1, Now, replayed, live, stale).ShouldBe(2);
    }

    [Fact]
    public void an_event_criterion_without_its_counter_does_not_hold()
    {
        var audience = new ActiveAudience(1, "No counter", AudienceActivation, [Ws], [Did()], new Dictionary<int, ActiveDefinition>(), 30);
        var verdict = Verdict(audience, Person(), Now, Purchases(3));
        verdict.IsMember.ShouldBeFalse();
        verdict.Criteria.Single().Why.ShouldBe("no event counter");
    }
}
