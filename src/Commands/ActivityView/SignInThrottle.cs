using System.Threading.RateLimiting;

namespace EventProfiles.Commands.ActivityView;

/// <summary>
/// Slows down password guessing on the web UI's sign-in: after <c>failuresPerWindow</c> failed attempts for one user name
/// from one address, that pair may not sign in (not even with the right password) until the window has passed. Only
/// failures count, so a busy operator is never locked out by their own successful sign-ins.
/// </summary>
public sealed class SignInThrottle(int failuresPerWindow, TimeSpan window) : IDisposable
{
    private readonly PartitionedRateLimiter<string> _failures = PartitionedRateLimiter.Create<string, string>(key =>
        RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = failuresPerWindow, Window = window, QueueLimit = 0, AutoReplenishment = true,
        }));

    public TimeSpan Window => window;

    private static string Key(string? address, string user) => $"{address}\n{user.ToLowerInvariant()}";

    public bool IsLockedOut(string? address, string user) => _failures.GetStatistics(Key(address, user))?.CurrentAvailablePermits == 0;

    public void Failed(string? address, string user) => _failures.AttemptAcquire(Key(address, user)).Dispose();

    public void Dispose() => _failures.Dispose();
}
