using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;
using static EventProfiles.Domain.Audiences.AudienceOperators;
using static EventProfiles.Domain.Tests.Audiences.Aud;

namespace EventProfiles.Domain.Tests.Audiences;

/// <summary>Criteria on the latest profile state (§B4, §B5): matching is case-insensitive, dates are UTC calendar days.</summary>
public class ProfileCriterionTests
{
    /// <summary>2024-05-11T00:00:00Z.</summary>
    private static readonly DateTimeOffset Now = T0.AddDays(10);

    private static bool With(Criterion criterion, params object[] events) => Holds(criterion, Person(events), Now);

    // ---- user attributes: strings

    [Theory]
    [InlineData(EqualTo, "gold", true)]
    [InlineData(EqualTo, "GOLD", true)]
    [InlineData(EqualTo, "gol", false)]
    [InlineData(NotEquals, "gold", false)]
    [InlineData(NotEquals, "silver", true)]
    [InlineData(Contains, "OL", true)]
    [InlineData(Contains, "x", false)]
    [InlineData(NotContains, "OL", false)]
    [InlineData(NotContains, "x", true)]
    [InlineData(Exists, null, true)]
    [InlineData(NotExists, null, false)]
    public void string_attributes_match_case_insensitively(string op, string? value, bool expected) =>
        With(UserAttr("string", op, value), Attr("tier", "\"Gold\"")).ShouldBe(expected);

    [Theory]
    [InlineData("g*d", "Gold", true)]
    [InlineData("G*", "gold", true)]
    [InlineData("*LD", "gold", true)]
    [InlineData("*", "gold", true)]
    [InlineData("go*ld", "gold", true)] // * also matches nothing
    [InlineData("?old", "Gold", true)]
    [InlineData("g??d", "gold", true)]
    [InlineData("g?d", "gold", false)]  // ? is exactly one character
    [InlineData("g?ld?", "gold", false)]
    [InlineData("old", "gold", false)]  // the whole value must match
    [InlineData("gol", "gold", false)]
    [InlineData("a.c", "abc", false)]   // everything else is literal
    [InlineData("a.c", "A.C", true)]
    [InlineData("(vip)*", "(VIP) member", true)]
    [InlineData("1+1", "11", false)]
    public void pattern_uses_star_and_question_mark_wildcards(string pattern, string value, bool expected) =>
        With(UserAttr("string", Pattern, pattern), Attr("tier", System.Text.Json.JsonSerializer.Serialize(value))).ShouldBe(expected);

    [Fact]
    public void a_pattern_must_match_the_whole_value_even_before_a_trailing_line_break()
    {
        With(UserAttr("string", Pattern, "gold"), Attr("tier", "\"gold\\n\"")).ShouldBeFalse();
        With(UserAttr("string", Pattern, "gold*"), Attr("tier", "\"gold\\n\"")).ShouldBeTrue();
    }

    [Fact]
    public void a_pattern_too_slow_to_match_does_not_hold_and_does_not_throw()
    {
        var criterion = UserAttr("string", Pattern, "*a*a*a*a*a*a*a*a*c?");
        var person = Person(Attr("tier", System.Text.Json.JsonSerializer.Serialize(new string('a', 3000) + "b")));
        Should.NotThrow(() => Holds(criterion, person, Now)).ShouldBeFalse();
    }

    [Fact]
    public void string_in_list_matches_any_value_case_insensitively()
    {
        With(UserAttr("string", InList, values: ["silver", "GOLD"]), Attr("tier", "\"gold\"")).ShouldBeTrue();
        With(UserAttr("string", InList, values: ["silver", "bronze"]), Attr("tier", "\"gold\"")).ShouldBeFalse();
    }

    [Fact]
    public void without_a_type_an_attribute_is_a_string()
    {
        With(UserAttr(null, EqualTo, "GOLD"), Attr("tier", "\"gold\"")).ShouldBeTrue();
        With(UserAttr(null, Contains, "12"), Attr("tier", "312")).ShouldBeTrue(); // the number's text
    }

