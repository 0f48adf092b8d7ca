using System.Collections.Concurrent;
using System.Text.RegularExpressions;

namespace EventProfiles.Domain.CalculatedAttributes;

/// <summary>
/// Patterns tenants write (calculated-attribute <c>pattern</c> conditions, audience wildcards), compiled once per
/// pattern and reused by every evaluation, not parsed again per event. The cache is bounded: when full it starts
/// over, so a tenant creating endless patterns costs recompilation, never memory.
/// </summary>
public static class UserPatterns
{
    /// <summary>One match never runs longer than this; it is also the unit of <see cref="PatternBudget"/>.</summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(100);
    public const int MaxCached = 1_000;

    private static readonly ConcurrentDictionary<string, Regex?> Regexes = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, Regex> Wildcards = new(StringComparer.Ordinal);

    /// <summary>A calculated attribute's regular expression (case-insensitive), or null when it does not compile.</summary>
    public static Regex? Regex(string pattern) => Cached(Regexes, pattern, static p =>
    {
        try { return new Regex(p, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, MatchTimeout); }
        catch (ArgumentException) { return null; }
    });

    /// <summary>
    /// An audience wildcard: <c>*</c> any run of characters, <c>?</c> one character, the rest literal, case-insensitive.
    /// Matched without backtracking (linear in the text, and values are at most 4,096 characters), so no wildcard can be
    /// catastrophic and no timeout is set: a wall-clock bound would only make a match on a starved CPU (the engine builds
    /// its automaton lazily, on the first matches) answer "no" where the answer is "yes".
    /// </summary>
    public static Regex Wildcard(string pattern) => Cached(Wildcards, pattern, static p =>
        new Regex("^" + System.Text.RegularExpressions.Regex.Escape(p).Replace("\\*", ".*").Replace("\\?", ".") + "\\z",
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Singleline | RegexOptions.NonBacktracking, System.Text.RegularExpressions.Regex.InfiniteMatchTimeout));

    private static T Cached<T>(ConcurrentDictionary<string, T> cache, string pattern, Func<string, T> create)
    {
        if (cache.TryGetValue(pattern, out var compiled)) return compiled;
        if (cache.Count >= MaxCached) cache.Clear();
        return cache.GetOrAdd(pattern, create);
    }
}

/// <summary>
/// How much regex time one definition may spend on one batch of events (a page of the projection, a chunk of a
/// replay), counted in <see cref="UserPatterns.MatchTimeout"/>s: a match that times out costs one. Once spent, the
/// definition's patterns count as not matched for the rest of the batch without running, so one tenant's catastrophic
/// pattern costs at most <c>timeouts × 100 ms</c> per batch of the worker every workspace shares. No clock: the
/// Regex timeout is the unit. The owner (an <c>ActiveDefinition</c>, loaded per batch) logs <see cref="Exhausted"/>.
/// </summary>
public sealed class PatternBudget(int timeouts = PatternBudget.DefaultTimeouts)
{
    public const int DefaultTimeouts = 3;
    private int _timedOut;
    private int _reported;

    public int TimedOut => Volatile.Read(ref _timedOut);
    public bool Exhausted => TimedOut >= timeouts;

    /// <summary>Whether the text matches; false when the match timed out or the budget is spent.</summary>
    public bool IsMatch(Regex regex, string text)
    {
        if (Exhausted) return false;
        try { return regex.IsMatch(text); }
        catch (RegexMatchTimeoutException)
        {
            Interlocked.Increment(ref _timedOut);
            return false;
        }
    }

    /// <summary>True once, the first time it is asked after the budget ran out: for the owner to log it once.</summary>
    public bool TakeExhaustedNotice() => Exhausted && Interlocked.Exchange(ref _reported, 1) == 0;
}
