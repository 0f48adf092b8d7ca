using System.Globalization;
using EventProfiles.Commands.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace EventProfiles.Commands.Security;

/// <summary><c>EventProfiles:CredentialThrottle</c>: how many failures a (name, address) pair may have in a window.</summary>
public sealed class CredentialThrottleOptions
{
    public int Failures { get; set; } = 10;
    public int WindowMinutes { get; set; } = 15;
}

/// <summary>
/// Slows down guessing of admin passwords (HTTP Basic on <c>/api/admin/*</c> and the web UI's sign-in share one count) and
/// of Profile API client secrets (<c>/oauth/token</c>). After <see cref="CredentialThrottleOptions.Failures"/> failures for
/// one name from one client address, that pair is refused — even with the right password — until the window has passed.
/// Keyed by name AND address, so someone guessing cannot lock the real user out from elsewhere; only failures count, so
/// another user's or the same user's successful sign-ins reset nothing. Names that do not exist are counted the same, so
/// the answer reveals nothing about which names exist.
/// </summary>
public sealed class CredentialThrottle(CredentialFailures failures, CredentialThrottleOptions options, TimeProvider clock)
{
    public const string Admin = "admin";
    public const string OAuthClient = "oauth_client";

    // Longer names are cut: a megabyte of user name must not become a megabyte row.
    private const int MaxNameLength = 200;
    private static readonly TimeSpan ExpiryInterval = TimeSpan.FromMinutes(1);
    private long _nextExpiry;

    private TimeSpan Window => TimeSpan.FromMinutes(options.WindowMinutes);

    /// <summary>Before accepting a right password: how long the pair is still refused (null: not refused).</summary>
    public async Task<TimeSpan?> RefusedForAsync(string scope, string name, HttpContext context)
    {
        var now = clock.GetUtcNow();
        var (count, start) = await failures.ReadAsync(scope, Key(name), Address(context), now, Window, context.RequestAborted);
        return count >= options.Failures ? Remaining(start, now) : null;
    }

    /// <summary>Counts a failure; answers how long the pair is refused when this one was over the limit (null: just wrong).</summary>
    public async Task<TimeSpan?> FailedAsync(string scope, string name, HttpContext context)
    {
        var now = clock.GetUtcNow();
        var (count, start) = await failures.AddAsync(scope, Key(name), Address(context), now, Window, context.RequestAborted);
        if (Interlocked.Read(ref _nextExpiry) <= now.UtcTicks)
        {
            Interlocked.Exchange(ref _nextExpiry, (now + ExpiryInterval).UtcTicks);
            await failures.ExpireAsync(now, Window, context.RequestAborted);
        }
        return count > options.Failures ? Remaining(start, now) : null;
    }

    /// <summary>The 429 of a refused pair, with <c>Retry-After</c> set on the response.</summary>
    public static ProblemDetails TooManyFailures(HttpContext context, TimeSpan retryAfter, string field)
    {
        context.Response.Headers.RetryAfter = RetryAfterSeconds(retryAfter);
        return ApiProblems.Create(StatusCodes.Status429TooManyRequests, "Too many failed attempts",
            [new FieldError(field, "Too many failed attempts for this name from this address; try again after the Retry-After delay.", "TOO_MANY_REQUESTS")]);
    }

    public static string RetryAfterSeconds(TimeSpan retryAfter) =>
        Math.Max(1, Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    private TimeSpan Remaining(DateTimeOffset windowStart, DateTimeOffset now) => windowStart + Window - now;

    private static string Key(string name)
    {
        var key = name.Trim().ToLowerInvariant();
        return key.Length > MaxNameLength ? key[..MaxNameLength] : key;
    }

    /// <summary>The client's address as the forwarded-headers middleware left it (a configured proxy's X-Forwarded-For, else the peer).</summary>
    private static string Address(HttpContext context) => context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
}
