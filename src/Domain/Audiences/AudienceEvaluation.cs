using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Consent;
using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.Audiences;

/// <summary>Everything a person's membership depends on, as of <see cref="Now"/>.</summary>
public sealed record PersonFacts(
    Profile Profile,
    DateTimeOffset Now,
    Func<ActiveDefinition, Calculation?[]> CounterParts,
    Func<int, IReadOnlyDictionary<string, CalculatedValue>> CalculatedAttributes,
    Func<int, bool> IsMemberOf);

public sealed record CriterionResult(int Index, string Kind, bool Holds, string Why);

public sealed record AudienceVerdict(bool IsMember, IReadOnlyList<CriterionResult> Criteria, string? Overall = null)
{
    /// <summary>Why, in words: built only when asked (a change is recorded, or explained), not on every evaluation.</summary>
    public string Reason => Overall ?? string.Join("; ", Criteria.Select(r => $"#{r.Index + 1} {r.Kind} {(r.Holds ? "true" : "false")}: {r.Why}"));
}

/// <summary>
/// Evaluates an audience's chain for one person (§B4, §B5): left to right, <c>and</c>, <c>or</c>, <c>exclude</c>
/// (= previous true and this false). Only people who sent data to one of the audience's workspaces qualify, and an
/// opted-out person is never a member (§M5). Pure: the live projection, a replay and "explain" run this same code.
/// </summary>
public static class AudienceEvaluation
{
    public static AudienceVerdict Evaluate(ActiveAudience audience, PersonFacts facts)
    {
        var results = new List<CriterionResult>();
        for (var i = 0; i < audience.Criteria.Count; i++) results.Add(Criterion(audience, i, facts));
        if (facts.Profile.IsOptedOut) return new AudienceVerdict(false, results, "the person opted out");
        if (!facts.Profile.IsLive) return new AudienceVerdict(false, results, "the profile aged out");
        if (!audience.WorkspaceIds.Any(facts.Profile.IsKnownIn)) return new AudienceVerdict(false, results, "no data in the audience's workspaces");
        var member = results.Count > 0 && results[0].Holds;
        for (var i = 1; i < results.Count; i++)
            member = audience.Criteria[i].Join switch
            {
                Joins.Or => member || results[i].Holds,
                Joins.Exclude => member && !results[i].Holds,
                _ => member && results[i].Holds,
            };
        return new AudienceVerdict(member, results);
    }

    /// <summary>The next moment a verdict can change with no new event: event periods sliding, "first seen within N days".</summary>
    public static DateTimeOffset? NextChangeAt(ActiveAudience audience, PersonFacts facts)
    {
        var moments = new List<DateTimeOffset>();
        foreach (var (index, counter) in audience.Counters)
        {
            var recency = audience.Criteria[index].Recency;
            var inner = TimeSpan.FromDays(recency?.InnerDays ?? 0);
            foreach (var part in facts.CounterParts(counter))
                foreach (var start in part?.Buckets?.Keys ?? Enumerable.Empty<long>())
                {
                    moments.Add(Calculation.Expiry(start, counter)); // leaves the period
                    if (inner > TimeSpan.Zero) moments.Add(DateTimeOffset.FromUnixTimeSeconds(start) + inner); // enters "between N and M days ago"
                }
        }
        foreach (var c in audience.Criteria.Where(c => c.Operator == AudienceOperators.WithinLastDays && int.TryParse(c.Value, CultureInfo.InvariantCulture, out _)))
        {
            var days = int.Parse(c.Value!, CultureInfo.InvariantCulture);
            var ws = c.WorkspaceId ?? audience.WorkspaceIds[0];
            var date = c.Kind switch
            {
                CriterionKinds.FirstSeen => FirstSeen(facts.Profile, c, audience),
                CriterionKinds.UserAttribute => facts.Profile.Workspace(ws).Attributes.TryGetValue(c.AttributeName ?? "", out var a) && !a.Removed && a.Value is { } v ? AttributeValues.AsDate(v) : null,
                CriterionKinds.CalculatedAttribute => facts.CalculatedAttributes(ws).GetValueOrDefault(c.AttributeName ?? "")?.Text is { } text ? AttributeValues.ParseDate(text) : null,
                _ => null,
            };
            if (date is { } d) moments.Add(d.AddDays(days));
        }
        return moments.Where(m => m > facts.Now).Order().Cast<DateTimeOffset?>().FirstOrDefault();
    }