    // ---- user attributes: numbers

    [Theory]
    [InlineData(GreaterThan, "41", null, null, true)]
    [InlineData(GreaterThan, "42", null, null, false)]
    [InlineData(GreaterOrEqual, "42", null, null, true)]
    [InlineData(GreaterOrEqual, "42.01", null, null, false)]
    [InlineData(LessThan, "42.5", null, null, true)]
    [InlineData(LessThan, "42", null, null, false)]
    [InlineData(LessOrEqual, "42", null, null, true)]
    [InlineData(LessOrEqual, "41.9", null, null, false)]
    [InlineData(EqualTo, "42.0", null, null, true)]
    [InlineData(EqualTo, "43", null, null, false)]
    [InlineData(NotEquals, "43", null, null, true)]
    [InlineData(NotEquals, "42", null, null, false)]
    [InlineData(Between, null, "42", "42", true)]
    [InlineData(Between, null, "40", "41.99", false)]
    [InlineData(Between, null, "-1", "100", true)]
    public void numbers_compare_as_numbers(string op, string? value, string? min, string? max, bool expected)
    {
        With(UserAttr("number", op, value, min: min, max: max), Attr("tier", "42")).ShouldBe(expected);
        With(UserAttr("number", op, value, min: min, max: max), Attr("tier", "\"42\"")).ShouldBe(expected); // a numeric string is a number
    }

    [Fact]
    public void number_in_list_and_values_that_are_not_numbers()
    {
        With(UserAttr("number", InList, values: ["1", "42.00"]), Attr("tier", "42")).ShouldBeTrue();
        With(UserAttr("number", InList, values: ["1", "2"]), Attr("tier", "42")).ShouldBeFalse();
        With(UserAttr("number", GreaterThan, "1"), Attr("tier", "\"lots\"")).ShouldBeFalse();
        With(UserAttr("number", NotEquals, "1"), Attr("tier", "\"lots\"")).ShouldBeFalse();
        With(UserAttr("number", Exists), Attr("tier", "\"lots\"")).ShouldBeTrue();
    }

    // ---- user attributes: booleans

    [Theory]
    [InlineData("true", EqualTo, "true", true)]
    [InlineData("true", EqualTo, "TRUE", true)]
    [InlineData("true", EqualTo, "false", false)]
    [InlineData("false", EqualTo, "false", true)]
    [InlineData("\"true\"", EqualTo, "true", true)]
    [InlineData("\"False\"", EqualTo, "false", true)]
    [InlineData("\"yes\"", EqualTo, "true", false)]
    [InlineData("1", EqualTo, "true", false)]
    [InlineData("false", Exists, null, true)]
    [InlineData("false", NotExists, null, false)]
    public void booleans(string json, string op, string? value, bool expected) =>
        With(UserAttr("boolean", op, value), Attr("tier", json)).ShouldBe(expected);

    // ---- user attributes: dates

    [Theory]
    [InlineData(Before, "2024-05-03", false)] // the same UTC day is not before it
    [InlineData(Before, "2024-05-04", true)]
    [InlineData(Before, "2024-05-02", false)]
    [InlineData(After, "2024-05-03", true)]   // after includes the day
    [InlineData(After, "2024-05-02", true)]
    [InlineData(After, "2024-05-04", false)]
    [InlineData(On, "2024-05-03", true)]
    [InlineData(On, "2024-05-02", false)]
    [InlineData(On, "2024-05-04", false)]
    public void dates_compare_by_utc_calendar_day(string op, string value, bool expected)
    {
        With(UserAttr("date", op, value), Attr("tier", "\"2024-05-03T00:00:00Z\"")).ShouldBe(expected);
        With(UserAttr("date", op, value), Attr("tier", "\"2024-05-03T23:59:59.9999999Z\"")).ShouldBe(expected);
    }

