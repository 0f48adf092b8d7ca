namespace EventProfiles.Integration.Tests.Fixtures;

/// <summary>
/// The Host's clock in tests: real time plus an offset a test can move forward (rolling windows, expiry) and must
/// put back when done. Tests of one collection run one after another, so a moved clock never leaks into another test.
/// </summary>
public sealed class TestClock : TimeProvider
{
    private long _offsetTicks;

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));

    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

    public void Reset() => Interlocked.Exchange(ref _offsetTicks, 0);
}
