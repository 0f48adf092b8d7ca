using System.Text.Json;
using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Consent;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Tests.CalculatedAttributes;
using static EventProfiles.Domain.Tests.CalculatedAttributes.CA;

namespace EventProfiles.Domain.Tests.Audiences;

public class AudienceEvaluationTests
{
    private static readonly DateTimeOffset Now = T0.AddDays(10);
    private static readonly Guid Activation = Guid.NewGuid();

    /// <summary>A person known in workspace 1, with the given changes folded in.</summary>
    private static Profile Person(params object[] events)
    {
        var profile = Domain.Profiles.Profile.Create(new ProfileCreated(4242, T0)).Evolve(
            new BatchReceived(Guid.NewGuid(), Workspace, "server", "development", T0, null, false, Json("{}")));
        foreach (var e in events) profile = profile.Evolve(e);
        return profile;
    }

    private static UserAttributeSet Attribute(string name, string json) => new(Workspace, name, Json(json), T0, "server");

    private static ActiveAudience Audience(params Criterion[] criteria)
    {
        var counters = new Dictionary<int, ActiveDefinition>();
        for (var i = 0; i < criteria.Length; i++)
            if (criteria[i].Kind == CriterionKinds.Event)
                counters[i] = new ActiveDefinition(100 + i, Workspace, $"counter {i}", Activation, Domain.Audiences.Audience.CounterFor(criteria[i], 30));
        return new ActiveAudience(1, "Audience", Activation, [Workspace], criteria, counters, 30);
    }

    /// <summary>Evaluates with the events counted by the audience's counters as of <paramref name="at"/>.</summary>
    private static AudienceVerdict Evaluate(ActiveAudience audience, Profile profile, DateTimeOffset at, EventCaptured[]? events = null,
        IReadOnlyDictionary<string, CalculatedValue>? calculated = null, Func<int, bool>? memberOf = null)
    {
        var parts = audience.Counters.Values.ToDictionary(c => c.Id, c =>
        {
            var calculation = Calculation.For(c);
            foreach (var e in events ?? [])
                foreach (var o in c.Observe(e)) calculation.Observe(c, o, at);
            return calculation;
        });
        return AudienceEvaluation.Evaluate(audience, new PersonFacts(profile, at,
            counter => [parts[counter.Id]],
            _ => calculated ?? new Dictionary<string, CalculatedValue>(),
            memberOf ?? (_ => false)));
    }

    private static Criterion Event(string name = "Purchase", string op = AudienceOperators.GreaterThan, int count = 0, Recency? recency = null, string join = Joins.And) =>
        new() { Join = join, Kind = CriterionKinds.Event, EventType = "custom_event", EventName = name, Frequency = new Frequency(op, count), Recency = recency ?? new Recency(7, null, null) };

    private static Criterion OnProfile(string kind, string? type = null, string op = AudienceOperators.EqualTo, string? value = null, string? attribute = "tier",
        string join = Joins.And, string[]? values = null, string? min = null, string? max = null) =>
        new() { Join = join, Kind = kind, Type = type, Operator = op, Value = value, AttributeName = attribute, Values = values, MinValue = min, MaxValue = max };

    private static bool Holds(Criterion criterion, Profile profile, params EventCaptured[] events) =>
        Evaluate(Audience(criterion), profile, Now, events).IsMember;

    // ---- event criteria: frequency and recency

    [Theory]
    [InlineData(AudienceOperators.GreaterThan, 1, 2, true)]
    [InlineData(AudienceOperators.GreaterThan, 2, 2, false)]
    [InlineData(AudienceOperators.GreaterOrEqual, 2, 2, true)]
    [InlineData(AudienceOperators.LessThan, 3, 2, true)]
    [InlineData(AudienceOperators.LessThan, 2, 2, false)]
    [InlineData(AudienceOperators.LessOrEqual, 2, 2, true)]
    [InlineData(AudienceOperators.EqualTo, 2, 2, true)]
    [InlineData(AudienceOperators.EqualTo, 1, 2, false)]
    public void frequency_compares_the_number_of_matching_events(string op, int count, int events, bool expected) =>
        Holds(Event(op: op, count: count), Person(), Enumerable.Range(0, events).Select(i => Custom("Purchase", Now.AddHours(-i - 1))).ToArray()).ShouldBe(expected);

