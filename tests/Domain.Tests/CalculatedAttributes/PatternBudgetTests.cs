using System.Text.RegularExpressions;
using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using static EventProfiles.Domain.CalculatedAttributes.ConditionOperators;
using static EventProfiles.Domain.Tests.CalculatedAttributes.CA;

namespace EventProfiles.Domain.Tests.CalculatedAttributes;

/// <summary>
/// Issue 14, item 16: a tenant's catastrophic pattern cannot stall the worker every workspace shares. Patterns are
/// compiled once; a definition's timed-out matches are counted per batch, and once its budget is spent its pattern
/// conditions count as not matched without running. Asserted on outcomes and counts, never on elapsed time.
/// </summary>
public class PatternBudgetTests
{
    /// <summary>Exponential backtracking: every way of splitting the a's is tried before the b refutes them all.</summary>
    private const string Catastrophic = "(a+)+$";
    private static readonly string Evil = new string('a', 40) + "b";

    private static ActiveDefinition CountPlaysWhere(string pattern) =>
        Activate(OnPlay(CalculationTypes.Count, attribute: null, conditions: When(StringType, Pattern, attribute: "c", value: pattern)));

    private static EventProfiles.Domain.Profiles.EventCaptured PlayWith(string c) =>
        Custom("Play", T0, $$"""{ "c": {{System.Text.Json.JsonSerializer.Serialize(c)}} }""");

    [Fact]
    public void a_catastrophic_pattern_stops_running_once_its_budget_of_timeouts_is_spent()
    {
        var definition = CountPlaysWhere(Catastrophic);
        var events = Enumerable.Range(0, 20).Select(_ => PlayWith(Evil)).ToArray();

        var person = Fold(definition, T0.AddDays(1), events);

        (StateOf(person)?.Total?.Count ?? 0).ShouldBe(0); // nothing matched
        definition.Patterns.TimedOut.ShouldBe(PatternBudget.DefaultTimeouts); // 3 matches ran to their timeout, the other 17 never ran
        definition.Patterns.Exhausted.ShouldBeTrue();
        definition.Patterns.TakeExhaustedNotice().ShouldBeTrue(); // reported once…
        definition.Patterns.TakeExhaustedNotice().ShouldBeFalse(); // …not for every event
    }

    [Fact]
    public void once_spent_the_definitions_patterns_count_as_not_matched_for_the_rest_of_the_batch_and_the_next_batch_starts_afresh()
    {
        var definition = CountPlaysWhere("^(a+)+$");
        Fold(definition, T0.AddDays(1), Enumerable.Range(0, PatternBudget.DefaultTimeouts).Select(_ => PlayWith(Evil)).ToArray());
        definition.Patterns.Exhausted.ShouldBeTrue();

        // A value the pattern matches at once: not counted in this batch…
        (StateOf(Fold(definition, T0.AddDays(1), PlayWith("aaa")))?.Total?.Count ?? 0).ShouldBe(0);

        // …but the next batch loads the definition again, with a fresh budget.
        var nextBatch = CountPlaysWhere("^(a+)+$");
        ValueOf(nextBatch, T0.AddDays(1), PlayWith("aaa"))!.Text.ShouldBe("1");
    }

    [Fact]
    public void one_definitions_spent_budget_does_not_touch_another_definitions_patterns()
    {
        var evil = CountPlaysWhere(Catastrophic);
        var fine = CountPlaysWhere("^a+b$");
        Fold(evil, T0.AddDays(1), Enumerable.Range(0, 5).Select(_ => PlayWith(Evil)).ToArray());

        evil.Patterns.Exhausted.ShouldBeTrue();
        ValueOf(fine, T0.AddDays(1), PlayWith(Evil))!.Text.ShouldBe("1");
        fine.Patterns.TimedOut.ShouldBe(0);
    }

    [Fact]
    public void a_pattern_is_compiled_once_and_reused()
    {
        UserPatterns.Regex("^sku-[0-9]+$").ShouldBeSameAs(UserPatterns.Regex("^sku-[0-9]+$"));
        UserPatterns.Regex("(unclosed").ShouldBeNull();
        UserPatterns.Wildcard("*@example.org").ShouldBeSameAs(UserPatterns.Wildcard("*@example.org"));
        UserPatterns.Regex("^x$")!.MatchTimeout.ShouldBe(UserPatterns.MatchTimeout);
    }

    [Fact]
    public void audience_wildcards_match_without_backtracking_so_no_wildcard_is_catastrophic()
    {
        var wildcard = UserPatterns.Wildcard("*a*a*a*a*a*a*a*a*a*a*b");
        wildcard.Options.HasFlag(RegexOptions.NonBacktracking).ShouldBeTrue();
        // The backtracking engine needs polynomial time for this; the linear one answers (no RegexMatchTimeoutException).
        wildcard.IsMatch(new string('a', 4096)).ShouldBeFalse();
        AudienceEvaluation.Wildcard("Ana*").IsMatch("ana@example.org").ShouldBeTrue();
        AudienceEvaluation.Wildcard("a?c").IsMatch("abc").ShouldBeTrue();
    }
}