    [Fact]
    public void a_date_given_with_an_offset_is_the_utc_day()
    {
        var person = Person(Attr("tier", "\"2024-05-03T22:00:00-05:00\"")); // 2024-05-04T03:00Z
        Holds(UserAttr("date", On, "2024-05-04"), person, Now).ShouldBeTrue();
        Holds(UserAttr("date", On, "2024-05-03"), person, Now).ShouldBeFalse();
        Holds(UserAttr("date", Before, "2024-05-04"), person, Now).ShouldBeFalse();
    }

    [Fact]
    public void dates_may_be_epoch_milliseconds()
    {
        var person = Person(Attr("tier", "1714737600000")); // 2024-05-03T12:00Z
        Holds(UserAttr("date", On, "2024-05-03"), person, Now).ShouldBeTrue();
        Holds(UserAttr("date", After, "2024-05-04"), person, Now).ShouldBeFalse();
    }

    [Theory]
    [InlineData("2024-05-03", "2024-05-03", true)]
    [InlineData("2024-05-01", "2024-05-03", true)]
    [InlineData("2024-05-03", "2024-05-10", true)]
    [InlineData("2024-05-04", "2024-05-10", false)]
    [InlineData("2024-05-01", "2024-05-02", false)]
    public void date_between_includes_both_days(string from, string to, bool expected)
    {
        With(UserAttr("date", Between, min: from, max: to), Attr("tier", "\"2024-05-03T00:00:00Z\"")).ShouldBe(expected);
        With(UserAttr("date", Between, min: from, max: to), Attr("tier", "\"2024-05-03T23:59:59Z\"")).ShouldBe(expected);
    }

    [Fact]
    public void date_within_the_last_days_is_relative_to_now()
    {
        var person = Person(Attr("tier", "\"2024-05-03T12:00:00Z\"")); // now = 2024-05-11T00:00Z: 7.5 days ago
        Holds(UserAttr("date", WithinLastDays, "8"), person, Now).ShouldBeTrue();
        Holds(UserAttr("date", WithinLastDays, "7"), person, Now).ShouldBeFalse();
        Holds(UserAttr("date", WithinLastDays, "8"), person, Now.AddHours(12) - Tick).ShouldBeTrue();
        Holds(UserAttr("date", WithinLastDays, "8"), person, Now.AddHours(12)).ShouldBeFalse();
    }

    [Fact]
    public void a_future_date_is_not_within_the_last_days()
    {
        With(UserAttr("date", WithinLastDays, "7"), Attr("tier", "\"2024-05-12T00:00:00Z\"")).ShouldBeFalse(); // now = 2024-05-11
        With(UserAttr("date", WithinLastDays, "7"), Attr("tier", "\"2030-01-01\"")).ShouldBeFalse();
    }

    [Fact]
    public void a_value_that_is_not_a_date_fails_date_operators()
    {
        With(UserAttr("date", After, "2000-01-01"), Attr("tier", "\"gold\"")).ShouldBeFalse();
        With(UserAttr("date", Before, "2100-01-01"), Attr("tier", "\"gold\"")).ShouldBeFalse();
    }

    // ---- user attributes: presence, removal, workspace

    [Theory]
    [InlineData("string", EqualTo, "gold")]
    [InlineData("string", NotEquals, "gold")]
    [InlineData("string", NotContains, "x")]
    [InlineData("string", Pattern, "*")]
    [InlineData("number", LessThan, "100")]
    [InlineData("boolean", EqualTo, "false")]
    [InlineData("date", Before, "2100-01-01")]
    [InlineData("string", Exists, null)]
    public void a_missing_attribute_fails_everything_but_not_exists(string type, string op, string? value)
    {
        With(UserAttr(type, op, value)).ShouldBeFalse();
        With(UserAttr(type, NotExists)).ShouldBeTrue();
    }

