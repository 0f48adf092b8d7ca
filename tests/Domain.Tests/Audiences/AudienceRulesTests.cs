using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Tests.CalculatedAttributes;
using static EventProfiles.Domain.Audiences.AudienceOperators;
using static EventProfiles.Domain.Tests.Audiences.Aud;

namespace EventProfiles.Domain.Tests.Audiences;

public class AudienceRulesTests
{
    private const int Self = 1;

    /// <summary>Stored audiences: 1 = this one, 2 = plain, 3 = nests 2, 4 = plain in another workspace.</summary>
    private static Audience? ById(int id) => id switch
    {
        1 => new Audience { Id = 1, WorkspaceIds = [Ws], Criteria = [UserAttr("string", Exists)] },
        2 => new Audience { Id = 2, WorkspaceIds = [Ws, Ws2], Criteria = [Did(), UserAttr("string", Exists, join: Joins.And)] },
        3 => new Audience { Id = 3, WorkspaceIds = [Ws], Criteria = [UserAttr("string", Exists), MemberOf(2, join: Joins.Or)] },
        4 => new Audience { Id = 4, WorkspaceIds = [9], Criteria = [UserAttr("string", Exists)] },
        _ => null,
    };

    private static IReadOnlyList<DefinitionProblem> Check(params Criterion[] criteria) => Check(30, criteria);

    private static IReadOnlyList<DefinitionProblem> Check(int lookbackDays, params Criterion[] criteria) =>
        AudienceRules.Check(criteria, [Ws], lookbackDays, ById, Self);

    private static DefinitionProblem Only(IReadOnlyList<DefinitionProblem> problems) => problems.ShouldHaveSingleItem();

    // ---- valid chains

    [Fact]
    public void a_valid_chain_of_every_kind_has_no_problems()
    {
        AudienceRules.Check([
            Did(op: GreaterOrEqual, count: 2, recency: InLast(7), conditions: [CA.When("number", ConditionOperators.GreaterThan, "amount", "10")]),
            Did("Browse", recency: DaysAgo(4, 6), join: Joins.Or),
            UserAttr("string", Pattern, "g*", join: Joins.And),
            UserAttr("number", Between, min: "1", max: "5", join: Joins.Exclude),
            UserAttr("boolean", EqualTo, "true", join: Joins.Or),
            UserAttr("date", WithinLastDays, "7", join: Joins.Or),
            UserAttr(null, InList, values: ["a", "b"], join: Joins.Or),
            ListAttr(PartialMatch, "com", join: Joins.Or),
            Calculated("number", LessOrEqual, "3", workspace: Ws2),
            HasIdentity("email", Exists),
            HasIdentity("customer_id", Pattern, "C-*"),
            Consented("gdpr", "marketing", true),
            Consented("ccpa", null, false),
            FirstSeen(Before, "2024-05-01"),
            FirstSeen(Between, min: "2024-05-01", max: "2024-05-31"),
            OnDevice("platform", EqualTo, "iOS"),
            MemberOf(2, member: false, join: Joins.Exclude),
        ], [Ws, Ws2], 30, ById, Self).ShouldBeEmpty();
    }

    [Fact]
    public void operators_without_operands_need_no_value()
    {
        Check(UserAttr("number", Exists), UserAttr("date", NotExists), ListAttr(Exists), HasIdentity("email", NotExists), OnDevice("os_version", Exists)).ShouldBeEmpty();
    }

    // ---- the chain

    [Fact]
    public void missing_criteria()
    {
        AudienceRules.Check(null, [Ws], 30, ById, Self).ShouldBe([new DefinitionProblem("criteria", "needs at least one criterion.")]);
        AudienceRules.Check([], [Ws], 30, ById, Self).ShouldBe([new DefinitionProblem("criteria", "needs at least one criterion.")]);
    }

    [Fact]
    public void a_null_criterion()
    {
        AudienceRules.Check([UserAttr("string", Exists), null!], [Ws], 30, ById, Self).ShouldBe([new DefinitionProblem("criteria[1]", "must be an object.")]);
    }

    [Theory]
    [InlineData("horoscope")]
    [InlineData("Event")]
    [InlineData(null)]
    public void an_unknown_kind(string? kind)
    {
        var problem = Only(Check(UserAttr("string", Exists), new Criterion { Kind = kind, Join = Joins.And }));
        problem.Field.ShouldBe("criteria[1].kind");
        problem.Reason.ShouldBe("must be one of event, user_attribute, user_attribute_list, calculated_attribute, identity, consent, first_seen, device, audience_membership.");
    }

    [Theory]
    [InlineData("xor")]
    [InlineData("AND")]
    [InlineData("")]
    [InlineData("and not")]
    public void a_bad_join(string join)
    {
        Check(UserAttr("string", Exists), UserAttr("string", Exists, join: join))
            .ShouldBe([new DefinitionProblem("criteria[1].join", "must be and, or or exclude.")]);
    }

