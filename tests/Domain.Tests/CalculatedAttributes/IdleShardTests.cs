using EventProfiles.Domain.CalculatedAttributes;

namespace EventProfiles.Domain.Tests.CalculatedAttributes;

/// <summary>Where the calculations shard starts again after idling with nothing active.</summary>
public sealed class IdleShardTests
{
    [Fact]
    public void with_no_definition_before_it_the_shard_starts_where_its_position_was_moved_while_idle() =>
        IdleShard.ResumeAt(stoppedAt: 100, position: 900, liveAfter: []).ShouldBe(900);

    [Fact]
    public void a_definition_activated_before_the_position_was_moved_gets_every_event_after_its_live_after_position() =>
        IdleShard.ResumeAt(stoppedAt: 100, position: 900, liveAfter: [850, 870]).ShouldBe(850);

    [Fact]
    public void what_the_shard_applied_before_it_stopped_is_never_applied_again() =>
        IdleShard.ResumeAt(stoppedAt: 500, position: 900, liveAfter: [300]).ShouldBe(500);

    [Fact]
    public void a_definition_activated_after_the_position_was_moved_starts_at_the_position() =>
        IdleShard.ResumeAt(stoppedAt: 100, position: 900, liveAfter: [950]).ShouldBe(900);
}
