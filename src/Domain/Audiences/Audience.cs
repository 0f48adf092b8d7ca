using EventProfiles.Domain.CalculatedAttributes;

namespace EventProfiles.Domain.Audiences;

public static class AudienceKinds
{
    public const string RealTime = "real_time";
    public const string Standard = "standard";
    /// <summary>A standard audience can no longer be sent this long after its calculation (§B1).</summary>
    public static readonly TimeSpan StandardLifetime = TimeSpan.FromDays(30);
}

/// <summary>Days of data, UTC, both inclusive.</summary>
public sealed record DateRange(
    [property: System.Text.Json.Serialization.JsonPropertyName("from")] DateOnly? From,
    [property: System.Text.Json.Serialization.JsonPropertyName("to")] DateOnly? To)
{
    public DateTimeOffset Start => From is { } f ? new DateTimeOffset(f.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero) : DateTimeOffset.MinValue;
    public DateTimeOffset End => To is { } t ? new DateTimeOffset(t.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero).AddDays(1).AddTicks(-1) : DateTimeOffset.MaxValue;
}

public enum AudienceStatus
{
    /// <summary>Never activated: not evaluated.</summary>
    Draft,
    /// <summary>Activated; its event counts are being initialised from the lookback, members not yet evaluated.</summary>
    Calculating,
    /// <summary>Evaluated continuously; membership changes are sent to its outputs.</summary>
    Active,
    /// <summary>Deactivated: no members, nothing sent.</summary>
    Inactive,
    /// <summary>Standard audiences: calculated; members fixed until calculated again.</summary>
    Ready,
}

/// <summary>
/// A real-time audience of one or several workspaces (§B2): its criteria chain, and, once activated, the hidden event
/// counters (one internal calculated attribute per event criterion) that count matching events in time buckets.
/// </summary>
public sealed class Audience
{
    public const int MaxNameLength = 100;

    public int Id { get; set; }
    public string Name { get; set; } = "";
    public string ExternalName { get; set; } = "";
    public List<int> WorkspaceIds { get; set; } = [];
    public List<Criterion> Criteria { get; set; } = [];
    /// <summary><c>real_time</c> (evaluated continuously) or <c>standard</c> (calculated once over <see cref="DateRange"/>).</summary>
    public string Kind { get; set; } = AudienceKinds.RealTime;
    /// <summary>Standard audiences: the days of data (UTC, both inclusive) they are calculated over; null = all retained data.</summary>
    public DateRange? DateRange { get; set; }
    public AudienceStatus Status { get; set; }
    /// <summary>Standard audiences: when the calculation finished (they expire 30 days later, §B1).</summary>
    public DateTimeOffset? CalculatedOn { get; set; }
    public Guid? Activation { get; set; }
    /// <summary>Per criterion, the id of its event counter (a hidden calculated attribute), or 0 when it is not an event criterion.</summary>
    public List<int> Counters { get; set; } = [];
    public string CreatedBy { get; set; } = "";
    public DateTimeOffset CreatedOn { get; set; }
    public string LastModifiedBy { get; set; } = "";
    public DateTimeOffset LastModifiedOn { get; set; }
    public DateTimeOffset? ActivatedOn { get; set; }

    public bool IsEvaluated => Status == AudienceStatus.Active;

    /// <summary>The audiences this one refers to (one level of nesting, §B4).</summary>
    public IEnumerable<int> Nested => Criteria.Where(c => c.Kind == CriterionKinds.AudienceMembership && c.AudienceId is not null).Select(c => c.AudienceId!.Value);

    /// <summary>
    /// The counter each event criterion needs: a count within its outer period, with the criterion's selection and
    /// conditions. A criterion without recency counts within the lookback, or, given <paramref name="countsSince"/>
    /// (Lifetime Profiles on at activation: the activation time less the lookback), every event since then for as long
    /// as the profile lives: a purchase keeps its membership (retention-and-privacy.md §3, "accrues over the long term").
    /// </summary>
    public static Definition CounterFor(Criterion c, int lookbackDays, DateTimeOffset? countsSince = null) => new Definition
    {
        RecipeType = DataPointTypes.Event,
        DataPoint = new DataPoint { Type = DataPointTypes.Event, EventType = c.EventType, EventName = c.EventName, CustomEventType = c.CustomEventType },
        Conditions = c.Conditions ?? [],
        CalculationType = CalculationTypes.Count,
        TimePeriod = c.Recency is null && countsSince is { } since
            ? new TimePeriod { Type = TimePeriodTypes.Since, Date = since }
            : new TimePeriod { Type = TimePeriodTypes.Within, Within = c.Recency?.OuterDays is > 0 and var d ? d : lookbackDays, WithinUnit = TimePeriodTypes.Days },
    }.Normalized();
}

/// <summary>An evaluated audience as the projection uses it, with its counters' definitions by criterion index.</summary>
public sealed record ActiveAudience(int Id, string ExternalName, Guid Activation, IReadOnlyList<int> WorkspaceIds, IReadOnlyList<Criterion> Criteria,
    IReadOnlyDictionary<int, ActiveDefinition> Counters, int LookbackDays);

/// <summary>Where a person stands in one audience: member or not since when, for which activation.</summary>
public sealed record Membership(Guid Activation, bool IsMember, DateTimeOffset Since);

/// <summary>A change of membership the projection found, to be recorded and sent to the audience's outputs.</summary>
public sealed record MembershipChange(int AudienceId, Guid Activation, long Mpid, bool Added, DateTimeOffset At, string Reason);

/// <summary>
/// Time alone may have changed the person's memberships (an event left a period): recorded on their stream when the
/// scheduled moment comes, so the projection evaluates them again — live, and identically in a replay.
/// </summary>
public sealed record AudiencesReevaluationDue(DateTimeOffset At);
