using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.Profiles;
using static EventProfiles.Domain.Audiences.AudienceOperators;
using static EventProfiles.Domain.Tests.Audiences.Aud;

namespace EventProfiles.Domain.Tests.Audiences;

/// <summary>The chain (§B4): and / or / exclude, left to right; and who may be a member at all (§B3, §M5).</summary>
public class ChainTests
{
    private static readonly DateTimeOffset Now = T0.AddDays(10);

    /// <summary>A person with the attribute tier = gold.</summary>
    private static Profile Gold(params object[] events) => Person([Attr("tier", "\"gold\""), .. events]);

    /// <summary>A criterion that holds (tier exists) or does not (tier does not exist) for <see cref="Gold"/>.</summary>
    private static Criterion C(bool holds, string? join = null) => UserAttr("string", holds ? Exists : NotExists, join: join);

    /// <summary>"T", "F" and joins, e.g. "T or F and F".</summary>
    private static Criterion[] Parse(string chain)
    {
        var words = chain.Split(' ');
        var criteria = new List<Criterion> { C(words[0] == "T") };
        for (var i = 1; i < words.Length; i += 2) criteria.Add(C(words[i + 1] == "T", words[i]));
        return [.. criteria];
    }

    [Theory]
    [InlineData("T", true)]
    [InlineData("F", false)]
    [InlineData("T and T", true)]
    [InlineData("T and F", false)]
    [InlineData("F and T", false)]
    [InlineData("T or F", true)]
    [InlineData("F or T", true)]
    [InlineData("F or F", false)]
    [InlineData("T exclude T", false)]
    [InlineData("T exclude F", true)]
    [InlineData("F exclude F", false)]
    [InlineData("F exclude T", false)]
    public void two_criteria(string chain, bool expected) =>
        Verdict(Chain(Parse(chain)), Gold(), Now).IsMember.ShouldBe(expected);

    [Theory]
    [InlineData("T or F and F", false)]          // (T or F) and F; not T or (F and F)
    [InlineData("F and F or T", true)]
    [InlineData("F and T or T", true)]
    [InlineData("T or T exclude T", false)]      // (T or T) exclude T
    [InlineData("F or T exclude T", false)]
    [InlineData("T exclude F or F", true)]
    [InlineData("T exclude T or T", true)]       // (T exclude T) or T
    [InlineData("T and T exclude F", true)]
    [InlineData("F or T and T exclude T", false)]
    [InlineData("T and F or T exclude F", true)]
    [InlineData("T exclude T or F and T", false)]
    public void longer_chains_are_read_left_to_right(string chain, bool expected) =>
        Verdict(Chain(Parse(chain)), Gold(), Now).IsMember.ShouldBe(expected);

    [Fact]
    public void the_join_of_the_first_criterion_is_ignored()
    {
        Verdict(Chain(C(true, Joins.Exclude)), Gold(), Now).IsMember.ShouldBeTrue();
        Verdict(Chain(C(false, Joins.Or)), Gold(), Now).IsMember.ShouldBeFalse();
        Verdict(Chain(C(true, Joins.Exclude), C(true, Joins.And)), Gold(), Now).IsMember.ShouldBeTrue();
    }

    [Fact]
    public void a_missing_join_is_and()
    {
        Verdict(Chain(C(true), C(false)), Gold(), Now).IsMember.ShouldBeFalse();
        Verdict(Chain(C(true), C(true)), Gold(), Now).IsMember.ShouldBeTrue();
    }

    [Fact]
    public void an_audience_without_criteria_has_no_members()
    {
        var verdict = Verdict(Chain(), Gold(), Now);
        verdict.IsMember.ShouldBeFalse();
        verdict.Criteria.ShouldBeEmpty();
    }

    [Fact]
    public void every_criterion_is_reported_even_when_the_outcome_is_already_decided()
    {
        var verdict = Verdict(Chain(C(false), C(true, Joins.And), C(false, Joins.Or)), Gold(), Now);
        verdict.IsMember.ShouldBeFalse();
        verdict.Criteria.Select(r => (r.Index, r.Kind, r.Holds)).ShouldBe([(0, "user_attribute", false), (1, "user_attribute", true), (2, "user_attribute", false)]);
        verdict.Reason.ShouldBe("#1 user_attribute false: user attribute tier is \"gold\"; #2 user_attribute true: user attribute tier is \"gold\"; #3 user_attribute false: user attribute tier is \"gold\"");
    }