    [Fact]
    public void only_matching_events_inside_the_period_count()
    {
        var events = new[] { Custom("Purchase", Now.AddDays(-2)), Custom("Purchase", Now.AddDays(-9)), Custom("Other", Now.AddHours(-1)) };
        var verdict = Evaluate(Audience(Event(op: AudienceOperators.EqualTo, count: 1)), Person(), Now, events);
        verdict.IsMember.ShouldBeTrue();
        verdict.Criteria[0].Why.ShouldContain("1 matching Purchase event(s) in the last 7 days");
    }

    [Fact]
    public void an_event_counts_until_its_bucket_leaves_the_period_and_that_moment_is_the_next_change()
    {
        var audience = Audience(Event());
        var counter = audience.Counters[0];
        var at = Now.AddDays(-6).AddMinutes(-30);
        var expiry = Calculation.Expiry(Calculation.BucketStart(at, counter.BucketWidth), counter);
        var e = Custom("Purchase", at);
        Evaluate(audience, Person(), expiry.AddTicks(-1), [e]).IsMember.ShouldBeTrue();
        Evaluate(audience, Person(), expiry, [e]).IsMember.ShouldBeFalse();

        var part = Calculation.For(counter);
        foreach (var o in counter.Observe(e)) part.Observe(counter, o, Now);
        AudienceEvaluation.NextChangeAt(audience, new PersonFacts(Person(), Now, _ => [part], _ => new Dictionary<string, CalculatedValue>(), _ => false))
            .ShouldBe(expiry);
    }

    [Fact]
    public void between_days_ago_counts_only_events_older_than_the_near_end()
    {
        var criterion = Event(recency: new Recency(null, 4, 6));
        Holds(criterion, Person(), Custom("Purchase", Now.AddDays(-5))).ShouldBeTrue();
        Holds(criterion, Person(), Custom("Purchase", Now.AddDays(-2))).ShouldBeFalse();
        Holds(criterion, Person(), Custom("Purchase", Now.AddDays(-8))).ShouldBeFalse();
    }

    [Fact]
    public void event_conditions_filter_what_counts()
    {
        var criterion = Event() with { Conditions = [When("number", ConditionOperators.GreaterThan, "amount", "10")] };
        Holds(criterion, Person(), Custom("Purchase", Now.AddHours(-1), """{ "amount": "5" }""")).ShouldBeFalse();
        Holds(criterion, Person(), Custom("Purchase", Now.AddHours(-1), """{ "amount": "50" }""")).ShouldBeTrue();
    }

    // ---- profile criteria

    [Theory]
    [InlineData("string", AudienceOperators.EqualTo, "GOLD", true)]
    [InlineData("string", AudienceOperators.NotEquals, "gold", false)]
    [InlineData("string", AudienceOperators.Contains, "OL", true)]
    [InlineData("string", AudienceOperators.NotContains, "x", true)]
    [InlineData("string", AudienceOperators.Pattern, "g*d", true)]
    [InlineData("string", AudienceOperators.Pattern, "g?ld", true)]
    [InlineData("string", AudienceOperators.Pattern, "g?d", false)]
    [InlineData("string", AudienceOperators.Exists, null, true)]
    [InlineData("string", AudienceOperators.NotExists, null, false)]
    public void string_user_attributes_match_case_insensitively(string type, string op, string? value, bool expected) =>
        Holds(OnProfile(CriterionKinds.UserAttribute, type, op, value), Person(Attribute("tier", "\"Gold\""))).ShouldBe(expected);

