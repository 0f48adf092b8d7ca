using System.Text.Json.Serialization;
using EventProfiles.Domain.CalculatedAttributes;

namespace EventProfiles.Domain.Audiences;

// An audience's criteria (audiences-and-calculated-attributes.md §B3–§B5). mParticle's builder has no public JSON
// form, so this is ours: an ordered chain of criteria joined by and / or / exclude, evaluated left to right.

/// <summary>One criterion of the chain. <see cref="Kind"/> says which fields apply.</summary>
public sealed record Criterion
{
    /// <summary><c>and</c>, <c>or</c> or <c>exclude</c> (previous true and this false); ignored on the first criterion.</summary>
    [JsonPropertyName("join")] public string? Join { get; init; }
    [JsonPropertyName("kind")] public string? Kind { get; init; }

    // kind = event: which events, conditions on their attributes, how many, when
    [JsonPropertyName("event_type")] public string? EventType { get; init; }
    [JsonPropertyName("event_name")] public string? EventName { get; init; }
    [JsonPropertyName("custom_event_type")] public string? CustomEventType { get; init; }
    [JsonPropertyName("conditions")] public IReadOnlyList<Condition>? Conditions { get; init; }
    [JsonPropertyName("frequency")] public Frequency? Frequency { get; init; }
    [JsonPropertyName("recency")] public Recency? Recency { get; init; }

    // profile kinds: which workspace's profile (default: the audience's first), which attribute or identity, the test
    [JsonPropertyName("workspace_id")] public int? WorkspaceId { get; init; }
    [JsonPropertyName("attribute_name")] public string? AttributeName { get; init; }
    [JsonPropertyName("identity_type")] public string? IdentityType { get; init; }
    [JsonPropertyName("regulation")] public string? Regulation { get; init; }
    [JsonPropertyName("purpose")] public string? Purpose { get; init; }
    [JsonPropertyName("consented")] public bool? Consented { get; init; }
    [JsonPropertyName("field")] public string? Field { get; init; }
    [JsonPropertyName("audience_id")] public int? AudienceId { get; init; }
    [JsonPropertyName("member")] public bool? Member { get; init; }
    [JsonPropertyName("type")] public string? Type { get; init; }
    [JsonPropertyName("operator")] public string? Operator { get; init; }
    [JsonPropertyName("value")] public string? Value { get; init; }
    [JsonPropertyName("values")] public IReadOnlyList<string>? Values { get; init; }
    [JsonPropertyName("min_value")] public string? MinValue { get; init; }
    [JsonPropertyName("max_value")] public string? MaxValue { get; init; }
}

/// <summary>How many matching events (default: more than 0).</summary>
public sealed record Frequency(
    [property: JsonPropertyName("operator")] string? Operator,
    [property: JsonPropertyName("count")] int? Count);

/// <summary>When: within the last N days, or between N and M days ago (a day is 24 h before the evaluation, §B5).</summary>
public sealed record Recency(
    [property: JsonPropertyName("within_days")] int? WithinDays,
    [property: JsonPropertyName("from_days_ago")] int? FromDaysAgo,
    [property: JsonPropertyName("to_days_ago")] int? ToDaysAgo)
{
    /// <summary>The older end of the period, in days before now.</summary>
    [JsonIgnore] public int OuterDays => WithinDays ?? ToDaysAgo ?? 0;
    /// <summary>The newer end, in days before now (0 for "within the last").</summary>
    [JsonIgnore] public int InnerDays => WithinDays is null ? FromDaysAgo ?? 0 : 0;
}

public static class CriterionKinds
{
    public const string Event = "event";
    public const string UserAttribute = "user_attribute";
    public const string UserAttributeList = "user_attribute_list";
    public const string CalculatedAttribute = "calculated_attribute";
    public const string Identity = "identity";
    public const string Consent = "consent";
    public const string FirstSeen = "first_seen";
    public const string Device = "device";
    public const string AudienceMembership = "audience_membership";
    public static readonly IReadOnlyList<string> All =
        [Event, UserAttribute, UserAttributeList, CalculatedAttribute, Identity, Consent, FirstSeen, Device, AudienceMembership];
}

public static class Joins
{
    public const string And = "and";
    public const string Or = "or";
    public const string Exclude = "exclude";
}

/// <summary>Operators of §B5. Strings match case-insensitively; <c>pattern</c> uses <c>*</c> and <c>?</c> wildcards.</summary>
public static class AudienceOperators
{
    public const string Exists = "exists";
    public const string NotExists = "not_exists";
    public const string EqualTo = "equals";
    public const string NotEquals = "not_equals";
    public const string Contains = "contains";
    public const string NotContains = "not_contains";
    public const string Pattern = "pattern";
    public const string InList = "in_list";
    public const string GreaterThan = "greater_than";
    public const string GreaterOrEqual = "greater_or_equal";
    public const string LessThan = "less_than";
    public const string LessOrEqual = "less_than_or_equal";
    public const string Between = "between";
    public const string Before = "before";
    public const string After = "after";
    public const string On = "on";
    public const string WithinLastDays = "within_last_days";
    public const string Includes = "includes";
    public const string DoesNotInclude = "does_not_include";
    public const string PartialMatch = "partial_match";

    public static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> ByType = new Dictionary<string, IReadOnlyList<string>>
    {
        ["string"] = [Exists, NotExists, EqualTo, NotEquals, Contains, NotContains, Pattern, InList],
        ["number"] = [Exists, NotExists, EqualTo, NotEquals, GreaterThan, GreaterOrEqual, LessThan, LessOrEqual, Between, InList],
        ["boolean"] = [Exists, NotExists, EqualTo],
        ["date"] = [Exists, NotExists, Before, After, On, Between, WithinLastDays],
        ["list"] = [Exists, NotExists, Includes, DoesNotInclude, PartialMatch],
    };

    /// <summary>Frequency comparators on the number of matching events.</summary>
    public static readonly IReadOnlyList<string> Frequency = [GreaterThan, GreaterOrEqual, LessThan, LessOrEqual, EqualTo];
}
