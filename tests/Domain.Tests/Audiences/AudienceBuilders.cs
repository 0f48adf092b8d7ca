using System.Text.Json;
using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Consent;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Tests.CalculatedAttributes;

namespace EventProfiles.Domain.Tests.Audiences;

/// <summary>
/// Builders for audience tests: people (profiles folded from their events), criteria of every kind, evaluated
/// audiences with their event counters, and the facts a verdict depends on.
/// </summary>
internal static class Aud
{
    /// <summary>2024-05-01T00:00:00Z.</summary>
    public static readonly DateTimeOffset T0 = CA.T0;
    public static readonly TimeSpan Tick = TimeSpan.FromTicks(1);
    public const int Ws = 1;
    public const int Ws2 = 2;
    public const long Mpid = 4242;
    public static readonly Guid AudienceActivation = Guid.NewGuid();
    public static readonly IReadOnlyDictionary<string, CalculatedValue> NoValues = new Dictionary<string, CalculatedValue>();

    public static JsonElement Json(string json) => CA.Json(json);

    // ---- people

    public static BatchReceived Batch(int workspace, DateTimeOffset at) =>
        new(Guid.NewGuid(), workspace, "server", "development", at, null, false, Json("{}"));

    /// <summary>A profile created at <paramref name="at"/> that never sent data to any workspace.</summary>
    public static Profile Stranger(DateTimeOffset? at = null) => Profile.Create(new ProfileCreated(Mpid, at ?? T0));

    /// <summary>A person created at T0 who sent a batch to workspace 1 at T0, with the given events folded in.</summary>
    public static Profile Person(params object[] events) => PersonIn([Ws], events);

    /// <summary>A person created at T0 who sent a batch at T0 to each of <paramref name="workspaces"/>.</summary>
    public static Profile PersonIn(int[] workspaces, params object[] events)
    {
        var profile = Stranger();
        foreach (var ws in workspaces) profile = profile.Evolve(Batch(ws, T0));
        foreach (var e in events) profile = profile.Evolve(e);
        return profile;
    }

    public static UserAttributeSet Attr(string name, string json, int workspace = Ws, DateTimeOffset? at = null) =>
        new(workspace, name, Json(json), at ?? T0, "server");

    public static ConsentStateChanged Gdpr(string purpose, bool consented, DateTimeOffset? at = null, int workspace = Ws) =>
        new(workspace, Regulations.Gdpr, purpose, new ConsentRecord(consented, at ?? T0, null, null, null), "server");

    public static ConsentStateChanged Ccpa(bool optedOutOfSale, DateTimeOffset? at = null, int workspace = Ws) =>
        new(workspace, Regulations.Ccpa, Regulations.CcpaPurpose, new ConsentRecord(optedOutOfSale, at ?? T0, null, null, null), "server");

    public static DeviceSeen Device(string key, string? platform, string? deviceInfo = null, int workspace = Ws) =>
        new(workspace, key, T0, null, new Dictionary<string, string>(), platform, null, null, deviceInfo is null ? null : Json(deviceInfo));

    public static EventCaptured Purchase(DateTimeOffset at, string attributes = "{}", int workspace = Ws) =>
        CA.Custom("Purchase", at, attributes, workspace: workspace);

    // ---- criteria

    public static Recency InLast(int days) => new(days, null, null);
    public static Recency DaysAgo(int from, int to) => new(null, from, to);

    /// <summary>An event criterion on the custom event <paramref name="name"/> (frequency only when an operator or count is given).</summary>
    public static Criterion Did(string name = "Purchase", string? op = null, int? count = null, Recency? recency = null, string? join = null,
        Condition[]? conditions = null, int? workspace = null) => new()
    {
        Join = join,
        Kind = CriterionKinds.Event,
        EventType = EventTypes.CustomEvent,
        EventName = name,
        Frequency = op is null && count is null ? null : new Frequency(op, count),
        Recency = recency,
        Conditions = conditions,
        WorkspaceId = workspace,
    };

    public static Criterion UserAttr(string? type, string op, string? value = null, string name = "tier", string? join = null,
        string[]? values = null, string? min = null, string? max = null, int? workspace = null) => new()
    {
        Join = join, Kind = CriterionKinds.UserAttribute, Type = type, Operator = op, Value = value, AttributeName = name,
        Values = values, MinValue = min, MaxValue = max, WorkspaceId = workspace,
    };

    public static Criterion ListAttr(string op, string? value = null, string name = "genres", string? join = null) =>
        new() { Join = join, Kind = CriterionKinds.UserAttributeList, Operator = op, Value = value, AttributeName = name };

    public static Criterion Calculated(string? type, string op, string? value = null, string name = "orders", int? workspace = null,
        string? min = null, string? max = null) =>
        new() { Kind = CriterionKinds.CalculatedAttribute, Type = type, Operator = op, Value = value, AttributeName = name, WorkspaceId = workspace, MinValue = min, MaxValue = max };