    [Theory]
    [InlineData(AudienceOperators.GreaterThan, "41", null, null, true)]
    [InlineData(AudienceOperators.GreaterThan, "42", null, null, false)]
    [InlineData(AudienceOperators.GreaterOrEqual, "42", null, null, true)]
    [InlineData(AudienceOperators.LessThan, "42.5", null, null, true)]
    [InlineData(AudienceOperators.LessOrEqual, "41.9", null, null, false)]
    [InlineData(AudienceOperators.EqualTo, "42.0", null, null, true)]
    [InlineData(AudienceOperators.Between, null, "40", "42", true)]
    [InlineData(AudienceOperators.Between, null, "43", "50", false)]
    public void numbers_compare_as_numbers_including_numeric_strings(string op, string? value, string? min, string? max, bool expected) =>
        Holds(OnProfile(CriterionKinds.UserAttribute, "number", op, value, min: min, max: max), Person(Attribute("tier", "\"42\""))).ShouldBe(expected);

    [Fact]
    public void a_missing_attribute_fails_everything_but_not_exists()
    {
        Holds(OnProfile(CriterionKinds.UserAttribute, "string", AudienceOperators.NotEquals, "gold"), Person()).ShouldBeFalse();
        Holds(OnProfile(CriterionKinds.UserAttribute, "string", AudienceOperators.NotExists), Person()).ShouldBeTrue();
    }

    [Theory]
    [InlineData(AudienceOperators.Before, "2024-05-03", false)] // the same UTC day is not before it
    [InlineData(AudienceOperators.Before, "2024-05-04", true)]
    [InlineData(AudienceOperators.After, "2024-05-03", true)]  // after includes the day
    [InlineData(AudienceOperators.After, "2024-05-04", false)]
    [InlineData(AudienceOperators.On, "2024-05-03", true)]
    [InlineData(AudienceOperators.On, "2024-05-02", false)]
    public void dates_compare_by_utc_calendar_day(string op, string value, bool expected) =>
        Holds(OnProfile(CriterionKinds.UserAttribute, "date", op, value), Person(Attribute("tier", "\"2024-05-03T23:59:00Z\""))).ShouldBe(expected);

    [Fact]
    public void between_dates_includes_both_days_and_within_last_days_is_relative_to_now()
    {
        var person = Person(Attribute("tier", "\"2024-05-03T12:00:00Z\""));
        Holds(OnProfile(CriterionKinds.UserAttribute, "date", AudienceOperators.Between, min: "2024-05-03", max: "2024-05-03"), person).ShouldBeTrue();
        Holds(OnProfile(CriterionKinds.UserAttribute, "date", AudienceOperators.WithinLastDays, "8"), person).ShouldBeTrue(); // now = May 11
        Holds(OnProfile(CriterionKinds.UserAttribute, "date", AudienceOperators.WithinLastDays, "7"), person).ShouldBeFalse();
    }

    [Theory]
    [InlineData(AudienceOperators.Includes, "COMEDY", true)]
    [InlineData(AudienceOperators.Includes, "com", false)]
    [InlineData(AudienceOperators.PartialMatch, "com", true)]
    [InlineData(AudienceOperators.DoesNotInclude, "drama", true)]
    [InlineData(AudienceOperators.DoesNotInclude, "comedy", false)]
    [InlineData(AudienceOperators.Exists, null, true)]
    public void attribute_lists(string op, string? value, bool expected) =>
        Holds(OnProfile(CriterionKinds.UserAttributeList, op: op, value: value, attribute: "genres"), Person(Attribute("genres", """["documentary","comedy"]"""))).ShouldBe(expected);

