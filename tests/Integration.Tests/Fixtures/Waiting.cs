namespace EventProfiles.Integration.Tests.Fixtures;

public static class Waiting
{
    /// <summary>Waits for background work (a durable Wolverine job) to reach a state, failing after the deadline.</summary>
    public static async Task Until(Func<Task<bool>> condition, string what, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Waited {seconds} s for {what}.");
            await Task.Delay(50);
        }
    }
}