    [Fact]
    public void a_removed_attribute_is_missing()
    {
        var removed = new UserAttributeRemoved(Ws, "tier", T0.AddHours(1), "server");
        With(UserAttr("string", Exists), Attr("tier", "\"gold\""), removed).ShouldBeFalse();
        With(UserAttr("string", NotExists), Attr("tier", "\"gold\""), removed).ShouldBeTrue();
        With(UserAttr("string", EqualTo, "gold"), Attr("tier", "\"gold\""), removed).ShouldBeFalse();
    }

    [Fact]
    public void an_attribute_set_to_null_is_missing()
    {
        With(UserAttr("string", Exists), Attr("tier", "null")).ShouldBeFalse();
        With(UserAttr("string", NotExists), Attr("tier", "null")).ShouldBeTrue();
    }

    [Fact]
    public void attributes_are_read_in_the_criterion_workspace_or_the_audience_first_workspace()
    {
        var person = PersonIn([Ws, Ws2], Attr("tier", "\"gold\"", workspace: Ws2));
        var audience = (Criterion c) => AudienceOf(1, [Ws, Ws2], [c]);
        Verdict(audience(UserAttr("string", EqualTo, "gold")), person, Now).IsMember.ShouldBeFalse();
        Verdict(audience(UserAttr("string", EqualTo, "gold", workspace: Ws2)), person, Now).IsMember.ShouldBeTrue();
        Verdict(audience(UserAttr("string", EqualTo, "gold", workspace: Ws)), person, Now).IsMember.ShouldBeFalse();
    }

    [Fact]
    public void the_latest_value_counts()
    {
        With(UserAttr("string", EqualTo, "silver"), Attr("tier", "\"gold\"", at: T0), Attr("tier", "\"silver\"", at: T0.AddHours(1))).ShouldBeTrue();
        With(UserAttr("string", EqualTo, "silver"), Attr("tier", "\"silver\"", at: T0.AddHours(1)), Attr("tier", "\"gold\"", at: T0)).ShouldBeTrue();
    }

    // ---- user attribute lists

    [Theory]
    [InlineData(Includes, "comedy", true)]
    [InlineData(Includes, "COMEDY", true)]
    [InlineData(Includes, "com", false)]   // the full value
    [InlineData(Includes, "drama", false)]
    [InlineData(DoesNotInclude, "drama", true)]
    [InlineData(DoesNotInclude, "Comedy", false)]
    [InlineData(DoesNotInclude, "com", true)]
    [InlineData(PartialMatch, "MED", true)]
    [InlineData(PartialMatch, "docu", true)]
    [InlineData(PartialMatch, "xyz", false)]
    [InlineData(Exists, null, true)]
    [InlineData(NotExists, null, false)]
    public void attribute_lists(string op, string? value, bool expected) =>
        With(ListAttr(op, value), Attr("genres", """["Documentary", "Comedy"]""")).ShouldBe(expected);

    [Theory]
    [InlineData(Includes, "comedy", false)]
    [InlineData(DoesNotInclude, "comedy", false)]
    [InlineData(PartialMatch, "c", false)]
    [InlineData(Exists, null, false)]
    [InlineData(NotExists, null, true)]
    public void a_missing_list_fails_everything_but_not_exists(string op, string? value, bool expected) =>
        With(ListAttr(op, value)).ShouldBe(expected);

    [Fact]
    public void an_empty_list_does_not_exist_and_a_single_value_is_a_list_of_one()
    {
        With(ListAttr(Exists), Attr("genres", "[]")).ShouldBeFalse();
        With(ListAttr(NotExists), Attr("genres", "[]")).ShouldBeTrue();
        With(ListAttr(DoesNotInclude, "comedy"), Attr("genres", "[]")).ShouldBeTrue();
        With(ListAttr(Includes, "comedy"), Attr("genres", "\"Comedy\"")).ShouldBeTrue();
        With(ListAttr(Includes, "2"), Attr("genres", "[1, 2, 3]")).ShouldBeTrue();
    }

