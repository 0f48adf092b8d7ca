using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Privacy;
using EventProfiles.Domain.Tests.CalculatedAttributes;
using static EventProfiles.Domain.Tests.Audiences.Aud;

namespace EventProfiles.Domain.Tests.Audiences;

/// <summary>
/// Lifetime Profiles (retention-and-privacy.md §3, issue 16 §1): an event criterion without recency counts every event
/// since activation for as long as the profile lives; a recency criterion still expires; "since" dates reach back to retention.
/// </summary>
public class LifetimeProfilesTests
{
    /// <summary>Activation time of the audiences below: T0 (2024-05-01); the counters start a 30-day lookback earlier.</summary>
    private static readonly DateTimeOffset Activated = T0;
    private static readonly DateTimeOffset CountsSince = Activated.AddDays(-30);

    /// <summary>An audience activated with Lifetime Profiles on: counters of criteria without recency count since activation.</summary>
    private static ActiveAudience Lifetime(params Criterion[] criteria)
    {
        var counters = new Dictionary<int, ActiveDefinition>();
        for (var i = 0; i < criteria.Length; i++)
            if (criteria[i].Kind == CriterionKinds.Event)
                counters[i] = new ActiveDefinition(100 + i, Ws, $"~audience 1 criterion {i + 1}", Guid.NewGuid(), Audience.CounterFor(criteria[i], 30, CountsSince));
        return new ActiveAudience(1, "Audience 1", AudienceActivation, [Ws], criteria, counters, 30);
    }

    [Fact]
    public void a_purchase_200_days_ago_still_qualifies_when_counted_for_the_lifetime()
    {
        var purchase = Purchase(Activated.AddDays(1));
        var now = purchase.Timestamp.AddDays(200);
        Verdict(Lifetime(Did()), Person(), now, [purchase]).IsMember.ShouldBeTrue();
        // Counted within the lookback (Lifetime Profiles off at activation), the same purchase no longer qualifies.
        Verdict(Chain(Did()), Person(), now, [purchase]).IsMember.ShouldBeFalse();
    }

    [Fact]
    public void nothing_is_scheduled_for_a_count_since_activation_but_a_recency_criterion_still_expires()
    {
        var install = CA.Custom("Install", Activated.AddDays(1));
        var lifetime = Lifetime(Did("Purchase"), Did("Install", recency: InLast(30), join: Joins.Or));
        var facts = Facts(lifetime, Person(), install.Timestamp, [Purchase(Activated.AddDays(1)), install]);
        AudienceEvaluation.NextChangeAt(lifetime, facts)!.Value.ShouldBeLessThanOrEqualTo(install.Timestamp.AddDays(31)); // only the install leaves
        var installed = Lifetime(Did("Install", recency: InLast(30)));
        Verdict(installed, Person(), install.Timestamp.AddDays(29), [install]).IsMember.ShouldBeTrue();
        Verdict(installed, Person(), install.Timestamp.AddDays(31), [install]).IsMember.ShouldBeFalse();
    }

    [Fact]
    public void a_count_since_activation_keeps_counting_past_the_lookback_and_says_so()
    {
        var purchases = new[] { Purchase(Activated.AddDays(1)), Purchase(Activated.AddDays(40)), Purchase(Activated.AddDays(90)) };
        var verdict = Verdict(Lifetime(Did(op: AudienceOperators.GreaterOrEqual, count: 3)), Person(), Activated.AddDays(91), purchases);
        verdict.IsMember.ShouldBeTrue();
        verdict.Criteria.Single().Why.ShouldBe("3 matching Purchase event(s) since 2024-04-01 (counted for the profile's lifetime: Lifetime Profiles); wanted greater or equal 3");
    }

    [Fact]
    public void the_counter_of_a_criterion_with_recency_stays_rolling_with_lifetime_profiles()
    {
        Audience.CounterFor(Did(recency: InLast(7)), 30, CountsSince).TimePeriod!.ShouldBe(new TimePeriod { Type = TimePeriodTypes.Within, Within = 7, WithinUnit = TimePeriodTypes.Days });
        Audience.CounterFor(Did(), 30, CountsSince).TimePeriod!.ShouldBe(new TimePeriod { Type = TimePeriodTypes.Since, Date = CountsSince });
        Audience.CounterFor(Did(), 30).TimePeriod!.ShouldBe(new TimePeriod { Type = TimePeriodTypes.Within, Within = 30, WithinUnit = TimePeriodTypes.Days });
    }

    // ---- "since" calculated attributes

    private static readonly DateTimeOffset Now = new(2024, 5, 31, 12, 0, 0, TimeSpan.Zero);
    private static readonly RetentionSettings On = new() { DataRetentionDays = 365, ProfileLifetimeDays = 365, LifetimeProfiles = true };

    private static IReadOnlyList<DefinitionProblem> CheckSince(DateTimeOffset date, RetentionSettings? retention) =>
        DefinitionRules.Check(CA.OnPlay(CalculationTypes.Count, null, CA.Since(date)), 30, Now, retention: retention);

    [Fact]
    public void with_lifetime_profiles_a_since_date_may_start_before_the_lookback()
    {
        CheckSince(Now.AddDays(-200), On).ShouldBeEmpty();
        CheckSince(Now.AddDays(-200), On with { LifetimeProfiles = false }).Single().Reason
            .ShouldBe("'time_period.date' must be on or after the earliest date available of 2024-05-01.");
    }

    [Fact]
    public void with_lifetime_profiles_the_since_date_is_bounded_by_retention_and_the_message_names_that_limit()
    {
        var problem = CheckSince(Now.AddDays(-400), On).Single();
        problem.Field.ShouldBe("draft_definition.time_period.date");
        problem.Reason.ShouldBe("'time_period.date' must be on or after the earliest date available of 2023-06-01: with Lifetime Profiles on, the limit is the data retention period of 365 days.");
    }

    // ---- the person's clock and ageing out

    [Fact]
    public void the_persons_clock_only_moves_forward()
    {
        var person = PersonCalculations.For(Mpid);
        person.Advance(T0.AddHours(2)).ShouldBe(T0.AddHours(2));
        person.Advance(T0.AddHours(1)).ShouldBe(T0.AddHours(2)); // an event stored earlier than a clock event does not turn time back
        person.AsOf.ShouldBe(T0.AddHours(2));
    }

    [Fact]
    public void ageing_out_ends_the_values_and_the_parts_replayed_before_it()
    {
        var definition = CA.Activate(CA.OnPlay(CalculationTypes.Count, null, CA.Since(T0))) with { LiveAfterSequence = 10 };
        var person = CA.Fold(definition, T0.AddDays(1), CA.Play(T0.AddHours(1), "1"));
        person.Definitions.ShouldNotBeEmpty();
        person.CountsReplayOf(definition).ShouldBeTrue();
        person.AgeOut(sequence: 50);
        person.Definitions.ShouldBeEmpty();
        person.CountsReplayOf(definition).ShouldBeFalse(); // replayed up to 10, before the ageing out at 50
        person.CountsReplayOf(definition with { LiveAfterSequence = 60 }).ShouldBeTrue(); // an activation after the return
    }
}