    [Fact]
    public void identities_calculated_attributes_consent_devices_and_first_seen()
    {
        var person = Person(
            new UserIdentityAdded(Workspace, "email", "Ana@Example.org", T0, "server"),
            new ConsentStateChanged(Workspace, Regulations.Gdpr, "marketing", new ConsentRecord(true, T0, null, null, null), "server"),
            new ConsentStateChanged(Workspace, Regulations.Ccpa, Regulations.CcpaPurpose, new ConsentRecord(false, T0, null, null, null), "server"),
            new DeviceSeen(Workspace, "ios_idfv:A", T0, null, new Dictionary<string, string> { ["ios_idfv"] = "A" }, "iOS", null, null, null));

        Holds(new Criterion { Kind = CriterionKinds.Identity, IdentityType = "email", Operator = AudienceOperators.Pattern, Value = "*@example.org" }, person).ShouldBeTrue();
        Holds(new Criterion { Kind = CriterionKinds.Identity, IdentityType = "mobile_number", Operator = AudienceOperators.NotExists }, person).ShouldBeTrue();
        Holds(new Criterion { Kind = CriterionKinds.Consent, Regulation = "gdpr", Purpose = "Marketing", Consented = true }, person).ShouldBeTrue();
        Holds(new Criterion { Kind = CriterionKinds.Consent, Regulation = "gdpr", Purpose = "analytics", Consented = false }, person).ShouldBeFalse(); // no record
        Holds(new Criterion { Kind = CriterionKinds.Consent, Regulation = "ccpa", Consented = false }, person).ShouldBeTrue();
        Holds(new Criterion { Kind = CriterionKinds.Device, Field = "platform", Operator = AudienceOperators.EqualTo, Value = "ios" }, person).ShouldBeTrue();
        Holds(new Criterion { Kind = CriterionKinds.FirstSeen, Operator = AudienceOperators.Before, Value = "2024-05-02" }, person).ShouldBeTrue();

        var calculated = new Dictionary<string, CalculatedValue> { ["orders"] = CalculatedValue.Of("3") };
        Evaluate(Audience(OnProfile(CriterionKinds.CalculatedAttribute, "number", AudienceOperators.GreaterThan, "2", attribute: "orders")), person, Now, calculated: calculated)
            .IsMember.ShouldBeTrue();
    }

    [Fact]
    public void membership_of_another_audience()
    {
        var inOther = new Criterion { Kind = CriterionKinds.AudienceMembership, AudienceId = 9, Member = true };
        Evaluate(Audience(inOther), Person(), Now, memberOf: id => id == 9).IsMember.ShouldBeTrue();
        Evaluate(Audience(inOther with { Member = false }), Person(), Now, memberOf: id => id == 9).IsMember.ShouldBeFalse();
    }

    // ---- the chain and who may be a member

    [Theory]
    [InlineData(true, Joins.And, false, false)]
    [InlineData(true, Joins.Or, false, true)]
    [InlineData(false, Joins.Or, true, true)]
    [InlineData(true, Joins.Exclude, true, false)]
    [InlineData(true, Joins.Exclude, false, true)]
    [InlineData(false, Joins.Exclude, false, false)]
    public void and_or_exclude(bool first, string join, bool second, bool expected)
    {
        Criterion C(bool holds, string j) => OnProfile(CriterionKinds.UserAttribute, "string", holds ? AudienceOperators.Exists : AudienceOperators.NotExists, join: j);
        Evaluate(Audience(C(first, Joins.And), C(second, join)), Person(Attribute("tier", "\"gold\"")), Now).IsMember.ShouldBe(expected);
    }

    [Fact]
    public void the_chain_is_read_left_to_right()
    {
        Criterion C(bool holds, string j) => OnProfile(CriterionKinds.UserAttribute, "string", holds ? AudienceOperators.Exists : AudienceOperators.NotExists, join: j);
        // (true OR false) AND false = false; left to right, not AND-before-OR.
        Evaluate(Audience(C(true, Joins.And), C(false, Joins.Or), C(false, Joins.And)), Person(Attribute("tier", "\"gold\"")), Now).IsMember.ShouldBeFalse();
    }

    [Fact]
    public void an_opted_out_person_or_one_unknown_in_the_workspaces_is_never_a_member()
    {
        var always = OnProfile(CriterionKinds.UserAttribute, "string", AudienceOperators.NotExists, attribute: "nothing");
        Holds(always, Person()).ShouldBeTrue();
        Holds(always, Person(new OptOutChanged(Workspace, true, T0))).ShouldBeFalse();
        var stranger = Domain.Profiles.Profile.Create(new ProfileCreated(5, T0));
        Holds(always, stranger).ShouldBeFalse();
    }