    // ---- calculated attributes

    private static bool WithValues(Criterion criterion, params (string, CalculatedValue)[] values) =>
        Verdict(Chain(criterion), Person(), Now, calculated: _ => Values(values)).IsMember;

    [Fact]
    public void calculated_attributes_compare_like_user_attributes()
    {
        WithValues(Calculated("number", GreaterThan, "2"), ("orders", CalculatedValue.Of("3"))).ShouldBeTrue();
        WithValues(Calculated("number", GreaterThan, "3"), ("orders", CalculatedValue.Of("3"))).ShouldBeFalse();
        WithValues(Calculated("number", Between, min: "1", max: "3"), ("orders", CalculatedValue.Of("3"))).ShouldBeTrue();
        WithValues(Calculated("string", EqualTo, "SHOES", name: "top"), ("top", CalculatedValue.Of("shoes"))).ShouldBeTrue();
        WithValues(Calculated("string", Pattern, "sh*s", name: "top"), ("top", CalculatedValue.Of("Shoes"))).ShouldBeTrue();
        WithValues(Calculated("date", On, "2024-05-03", name: "last"), ("last", CalculatedValue.Of("2024-05-03T10:00:00.0000000Z"))).ShouldBeTrue();
        WithValues(Calculated("date", Before, "2024-05-03", name: "last"), ("last", CalculatedValue.Of("2024-05-03T10:00:00.0000000Z"))).ShouldBeFalse();
    }

    [Fact]
    public void a_calculated_attribute_without_a_value_does_not_exist()
    {
        WithValues(Calculated("number", Exists)).ShouldBeFalse();
        WithValues(Calculated("number", NotExists)).ShouldBeTrue();
        WithValues(Calculated("number", NotExists), ("orders", new CalculatedValue(null, null))).ShouldBeTrue();
        WithValues(Calculated("number", GreaterThan, "0"), ("other", CalculatedValue.Of("5"))).ShouldBeFalse();
        WithValues(Calculated("number", Exists), ("orders", CalculatedValue.Of("0"))).ShouldBeTrue();
    }

    [Fact]
    public void calculated_attributes_are_read_in_the_criterion_workspace_or_the_audience_first_workspace()
    {
        var asked = new List<int>();
        IReadOnlyDictionary<string, CalculatedValue> ByWorkspace(int ws)
        {
            asked.Add(ws);
            return ws == Ws2 ? Values(("orders", CalculatedValue.Of("9"))) : Values(("orders", CalculatedValue.Of("1")));
        }
        var person = PersonIn([Ws, Ws2]);
        Verdict(AudienceOf(1, [Ws, Ws2], [Calculated("number", GreaterThan, "5")]), person, Now, calculated: ByWorkspace).IsMember.ShouldBeFalse();
        Verdict(AudienceOf(1, [Ws, Ws2], [Calculated("number", GreaterThan, "5", workspace: Ws2)]), person, Now, calculated: ByWorkspace).IsMember.ShouldBeTrue();
        asked.ShouldBe([Ws, Ws2]);
    }

    [Fact]
    public void a_unique_list_calculated_attribute_can_be_tested_with_list_operators()
    {
        var criterion = Calculated("list", Includes, "comedy", name: "genres");
        AudienceRules.Check([criterion], [Ws], 30, _ => null, 1).ShouldBeEmpty();
        WithValues(criterion, ("genres", CalculatedValue.OfList(["Comedy", "Drama"]))).ShouldBeTrue();
        WithValues(Calculated("list", PartialMatch, "dra", name: "genres"), ("genres", CalculatedValue.OfList(["Comedy", "Drama"]))).ShouldBeTrue();
        WithValues(Calculated("list", DoesNotInclude, "horror", name: "genres"), ("genres", CalculatedValue.OfList(["Comedy", "Drama"]))).ShouldBeTrue();
    }

    // ---- identities