    /// <summary>Matching events between <paramref name="innerDays"/> and the counter's window (its outer end) before now.</summary>
    public static long CountEvents(ActiveDefinition counter, int innerDays, DateTimeOffset now, params Calculation?[] parts)
    {
        var newest = now - TimeSpan.FromDays(innerDays);
        return parts.Where(p => p is not null && p.Activation == counter.Activation)
            .SelectMany(p => p!.PartsAt(counter, now))
            .Where(b => innerDays == 0 || DateTimeOffset.FromUnixTimeSeconds(b.Start) <= newest)
            .Sum(b => b.Part.Count);
    }

    private static CriterionResult Criterion(ActiveAudience audience, int index, PersonFacts facts)
    {
        var c = audience.Criteria[index];
        var ws = c.WorkspaceId ?? audience.WorkspaceIds[0];
        var profile = facts.Profile.Workspace(ws);
        (bool Holds, string Why) result = c.Kind switch
        {
            CriterionKinds.Event => EventCriterion(audience, index, facts),
            CriterionKinds.UserAttribute when c.Type == "list" => ListValue(c, profile.Attributes.TryGetValue(c.AttributeName ?? "", out var la) && !la.Removed ? la.Value : null),
            CriterionKinds.UserAttribute => Value(c, profile.Attributes.TryGetValue(c.AttributeName ?? "", out var a) && !a.Removed ? a.Value : null, facts.Now, $"user attribute {c.AttributeName}"),
            CriterionKinds.CalculatedAttribute when c.Type == "list" => ListValue(c, Json(facts.CalculatedAttributes(ws).GetValueOrDefault(c.AttributeName ?? ""))),
            CriterionKinds.UserAttributeList => ListValue(c, profile.Attributes.TryGetValue(c.AttributeName ?? "", out var l) && !l.Removed ? l.Value : null),
            CriterionKinds.CalculatedAttribute => Value(c, Json(facts.CalculatedAttributes(ws).GetValueOrDefault(c.AttributeName ?? "")), facts.Now, $"calculated attribute {c.AttributeName}"),
            CriterionKinds.Identity => IdentityCriterion(c, facts.Profile),
            CriterionKinds.Consent => ConsentCriterion(c, profile),
            CriterionKinds.FirstSeen => Value(c with { Type = "date" }, FirstSeen(facts.Profile, c, audience) is { } first ? JsonSerializer.SerializeToElement(first) : null, facts.Now, "first seen"),
            CriterionKinds.Device => DeviceCriterion(c, profile, facts.Now),
            CriterionKinds.AudienceMembership => c.AudienceId is { } other && facts.IsMemberOf(other) == (c.Member ?? true)
                ? (true, $"{(c.Member ?? true ? "member" : "not a member")} of audience {other}")
                : (false, $"{(facts.IsMemberOf(c.AudienceId ?? 0) ? "member" : "not a member")} of audience {c.AudienceId}"),
            _ => (false, $"unknown criterion kind {c.Kind}"),
        };
        return new CriterionResult(index, c.Kind ?? "", result.Holds, result.Why);
    }

    private static (bool, string) EventCriterion(ActiveAudience audience, int index, PersonFacts facts)
    {
        var c = audience.Criteria[index];
        if (!audience.Counters.TryGetValue(index, out var counter)) return (false, "no event counter");
        var count = CountEvents(counter, c.Recency?.InnerDays ?? 0, facts.Now, facts.CounterParts(counter));
        var op = c.Frequency?.Operator ?? AudienceOperators.GreaterThan;
        var wanted = c.Frequency?.Count ?? 0;
        var holds = op switch
        {
            AudienceOperators.GreaterThan => count > wanted,
            AudienceOperators.GreaterOrEqual => count >= wanted,
            AudienceOperators.LessThan => count < wanted,
            AudienceOperators.LessOrEqual => count <= wanted,
            _ => count == wanted,
        };
        var period = c.Recency is { WithinDays: null, FromDaysAgo: { } from, ToDaysAgo: { } to } ? $"between {from} and {to} days ago"
            : counter.Period.IsRolling ? $"in the last {counter.Period.Within} days"
            : $"since {counter.Period.Date:yyyy-MM-dd} (counted for the profile's lifetime: Lifetime Profiles)";
        return (holds, $"{count} matching {c.EventName ?? c.EventType} event(s) {period}; wanted {op.Replace('_', ' ')} {wanted}");
    }