    [Fact]
    public void the_join_of_the_first_criterion_is_not_checked()
    {
        Check(UserAttr("string", Exists, join: "xor")).ShouldBeEmpty();
    }

    [Fact]
    public void problems_of_several_criteria_are_all_reported_with_their_index()
    {
        Check(UserAttr("number", Contains, "1"), UserAttr("string", Exists, join: "xor"), new Criterion { Kind = "?" })
            .Select(p => p.Field).ShouldBe(["criteria[0].operator", "criteria[1].join", "criteria[2].kind"]);
    }

    // ---- operators and operands

    [Theory]
    [InlineData(CriterionKinds.UserAttribute, "number", Contains)]
    [InlineData(CriterionKinds.UserAttribute, "number", Pattern)]
    [InlineData(CriterionKinds.UserAttribute, "boolean", GreaterThan)]
    [InlineData(CriterionKinds.UserAttribute, "boolean", NotEquals)]
    [InlineData(CriterionKinds.UserAttribute, "date", EqualTo)]
    [InlineData(CriterionKinds.UserAttribute, "string", Before)]
    [InlineData(CriterionKinds.UserAttribute, "string", GreaterThan)]
    [InlineData(CriterionKinds.UserAttribute, "string", Includes)]
    [InlineData(CriterionKinds.UserAttribute, "list", EqualTo)]
    [InlineData(CriterionKinds.UserAttribute, null, Between)] // a string by default
    [InlineData(CriterionKinds.CalculatedAttribute, "number", After)]
    [InlineData(CriterionKinds.UserAttributeList, "string", EqualTo)] // always a list
    [InlineData(CriterionKinds.UserAttributeList, null, Contains)]
    [InlineData(CriterionKinds.Identity, null, GreaterThan)]
    [InlineData(CriterionKinds.Identity, null, Includes)]
    [InlineData(CriterionKinds.Device, null, Before)]
    [InlineData(CriterionKinds.FirstSeen, null, Contains)]
    [InlineData(CriterionKinds.FirstSeen, null, EqualTo)]
    [InlineData(CriterionKinds.UserAttribute, "string", "like")]
    [InlineData(CriterionKinds.UserAttribute, "string", null)]
    public void an_operator_not_valid_for_the_type(string kind, string? type, string? op)
    {
        var criterion = new Criterion
        {
            Kind = kind, Type = type, Operator = op, Value = "2024-05-01", MinValue = "1", MaxValue = "2", Values = ["1"],
            AttributeName = "tier", IdentityType = "email", Field = "platform",
        };
        var problem = Only(Check(criterion));
        problem.Field.ShouldBe("criteria[0].operator");
        problem.Reason.ShouldStartWith($"\"{op}\" does not apply to a ");
    }

    [Fact]
    public void the_reason_lists_the_operators_of_the_type()
    {
        Only(Check(UserAttr("boolean", GreaterThan, "1"))).Reason
            .ShouldBe("\"greater_than\" does not apply to a boolean; expected one of exists, not_exists, equals.");
    }

    [Fact]
    public void an_unknown_type()
    {
        Check(UserAttr("money", EqualTo, "1")).ShouldBe([new DefinitionProblem("criteria[0].type", "must be one of string, number, boolean, date, list.")]);
    }

    [Theory]
    [InlineData(GreaterThan, "many", null, null, null)]
    [InlineData(EqualTo, "1,5", null, null, null)]
    [InlineData(Between, null, "1", "ten", null)]
    [InlineData(Between, null, "one", "10", null)]
    [InlineData(InList, null, null, null, "two")]
    public void a_number_operand_that_is_not_a_number(string op, string? value, string? min, string? max, string? listed)
    {
        var criterion = UserAttr("number", op, value, min: min, max: max, values: listed is null ? null : ["1", listed]);
        Check(criterion).ShouldBe([new DefinitionProblem("criteria[0].value", "must be a number.")]);
        Check(criterion with { Kind = CriterionKinds.CalculatedAttribute }).ShouldBe([new DefinitionProblem("criteria[0].value", "must be a number.")]);
    }

    [Theory]
    [InlineData("12")]
    [InlineData("-3.5")]
    [InlineData("1e3")]
    public void number_operands(string value) => Check(UserAttr("number", GreaterThan, value)).ShouldBeEmpty();