    private static readonly object[] Ana = [new UserIdentityAdded(Ws, "email", "Ana@Example.org", T0, "server"), new UserIdentityAdded(Ws, "customer_id", "C-17", T0, "server")];

    [Theory]
    [InlineData("email", Exists, null, true)]
    [InlineData("email", NotExists, null, false)]
    [InlineData("mobile_number", Exists, null, false)]
    [InlineData("mobile_number", NotExists, null, true)]
    [InlineData("email", EqualTo, "ana@example.ORG", true)]
    [InlineData("email", EqualTo, "ana@example", false)]
    [InlineData("email", Contains, "EXAMPLE", true)]
    [InlineData("email", Contains, "gmail", false)]
    [InlineData("email", Pattern, "*@example.org", true)]
    [InlineData("email", Pattern, "?na@*", true)]
    [InlineData("email", Pattern, "ana@*.com", false)]
    [InlineData("customer_id", Pattern, "c-??", true)]
    [InlineData("customer_id", EqualTo, "Ana@Example.org", false)] // the value of another type
    [InlineData("mobile_number", EqualTo, "", false)]
    public void identities(string type, string op, string? value, bool expected) =>
        With(HasIdentity(type, op, value), Ana).ShouldBe(expected);

    [Fact]
    public void identity_in_list_and_removed_or_changed_identities()
    {
        With(HasIdentity("customer_id", InList, values: ["c-1", "C-17"]), Ana).ShouldBeTrue();
        With(HasIdentity("email", Exists), [.. Ana, new UserIdentityRemoved(Ws, "email", "Ana@Example.org", T0.AddHours(1), "server")]).ShouldBeFalse();
        var changed = new UserIdentityChanged(Ws, "email", "Ana@Example.org", "ana@new.org", T0.AddHours(1), "server");
        With(HasIdentity("email", EqualTo, "ana@new.org"), [.. Ana, changed]).ShouldBeTrue();
        With(HasIdentity("email", EqualTo, "ana@example.org"), [.. Ana, changed]).ShouldBeFalse();
    }

    [Fact]
    public void identities_are_not_scoped_to_a_workspace()
    {
        var person = PersonIn([Ws], new UserIdentityAdded(Ws2, "email", "ana@example.org", T0, "server"));
        Holds(HasIdentity("email", Exists), person, Now).ShouldBeTrue();
    }

    // ---- consent

    [Theory]
    [InlineData("gdpr", "marketing", true, true)]
    [InlineData("gdpr", "Marketing", true, true)] // purposes are lower-case
    [InlineData("gdpr", "marketing", false, false)]
    [InlineData("gdpr", "marketing", null, true)] // consented defaults to true
    [InlineData(null, "marketing", true, true)]   // regulation defaults to gdpr
    [InlineData("gdpr", "analytics", true, false)]
    [InlineData("gdpr", "analytics", false, true)]
    [InlineData("gdpr", "location", true, false)] // no record
    [InlineData("gdpr", "location", false, false)]
    public void gdpr_purposes(string? regulation, string purpose, bool? consented, bool expected) =>
        With(Consented(regulation, purpose, consented), Gdpr("marketing", true), Gdpr("analytics", false)).ShouldBe(expected);

    [Fact]
    public void the_latest_gdpr_record_counts()
    {
        With(Consented("gdpr", "marketing", false), Gdpr("marketing", true, T0), Gdpr("marketing", false, T0.AddHours(1))).ShouldBeTrue();
        With(Consented("gdpr", "marketing", true), Gdpr("marketing", true, T0), Gdpr("marketing", false, T0.AddHours(1))).ShouldBeFalse();
    }