    private static (bool, string) Value(Criterion c, JsonElement? value, DateTimeOffset now, string what)
    {
        var present = value is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) };
        var shown = present ? AttributeValues.AsText(value!.Value) : null;
        bool holds;
        switch (c.Operator)
        {
            case AudienceOperators.Exists: holds = present; break;
            case AudienceOperators.NotExists: holds = !present; break;
            default:
                if (!present) return (false, $"{what} is not set");
                holds = c.Type switch
                {
                    "number" => NumberHolds(c, AttributeValues.AsNumber(value!.Value)),
                    "boolean" => AttributeValues.AsBoolean(value!.Value) is { } b && bool.TryParse(c.Value, out var w) && b == w,
                    "date" => DateHolds(c, AttributeValues.AsDate(value!.Value), now),
                    _ => StringHolds(c, shown ?? ""),
                };
                break;
        }
        return (holds, present ? $"{what} is \"{shown}\"" : $"{what} is not set");
    }

    private static (bool, string) ListValue(Criterion c, JsonElement? value)
    {
        var items = value is { ValueKind: JsonValueKind.Array } list
            ? list.EnumerateArray().Select(AttributeValues.AsText).OfType<string>().ToList()
            : value is { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } single && AttributeValues.AsText(single) is { } one ? [one] : [];
        var wanted = c.Value ?? "";
        var holds = c.Operator switch
        {
            AudienceOperators.Exists => items.Count > 0,
            AudienceOperators.NotExists => items.Count == 0,
            AudienceOperators.Includes => items.Any(i => Same(i, wanted)),
            AudienceOperators.DoesNotInclude => value is not null && !items.Any(i => Same(i, wanted)),
            AudienceOperators.PartialMatch => items.Any(i => i.Contains(wanted, StringComparison.OrdinalIgnoreCase)),
            _ => false,
        };
        return (holds, $"user attribute list {c.AttributeName} is [{string.Join(", ", items)}]");
    }

    private static (bool, string) IdentityCriterion(Criterion c, Profile profile)
    {
        var values = profile.Identities.Where(i => i.Type == c.IdentityType).Select(i => i.Value).ToList();
        var holds = c.Operator switch
        {
            AudienceOperators.Exists => values.Count > 0,
            AudienceOperators.NotExists => values.Count == 0,
            _ => values.Any(v => StringHolds(c, v)),
        };
        return (holds, values.Count == 0 ? $"no {c.IdentityType} identity" : $"{values.Count} {c.IdentityType} identit{(values.Count == 1 ? "y" : "ies")}");
    }

    private static (bool, string) ConsentCriterion(Criterion c, WorkspaceProfile profile)
    {
        var regulation = c.Regulation ?? Regulations.Gdpr;
        var record = profile.Consent(regulation, regulation == Regulations.Ccpa ? Regulations.CcpaPurpose : (c.Purpose ?? "").ToLowerInvariant());
        var wanted = c.Consented ?? true;
        return (record is not null && record.Consented == wanted,
            record is null ? $"no {regulation} consent record" : $"{regulation} {(record.Consented ? "consented" : "not consented")} at {record.At:u}");
    }

    private static (bool, string) DeviceCriterion(Criterion c, WorkspaceProfile profile, DateTimeOffset now)
    {
        var values = profile.Devices.Values.Select(d => c.Field switch
        {
            "platform" => d.Platform,
            _ => d.DeviceInfo is { ValueKind: JsonValueKind.Object } info && info.TryGetProperty(c.Field ?? "", out var v) ? AttributeValues.AsText(v) : null,
        }).OfType<string>().ToList();
        var holds = c.Operator switch
        {
            AudienceOperators.Exists => values.Count > 0,
            AudienceOperators.NotExists => values.Count == 0,
            _ => values.Any(v => StringHolds(c, v)),
        };
        return (holds, $"device {c.Field}: {(values.Count == 0 ? "none" : string.Join(", ", values))}");
    }

    private static DateTimeOffset? FirstSeen(Profile profile, Criterion c, ActiveAudience audience) =>
        profile.Workspace(c.WorkspaceId ?? audience.WorkspaceIds[0]).FirstSeenAt ?? profile.FirstSeenAt;

    private static bool StringHolds(Criterion c, string text) => c.Operator switch
    {
        AudienceOperators.EqualTo => Same(text, c.Value),
        AudienceOperators.NotEquals => !Same(text, c.Value),
        AudienceOperators.Contains => text.Contains(c.Value ?? "", StringComparison.OrdinalIgnoreCase),
        AudienceOperators.NotContains => !text.Contains(c.Value ?? "", StringComparison.OrdinalIgnoreCase),
        AudienceOperators.Pattern => Matches(UserPatterns.Wildcard(c.Value ?? ""), text),
        AudienceOperators.InList => (c.Values ?? []).Any(v => Same(text, v)),
        _ => false,
    };

    private static bool NumberHolds(Criterion c, decimal? number)
    {
        if (number is not { } n) return false;
        var operand = AttributeValues.ParseNumber(c.Value);
        return c.Operator switch
        {
            AudienceOperators.EqualTo => n == operand,
            AudienceOperators.NotEquals => operand is { } o && n != o,
            AudienceOperators.GreaterThan => n > operand,
            AudienceOperators.GreaterOrEqual => n >= operand,
            AudienceOperators.LessThan => n < operand,
            AudienceOperators.LessOrEqual => n <= operand,
            AudienceOperators.Between => AttributeValues.ParseNumber(c.MinValue) is { } min && AttributeValues.ParseNumber(c.MaxValue) is { } max && n >= min && n <= max,
            AudienceOperators.InList => (c.Values ?? []).Any(v => AttributeValues.ParseNumber(v) == n),
            _ => false,
        };
    }

    /// <summary>Calendar dates in UTC (§B5): before excludes that day, after includes it, on is that day, between includes both days.</summary>
    private static bool DateHolds(Criterion c, DateTimeOffset? date, DateTimeOffset now)
    {
        if (date is not { } d) return false;
        DateTime? Day(string? text) => AttributeValues.ParseDate(text)?.UtcDateTime.Date;
        var day = d.UtcDateTime.Date;
        return c.Operator switch
        {
            AudienceOperators.Before => Day(c.Value) is { } b && day < b,
            AudienceOperators.After => Day(c.Value) is { } a && day >= a,
            AudienceOperators.On => Day(c.Value) is { } o && day == o,
            AudienceOperators.Between => Day(c.MinValue) is { } from && Day(c.MaxValue) is { } to && day >= from && day <= to,
            AudienceOperators.WithinLastDays => int.TryParse(c.Value, CultureInfo.InvariantCulture, out var days) && d > now - TimeSpan.FromDays(days) && d <= now,
            _ => false,
        };
    }

    private static bool Same(string text, string? operand) => string.Equals(text, operand, StringComparison.OrdinalIgnoreCase);

    /// <summary>A pattern too slow to match does not hold (and never stops an evaluation).</summary>
    private static bool Matches(Regex pattern, string text)
    {
        try { return pattern.IsMatch(text); }
        catch (RegexMatchTimeoutException) { return false; }
    }

    /// <summary><c>*</c> any run of characters, <c>?</c> one character; the rest literal; case-insensitive (compiled once per pattern).</summary>
    public static Regex Wildcard(string pattern) => UserPatterns.Wildcard(pattern);

    private static JsonElement? Json(CalculatedValue? value) =>
        value is null ? null : value.List is { } list ? JsonSerializer.SerializeToElement(list) : JsonSerializer.SerializeToElement(value.Text);
}