    [Fact]
    public void a_date_operand_that_is_not_a_date()
    {
        Check(UserAttr("date", Before, "yesterday")).ShouldBe([new DefinitionProblem("criteria[0].value", "must be a date (ISO 8601).")]);
        Check(FirstSeen(Between, min: "2024-05-01", max: "someday")).ShouldBe([new DefinitionProblem("criteria[0].value", "must be a date (ISO 8601).")]);
        Check(FirstSeen(WithinLastDays, "a week")).ShouldBe([new DefinitionProblem("criteria[0].value", "must be a whole number of days.")]);
        Check(FirstSeen(WithinLastDays, "7")).ShouldBeEmpty();
        Check(FirstSeen(On, "2024-05-01T10:00:00Z")).ShouldBeEmpty();
    }

    [Fact]
    public void missing_operands()
    {
        Check(UserAttr("string", EqualTo)).ShouldBe([new DefinitionProblem("criteria[0].value", "is required for equals.")]);
        Check(UserAttr("number", Between, min: "1")).ShouldBe([new DefinitionProblem("criteria[0].min_value", "min_value and max_value are required for between.")]);
        Check(UserAttr("string", InList)).ShouldBe([new DefinitionProblem("criteria[0].values", "needs at least one value.")]);
        Check(UserAttr("string", InList, values: [])).ShouldBe([new DefinitionProblem("criteria[0].values", "needs at least one value.")]);
        Check(ListAttr(Includes)).ShouldBe([new DefinitionProblem("criteria[0].value", "is required for includes.")]);
    }

    [Fact]
    public void attribute_names_are_required()
    {
        Check(UserAttr("string", Exists, name: " ")).ShouldBe([new DefinitionProblem("criteria[0].attribute_name", "is required.")]);
        Check(ListAttr(Exists, name: "")).ShouldBe([new DefinitionProblem("criteria[0].attribute_name", "is required.")]);
        Check(Calculated("number", Exists) with { AttributeName = null }).ShouldBe([new DefinitionProblem("criteria[0].attribute_name", "is required.")]);
    }

    // ---- event criteria

    [Fact]
    public void recency_cannot_reach_beyond_the_lookback()
    {
        var beyond = new DefinitionProblem("criteria[0].recency", "cannot reach further back than the real-time lookback of 30 days.");
        Check(Did(recency: InLast(31))).ShouldBe([beyond]);
        Check(Did(recency: DaysAgo(10, 31))).ShouldBe([beyond]);
        Check(Did(recency: InLast(30))).ShouldBeEmpty();
        Check(Did(recency: DaysAgo(29, 30))).ShouldBeEmpty();
        Check(90, Did(recency: InLast(60))).ShouldBeEmpty();
        Check(60, Did(recency: InLast(61))).Single().Reason.ShouldBe("cannot reach further back than the real-time lookback of 60 days.");
    }

    [Theory]
    [InlineData(6, 4)]
    [InlineData(4, 4)]
    [InlineData(-1, 4)]
    [InlineData(0, 0)]
    public void from_days_ago_must_be_less_than_to_days_ago(int from, int to)
    {
        Check(Did(recency: DaysAgo(from, to))).ShouldBe([new DefinitionProblem("criteria[0].recency", "days must be positive, from_days_ago < to_days_ago.")]);
    }

    [Fact]
    public void within_days_must_be_positive_and_a_period_needs_both_ends()
    {
        Check(Did(recency: InLast(0))).ShouldBe([new DefinitionProblem("criteria[0].recency", "days must be positive, from_days_ago < to_days_ago.")]);
        Check(Did(recency: new Recency(null, 4, null))).ShouldBe([new DefinitionProblem("criteria[0].recency", "give within_days, or from_days_ago and to_days_ago.")]);
        Check(Did(recency: new Recency(null, null, 6))).ShouldBe([new DefinitionProblem("criteria[0].recency", "give within_days, or from_days_ago and to_days_ago.")]);
        Check(Did(recency: DaysAgo(0, 6))).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("about", 1)]
    [InlineData("greater than", 1)]
    [InlineData(GreaterThan, -1)]
    public void a_bad_frequency(string op, int count)
    {
        Check(Did(op: op, count: count)).ShouldBe([new DefinitionProblem("criteria[0].frequency",
            "operator must be one of greater_than, greater_or_equal, less_than, less_than_or_equal, equals and count ≥ 0.")]);
    }

    [Theory]
    [InlineData(GreaterThan)]
    [InlineData(GreaterOrEqual)]
    [InlineData(LessThan)]
    [InlineData(LessOrEqual)]
    [InlineData(EqualTo)]
    public void frequency_operators(string op) => Check(Did(op: op, count: 0)).ShouldBeEmpty();