    [Fact]
    public void ccpa_data_sale_opt_out()
    {
        With(Consented("ccpa", null, true), Ccpa(optedOutOfSale: true)).ShouldBeTrue();
        With(Consented("ccpa", null, false), Ccpa(optedOutOfSale: true)).ShouldBeFalse();
        With(Consented("ccpa", null, false), Ccpa(optedOutOfSale: false)).ShouldBeTrue();
        With(Consented("ccpa", "anything", true), Ccpa(optedOutOfSale: true)).ShouldBeTrue(); // the purpose is always data_sale_opt_out
        With(Consented("ccpa", null, true)).ShouldBeFalse();
        With(Consented("ccpa", null, false)).ShouldBeFalse(); // no record
        With(Consented("ccpa", null, true), Gdpr("data_sale_opt_out", true)).ShouldBeFalse();
    }

    [Fact]
    public void consent_is_read_in_the_criterion_workspace()
    {
        var person = PersonIn([Ws, Ws2], Gdpr("marketing", true, workspace: Ws2));
        Verdict(AudienceOf(1, [Ws, Ws2], [Consented("gdpr", "marketing", true)]), person, Now).IsMember.ShouldBeFalse();
        Verdict(AudienceOf(1, [Ws, Ws2], [Consented("gdpr", "marketing", true, workspace: Ws2)]), person, Now).IsMember.ShouldBeTrue();
    }

    // ---- first seen: the first batch of the (criterion's or audience's first) workspace

    /// <summary>Created at T0 (2024-05-01); first batch to workspace 1 at 2024-05-03T12:00Z, to workspace 2 at 2024-05-06T00:00Z.</summary>
    private static Profile Newcomer() =>
        Stranger().Evolve(Batch(Ws, T0.AddDays(2).AddHours(12))).Evolve(Batch(Ws, T0.AddDays(4))).Evolve(Batch(Ws2, T0.AddDays(5)));

    [Theory]
    [InlineData(Before, "2024-05-03", null, null, false)] // exclusive of that UTC day
    [InlineData(Before, "2024-05-04", null, null, true)]
    [InlineData(After, "2024-05-03", null, null, true)]   // inclusive
    [InlineData(After, "2024-05-02", null, null, true)]
    [InlineData(After, "2024-05-04", null, null, false)]
    [InlineData(On, "2024-05-03", null, null, true)]
    [InlineData(On, "2024-05-01", null, null, false)]     // not the profile's creation
    [InlineData(On, "2024-05-05", null, null, false)]     // nor a later batch
    [InlineData(Between, null, "2024-05-01", "2024-05-03", true)]
    [InlineData(Between, null, "2024-05-03", "2024-05-03", true)]
    [InlineData(Between, null, "2024-05-04", "2024-05-09", false)]
    [InlineData(WithinLastDays, "7", null, null, true)]   // now = 2024-05-10: 6.5 days ago
    [InlineData(WithinLastDays, "6", null, null, false)]
    public void first_seen(string op, string? value, string? min, string? max, bool expected) =>
        Holds(FirstSeen(op, value, min, max), Newcomer(), T0.AddDays(9)).ShouldBe(expected);

    [Fact]
    public void first_seen_in_another_workspace()
    {
        var audience = AudienceOf(1, [Ws, Ws2], [FirstSeen(On, "2024-05-06", workspace: Ws2)]);
        Verdict(audience, Newcomer(), T0.AddDays(9)).IsMember.ShouldBeTrue();
        Verdict(AudienceOf(1, [Ws2, Ws], [FirstSeen(On, "2024-05-06")]), Newcomer(), T0.AddDays(9)).IsMember.ShouldBeTrue();
        Verdict(AudienceOf(1, [Ws, Ws2], [FirstSeen(On, "2024-05-06")]), Newcomer(), T0.AddDays(9)).IsMember.ShouldBeFalse();
    }