    // ---- recorded memberships

    [Fact]
    public void a_change_is_recorded_when_the_verdict_changes_and_only_then()
    {
        var audience = Audience(OnProfile(CriterionKinds.UserAttribute, "string", AudienceOperators.EqualTo, "gold"));
        var person = PersonCalculations.For(4242);
        PersonFacts Facts(Profile p) => new(p, Now, _ => [], _ => new Dictionary<string, CalculatedValue>(), id => person.IsMemberOf(id));

        person.EvaluateAudiences([audience], _ => Facts(Person(Attribute("tier", "\"gold\""))), Now);
        person.Changes.Single().Added.ShouldBeTrue();
        person.IsMemberOf(1, Activation).ShouldBeTrue();
        person.Changes.Clear();

        person.EvaluateAudiences([audience], _ => Facts(Person(Attribute("tier", "\"gold\""))), Now);
        person.Changes.ShouldBeEmpty();

        person.EvaluateAudiences([audience], _ => Facts(Person(Attribute("tier", "\"silver\""))), Now);
        person.Changes.Single().Added.ShouldBeFalse();
        person.Changes.Single().Reason.ShouldContain("user attribute tier is \"silver\"");

        person.EvaluateAudiences([], _ => Facts(Person()), Now); // deactivated: forgotten without a message
        person.Audiences.ShouldBeEmpty();
    }

    // ---- rules

    [Fact]
    public void rules_name_each_problem()
    {
        Check([]).ShouldContain(p => p.Field == "criteria");
        Check([new Criterion { Kind = "horoscope" }]).ShouldContain(p => p.Field == "criteria[0].kind");
        Check([OnProfile(CriterionKinds.UserAttribute, "string", AudienceOperators.Exists), OnProfile(CriterionKinds.UserAttribute, "string", AudienceOperators.Exists, join: "xor")])
            .ShouldContain(p => p.Field == "criteria[1].join");
        Check([OnProfile(CriterionKinds.UserAttribute, "number", AudienceOperators.Contains, "1")]).ShouldContain(p => p.Field == "criteria[0].operator");
        Check([OnProfile(CriterionKinds.UserAttribute, "number", AudienceOperators.GreaterThan, "many")]).ShouldContain(p => p.Field == "criteria[0].value");
        Check([Event(recency: new Recency(31, null, null))]).ShouldContain(p => p.Field == "criteria[0].recency");
        Check([Event(recency: new Recency(null, 6, 4))]).ShouldContain(p => p.Field == "criteria[0].recency");
        Check([Event() with { Conditions = [When("string", "sounds_like", "a", "x")] }]).ShouldContain(p => p.Field == "criteria[0].conditions[0].operator");
        Check([new Criterion { Kind = CriterionKinds.AudienceMembership, AudienceId = 404 }]).ShouldContain(p => p.Field == "criteria[0].audience_id");
        Check([new Criterion { Kind = CriterionKinds.AudienceMembership, AudienceId = 2 }]).ShouldContain(p => p.Message().Contains("one level"));
        Check([Event(), OnProfile(CriterionKinds.UserAttribute, "string", AudienceOperators.EqualTo, "gold", join: Joins.Exclude)]).ShouldBeEmpty();
    }

    private static IReadOnlyList<DefinitionProblem> Check(Criterion[] criteria)
    {
        var nesting = new Domain.Audiences.Audience { Id = 2, WorkspaceIds = [Workspace], Criteria = [new Criterion { Kind = CriterionKinds.AudienceMembership, AudienceId = 3 }] };
        return AudienceRules.Check(criteria, [Workspace], 30, id => id == 2 ? nesting : null, 1);
    }
}

internal static class ProblemText
{
    public static string Message(this DefinitionProblem problem) => problem.Reason;
}