    [Fact]
    public void the_event_must_be_named()
    {
        Check(Did() with { EventType = null }).ShouldBe([new DefinitionProblem("criteria[0].event_type", "is required: an Events API event_type.")]);
        Check(Did() with { EventType = "click" }).ShouldBe([new DefinitionProblem("criteria[0].event_type", "is required: an Events API event_type.")]);
        Check(Did(name: " ")).ShouldBe([new DefinitionProblem("criteria[0].event_name", "is required for custom_event.")]);
        Check(new Criterion { Kind = CriterionKinds.Event, EventType = EventTypes.ScreenView }).ShouldBe([new DefinitionProblem("criteria[0].event_name", "is required for screen_view.")]);
        Check(new Criterion { Kind = CriterionKinds.Event, EventType = EventTypes.CommerceEvent, CustomEventType = "purchase" }).ShouldBeEmpty();
        Check(new Criterion { Kind = CriterionKinds.Event, EventType = EventTypes.SessionStart }).ShouldBeEmpty();
    }

    [Fact]
    public void event_conditions_follow_the_calculated_attribute_rules()
    {
        var problem = Only(Check(Did(conditions: [CA.When("string", "sounds_like", "a", "x")])));
        problem.Field.ShouldBe("criteria[0].conditions[0].operator");

        Check(Did(conditions: [CA.When("number", ConditionOperators.GreaterThan, "amount", "ten")]))
            .ShouldBe([new DefinitionProblem("criteria[0].conditions[0].value", "\"ten\" is not a number.")]);
        Check(Did(conditions: [CA.When("string", ConditionOperators.EqualTo, "plan", "pro"), CA.When("number", ConditionOperators.Contains, "amount", "1")]))
            .Select(p => p.Field).ShouldBe(["criteria[0].conditions[1].operator"]);
        Check(Did(conditions: [CA.When("string", ConditionOperators.Pattern, "plan", "^pro.*$")])).ShouldBeEmpty();
    }

    [Fact]
    public void a_workspace_must_be_one_of_the_audience_workspaces()
    {
        Check(UserAttr("string", Exists, workspace: 7)).ShouldBe([new DefinitionProblem("criteria[0].workspace_id", "workspace 7 is not one of the audience's workspaces.")]);
        Check(Did(workspace: 7)).ShouldBe([new DefinitionProblem("criteria[0].workspace_id", "workspace 7 is not one of the audience's workspaces.")]);
        Check(UserAttr("string", Exists, workspace: Ws)).ShouldBeEmpty();
    }

    // ---- other kinds

    [Fact]
    public void identity_types_must_be_known()
    {
        Check(HasIdentity("passport", Exists)).ShouldBe([new DefinitionProblem("criteria[0].identity_type", "is not a known identity type.")]);
        Check(HasIdentity("Email", Exists)).ShouldBe([new DefinitionProblem("criteria[0].identity_type", "is not a known identity type.")]);
        Check(new Criterion { Kind = CriterionKinds.Identity, Operator = Exists }).ShouldBe([new DefinitionProblem("criteria[0].identity_type", "is not a known identity type.")]);
        Check(HasIdentity("ios_idfv", Exists)).ShouldBeEmpty();
    }

    [Fact]
    public void consent_needs_a_regulation_and_for_gdpr_a_purpose()
    {
        Check(Consented("hipaa", "x", true)).ShouldBe([new DefinitionProblem("criteria[0].regulation", "must be gdpr or ccpa.")]);
        Check(Consented(null, "marketing", true)).ShouldBe([new DefinitionProblem("criteria[0].regulation", "must be gdpr or ccpa.")]);
        Check(Consented("gdpr", " ", true)).ShouldBe([new DefinitionProblem("criteria[0].purpose", "is required for gdpr.")]);
        Check(Consented("ccpa", null, true)).ShouldBeEmpty();
    }

    [Fact]
    public void a_device_criterion_names_its_field()
    {
        Check(OnDevice("", EqualTo, "iOS")).ShouldBe([new DefinitionProblem("criteria[0].field", "is required, e.g. platform, os_version, device_model.")]);
    }

    // ---- audience membership

    [Theory]
    [InlineData(404)]
    [InlineData(Self)]
    [InlineData(null)]
    public void membership_of_an_unknown_audience_or_of_itself(int? id)
    {
        Check(new Criterion { Kind = CriterionKinds.AudienceMembership, AudienceId = id, Member = true })
            .ShouldBe([new DefinitionProblem("criteria[0].audience_id", "must name another audience.")]);
    }

    [Fact]
    public void nesting_an_audience_that_itself_nests_is_refused()
    {
        Check(MemberOf(3)).ShouldBe([new DefinitionProblem("criteria[0].audience_id", "only audiences without membership criteria can be nested (one level).")]);
    }

    [Fact]
    public void a_nested_audience_must_share_a_workspace()
    {
        Check(MemberOf(4)).ShouldBe([new DefinitionProblem("criteria[0].audience_id", "the audience shares no workspace with this one.")]);
    }

    [Fact]
    public void nesting_a_plain_audience_is_fine()
    {
        Check(UserAttr("string", Exists), MemberOf(2, member: false, join: Joins.Exclude)).ShouldBeEmpty();
    }
}
