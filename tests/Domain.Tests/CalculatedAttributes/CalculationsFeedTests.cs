using EventProfiles.Domain.CalculatedAttributes;

namespace EventProfiles.Domain.Tests.CalculatedAttributes;

/// <summary>When the calculations shard stops and starts fetching events, and from where it reads again.</summary>
public class CalculationsFeedTests
{
    [Fact]
    public void at_start_everything_is_fetched_and_kept_while_something_is_active()
    {
        CalculationsFeed.AtStart.FetchesEverything.ShouldBeTrue();
        CalculationsFeed.AtStart.Observe(100, anythingActive: true, earliestLiveAfter: 40).ShouldBe(new CalculationsFeedStep.Keep(CalculationsFeed.AtStart));
    }

    [Fact]
    public void with_nothing_active_the_shard_is_narrowed_and_each_idle_look_moves_the_confirmed_point_forward()
    {
        CalculationsFeed.AtStart.Observe(100, anythingActive: false, earliestLiveAfter: null).ShouldBeOfType<CalculationsFeedStep.Narrow>();
        var narrowed = CalculationsFeed.Narrowed(120);
        narrowed.ShouldBe(new CalculationsFeed(false, 120, 120));
        var step = narrowed.Observe(300, anythingActive: false, earliestLiveAfter: null).ShouldBeOfType<CalculationsFeedStep.Keep>();
        step.Next.ShouldBe(new CalculationsFeed(false, 120, 300));
        // A position read lower than one already confirmed (a rewind elsewhere) never moves it back.
        step.Next.Observe(250, anythingActive: false, earliestLiveAfter: null).ShouldBe(new CalculationsFeedStep.Keep(step.Next));
    }

    [Fact]
    public void an_activation_after_the_last_idle_look_reads_again_from_that_look()
    {
        var idle = new CalculationsFeed(false, 120, 300);
        // Live from 350 (its replay covers up to 350): reading from 300 counts nothing twice, since 300..350 belong to the replay.
        idle.Observe(400, anythingActive: true, earliestLiveAfter: 350).ShouldBe(new CalculationsFeedStep.Widen(300, CalculationsFeed.AtStart));
    }

    [Fact]
    public void an_activation_that_went_live_before_the_last_idle_look_reads_again_from_its_live_start_but_never_before_the_narrowing()
    {
        var idle = new CalculationsFeed(false, 120, 300);
        idle.Observe(400, anythingActive: true, earliestLiveAfter: 200).ShouldBe(new CalculationsFeedStep.Widen(200, CalculationsFeed.AtStart));
        // Events up to the narrowing were applied by the full fetch: reading them again would count them twice.
        idle.Observe(400, anythingActive: true, earliestLiveAfter: 50).ShouldBe(new CalculationsFeedStep.Widen(120, CalculationsFeed.AtStart));
        // Only an audience active (no definition with a live start): from the last idle look.
        idle.Observe(400, anythingActive: true, earliestLiveAfter: null).ShouldBe(new CalculationsFeedStep.Widen(300, CalculationsFeed.AtStart));
    }
}