/// <summary>
/// Which events can change a verdict of these audiences, so the projection evaluates (and loads profiles) only for
/// them: events an event criterion counts, the profile changes its other criteria read, opt-out, and the scheduled
/// re-evaluation. Anything a calculated-attribute or first-seen criterion reads is any captured event.
/// </summary>
public static class AudienceRelevance
{
    public static bool IsRelevant(IReadOnlyList<ActiveAudience> audiences, object data) => data switch
    {
        AudiencesReevaluationDue or OptOutChanged or ProfileAgedOut or ProfileReactivated => audiences.Count > 0,
        EventCaptured e => audiences.Any(a =>
            a.Counters.Values.Any(c => e.WorkspaceId == c.WorkspaceId && EventSelection.Selects(c.Definition.Selector!, e))
            || a.Criteria.Any(c => c.Kind is CriterionKinds.CalculatedAttribute or CriterionKinds.FirstSeen)),
        UserAttributeSet or UserAttributeRemoved => Uses(audiences, CriterionKinds.UserAttribute, CriterionKinds.UserAttributeList),
        ConsentStateChanged => Uses(audiences, CriterionKinds.Consent),
        DeviceSeen => Uses(audiences, CriterionKinds.Device, CriterionKinds.FirstSeen),
        Identity.UserIdentityAdded or Identity.UserIdentityRemoved or Identity.UserIdentityChanged => Uses(audiences, CriterionKinds.Identity),
        _ => false,
    };

    private static bool Uses(IReadOnlyList<ActiveAudience> audiences, params string[] kinds) =>
        audiences.Any(a => a.Criteria.Any(c => kinds.Contains(c.Kind)));
}