    public static Criterion HasIdentity(string identityType, string op, string? value = null, string[]? values = null) =>
        new() { Kind = CriterionKinds.Identity, IdentityType = identityType, Operator = op, Value = value, Values = values };

    public static Criterion Consented(string? regulation, string? purpose, bool? consented, int? workspace = null) =>
        new() { Kind = CriterionKinds.Consent, Regulation = regulation, Purpose = purpose, Consented = consented, WorkspaceId = workspace };

    public static Criterion FirstSeen(string op, string? value = null, string? min = null, string? max = null, int? workspace = null) =>
        new() { Kind = CriterionKinds.FirstSeen, Operator = op, Value = value, MinValue = min, MaxValue = max, WorkspaceId = workspace };

    public static Criterion OnDevice(string field, string op, string? value = null, int? workspace = null) =>
        new() { Kind = CriterionKinds.Device, Field = field, Operator = op, Value = value, WorkspaceId = workspace };

    public static Criterion MemberOf(int audienceId, bool? member = true, string? join = null) =>
        new() { Join = join, Kind = CriterionKinds.AudienceMembership, AudienceId = audienceId, Member = member };

    // ---- audiences

    /// <summary>Audience 1 of workspace 1 with the given chain, a 30-day lookback.</summary>
    public static ActiveAudience Chain(params Criterion[] criteria) => AudienceOf(1, [Ws], criteria);

    /// <summary>
    /// An evaluated audience: one counter per event criterion, as activation creates them — workspace = the criterion's
    /// or the audience's first, definition = <see cref="Audience.CounterFor"/>, an activation of its own.
    /// </summary>
    public static ActiveAudience AudienceOf(int id, int[] workspaces, Criterion[] criteria, Guid? activation = null, int lookbackDays = 30)
    {
        var counters = new Dictionary<int, ActiveDefinition>();
        for (var i = 0; i < criteria.Length; i++)
            if (criteria[i].Kind == CriterionKinds.Event)
                counters[i] = new ActiveDefinition(id * 100 + i, criteria[i].WorkspaceId ?? workspaces[0], $"~audience {id} criterion {i + 1}",
                    Guid.NewGuid(), Audience.CounterFor(criteria[i], lookbackDays));
        return new ActiveAudience(id, $"Audience {id}", activation ?? AudienceActivation, workspaces, criteria, counters, lookbackDays);
    }

    // ---- facts

    /// <summary>The counters' live parts after observing each event at its own time (as the live projection does).</summary>
    public static Dictionary<int, Calculation> Counted(IEnumerable<ActiveAudience> audiences, IEnumerable<EventCaptured> events)
    {
        var list = events.ToList();
        var parts = new Dictionary<int, Calculation>();
        foreach (var counter in audiences.SelectMany(a => a.Counters.Values))
        {
            var part = Calculation.For(counter);
            foreach (var e in list)
                foreach (var observation in counter.Observe(e))
                    part.Observe(counter, observation, e.Timestamp);
            parts[counter.Id] = part;
        }
        return parts;
    }

    public static PersonFacts Facts(IEnumerable<ActiveAudience> audiences, Profile profile, DateTimeOffset now, IEnumerable<EventCaptured>? events = null,
        Func<int, IReadOnlyDictionary<string, CalculatedValue>>? calculated = null, Func<int, bool>? memberOf = null)
    {
        var parts = Counted(audiences, events ?? []);
        return new PersonFacts(profile, now, counter => [parts.GetValueOrDefault(counter.Id)], calculated ?? (_ => NoValues), memberOf ?? (_ => false));
    }

    public static PersonFacts Facts(ActiveAudience audience, Profile profile, DateTimeOffset now, IEnumerable<EventCaptured>? events = null,
        Func<int, IReadOnlyDictionary<string, CalculatedValue>>? calculated = null, Func<int, bool>? memberOf = null) =>
        Facts([audience], profile, now, events, calculated, memberOf);

    public static AudienceVerdict Verdict(ActiveAudience audience, Profile profile, DateTimeOffset now, IEnumerable<EventCaptured>? events = null,
        Func<int, IReadOnlyDictionary<string, CalculatedValue>>? calculated = null, Func<int, bool>? memberOf = null) =>
        AudienceEvaluation.Evaluate(audience, Facts(audience, profile, now, events, calculated, memberOf));

    /// <summary>Whether a person known in workspace 1 is a member of an audience of this one criterion.</summary>
    public static bool Holds(Criterion criterion, Profile profile, DateTimeOffset now, params EventCaptured[] events)
    {
        var verdict = Verdict(Chain(criterion), profile, now, events);
        verdict.Criteria.Single().Holds.ShouldBe(verdict.IsMember); // one criterion: the verdict is the criterion
        return verdict.IsMember;
    }

    public static IReadOnlyDictionary<string, CalculatedValue> Values(params (string Name, CalculatedValue Value)[] values) =>
        values.ToDictionary(v => v.Name, v => v.Value);
}