    [Fact]
    public void criteria_of_different_kinds_combine()
    {
        var audience = Chain(
            Did(recency: InLast(7)),
            UserAttr("string", EqualTo, "gold", join: Joins.Or),
            MemberOf(9, join: Joins.Exclude));
        var purchase = new[] { Purchase(Now.AddDays(-1)) };

        Verdict(audience, Person(), Now, purchase).IsMember.ShouldBeTrue();
        Verdict(audience, Gold(), Now).IsMember.ShouldBeTrue();
        Verdict(audience, Person(), Now).IsMember.ShouldBeFalse();
        Verdict(audience, Gold(), Now, purchase, memberOf: id => id == 9).IsMember.ShouldBeFalse();
    }

    [Fact]
    public void an_unknown_criterion_kind_does_not_hold()
    {
        var horoscope = new Criterion { Kind = "horoscope", Operator = Exists };
        var verdict = Verdict(Chain(horoscope), Gold(), Now);
        verdict.IsMember.ShouldBeFalse();
        verdict.Criteria.Single().ShouldBe(new CriterionResult(0, "horoscope", false, "unknown criterion kind horoscope"));
        Verdict(Chain(C(true), horoscope with { Join = Joins.Exclude }), Gold(), Now).IsMember.ShouldBeTrue();
    }

    // ---- who may be a member

    [Fact]
    public void an_opted_out_person_is_never_a_member()
    {
        var audience = Chain(C(true), C(false, Joins.Or));
        Verdict(audience, Gold(), Now).IsMember.ShouldBeTrue();

        var verdict = Verdict(audience, Gold(new OptOutChanged(Ws, true, T0.AddHours(1))), Now);
        verdict.IsMember.ShouldBeFalse();
        verdict.Reason.ShouldBe("the person opted out");
        verdict.Criteria.Select(r => r.Holds).ShouldBe([true, false]); // still explained criterion by criterion

        // opting out in another workspace is opting out too
        Verdict(AudienceOf(1, [Ws], [C(true)]), Gold(new OptOutChanged(Ws2, true, T0.AddHours(1))), Now).IsMember.ShouldBeFalse();
    }

    [Fact]
    public void opting_back_in_makes_the_person_eligible_again()
    {
        var person = Gold(new OptOutChanged(Ws, true, T0.AddHours(1)), new OptOutChanged(Ws, false, T0.AddHours(2)));
        Verdict(Chain(C(true)), person, Now).IsMember.ShouldBeTrue();
    }

    [Fact]
    public void a_person_with_no_data_in_the_audience_workspaces_is_never_a_member()
    {
        var onlyInTwo = PersonIn([Ws2], Attr("tier", "\"gold\"", workspace: Ws2));
        var verdict = Verdict(AudienceOf(1, [Ws], [UserAttr("string", NotExists)]), onlyInTwo, Now);
        verdict.IsMember.ShouldBeFalse();
        verdict.Reason.ShouldBe("no data in the audience's workspaces");

        Verdict(AudienceOf(1, [Ws, Ws2], [UserAttr("string", Exists, workspace: Ws2)]), onlyInTwo, Now).IsMember.ShouldBeTrue();
        Verdict(AudienceOf(1, [Ws], [UserAttr("string", NotExists)]), Stranger(), Now).IsMember.ShouldBeFalse();
        Verdict(AudienceOf(1, [Ws], [HasIdentity("email", NotExists)]), Stranger(), Now).IsMember.ShouldBeFalse();
    }

    [Fact]
    public void any_data_in_a_workspace_makes_the_person_known_there()
    {
        var criterion = UserAttr("string", NotExists, name: "nothing");
        Verdict(Chain(criterion), Stranger().Evolve(Attr("tier", "\"gold\"")), Now).IsMember.ShouldBeTrue();
        Verdict(Chain(criterion), Stranger().Evolve(new EventProfiles.Domain.Identity.UserIdentityAdded(Ws, "email", "a@b.c", T0, "server")), Now).IsMember.ShouldBeTrue();
        Verdict(Chain(criterion), Stranger().Evolve(Device("ios_idfv:A", "iOS")), Now).IsMember.ShouldBeTrue();
        Verdict(Chain(criterion), Stranger().Evolve(Gdpr("marketing", true)), Now).IsMember.ShouldBeTrue();
    }
}