    [Fact]
    public void first_seen_at_the_last_tick_of_a_day_or_with_an_offset_is_that_utc_day()
    {
        var late = Stranger().Evolve(Batch(Ws, new DateTimeOffset(2024, 5, 3, 23, 59, 59, TimeSpan.Zero).AddTicks(9_999_999)));
        Holds(FirstSeen(On, "2024-05-03"), late, T0.AddDays(9)).ShouldBeTrue();
        Holds(FirstSeen(Before, "2024-05-04"), late, T0.AddDays(9)).ShouldBeTrue();
        Holds(FirstSeen(Between, min: "2024-05-01", max: "2024-05-03"), late, T0.AddDays(9)).ShouldBeTrue();

        var offset = Stranger().Evolve(Batch(Ws, new DateTimeOffset(2024, 5, 3, 22, 0, 0, TimeSpan.FromHours(-5))));
        Holds(FirstSeen(On, "2024-05-04"), offset, T0.AddDays(9)).ShouldBeTrue();
        Holds(FirstSeen(On, "2024-05-03"), offset, T0.AddDays(9)).ShouldBeFalse();
    }

    // ---- devices

    private static readonly object[] Phones =
    [
        Device("ios_idfv:A", "iOS", """{ "device_model": "iPhone15,2", "os_version": "17.4" }"""),
        Device("android_uuid:B", "Android"),
        Device("ios_idfv:C", "iOS", workspace: Ws2),
    ];

    [Theory]
    [InlineData("platform", EqualTo, "ios", true)]
    [InlineData("platform", EqualTo, "ANDROID", true)] // any device
    [InlineData("platform", EqualTo, "roku", false)]
    [InlineData("platform", Contains, "dro", true)]
    [InlineData("platform", Pattern, "i?S", true)]
    [InlineData("platform", InList, null, true)]
    [InlineData("platform", Exists, null, true)]
    [InlineData("platform", NotExists, null, false)]
    [InlineData("device_model", Pattern, "iphone*", true)]
    [InlineData("device_model", EqualTo, "Pixel", false)]
    [InlineData("os_version", EqualTo, "17.4", true)]
    [InlineData("carrier", Exists, null, false)]
    public void devices(string field, string op, string? value, bool expected)
    {
        var criterion = OnDevice(field, op, value) with { Values = op == InList ? ["roku", "IOS"] : null };
        With(criterion, Phones).ShouldBe(expected);
    }

    [Fact]
    public void without_devices_nothing_matches_but_not_exists()
    {
        With(OnDevice("platform", EqualTo, "iOS")).ShouldBeFalse();
        With(OnDevice("platform", NotEquals, "iOS")).ShouldBeFalse();
        With(OnDevice("platform", NotExists)).ShouldBeTrue();
    }

    [Fact]
    public void devices_are_read_in_the_criterion_workspace()
    {
        var person = PersonIn([Ws, Ws2], Device("roku:R", "Roku", workspace: Ws2));
        Verdict(AudienceOf(1, [Ws, Ws2], [OnDevice("platform", EqualTo, "roku")]), person, Now).IsMember.ShouldBeFalse();
        Verdict(AudienceOf(1, [Ws, Ws2], [OnDevice("platform", EqualTo, "roku", workspace: Ws2)]), person, Now).IsMember.ShouldBeTrue();
    }

    // ---- audience membership

    [Theory]
    [InlineData(true, true, true)]
    [InlineData(true, false, false)]
    [InlineData(false, true, false)]
    [InlineData(false, false, true)]
    [InlineData(null, true, true)] // member defaults to true
    [InlineData(null, false, false)]
    public void membership_of_another_audience(bool? member, bool isMember, bool expected)
    {
        var asked = new List<int>();
        var verdict = Verdict(Chain(MemberOf(9, member)), Person(), Now, memberOf: id => { asked.Add(id); return isMember && id == 9; });
        verdict.IsMember.ShouldBe(expected);
        asked.ShouldAllBe(id => id == 9);
        asked.ShouldNotBeEmpty();
    }

    [Fact]
    public void membership_without_an_audience_does_not_hold()
    {
        Holds(new Criterion { Kind = CriterionKinds.AudienceMembership, Member = false }, Person(), Now).ShouldBeFalse();
    }
}
