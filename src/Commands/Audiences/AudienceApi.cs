using System.Security.Claims;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Forwarding;
using EventProfiles.Domain.Workspaces;
using Marten;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace EventProfiles.Commands.Audiences;

/// <summary>A person in an audience now (kept by the membership-change handler; counts give the audience's size).</summary>
public sealed class AudienceMember
{
    public string Id { get; set; } = "";
    public int AudienceId { get; set; }
    public long Mpid { get; set; }
    public DateTimeOffset Since { get; set; }
    /// <summary>The activation whose verdict made them a member (null: recorded before this was kept); an edit starts a new one.</summary>
    public Guid? Activation { get; set; }

    public static string IdFor(int audienceId, long mpid) => $"{audienceId}:{mpid}";
}

/// <summary>One membership change as it happened: who, which audience, added or removed, when and why.</summary>
public sealed class MembershipChangeRecord
{
    public Guid Id { get; set; }
    public int AudienceId { get; set; }
    public long Mpid { get; set; }
    public bool Added { get; set; }
    public DateTimeOffset At { get; set; }
    public string Reason { get; set; } = "";
}

/// <summary>
/// One edit of an audience, as it was saved: who, when, which fields changed, and the definition from then on (with the
/// activation it started when an evaluated audience was redefined). The audience page lists them.
/// </summary>
public sealed record AudienceRevision
{
    public Guid Id { get; init; }
    public int AudienceId { get; init; }
    public DateTimeOffset At { get; init; }
    public string By { get; init; } = "";
    public List<string> Changed { get; init; } = [];
    public List<int> WorkspaceIds { get; init; } = [];
    public List<Criterion> Criteria { get; init; } = [];
    public bool Reactivated { get; set; }
    public Guid? Activation { get; init; }

    /// <summary>The fields of <paramref name="body"/> that differ from the audience as it is (compared as JSON: criteria are records with lists).</summary>
    public static AudienceRevision Of(Audience audience, AudienceBody body, string by, DateTimeOffset at)
    {
        static string Json(object? value) => System.Text.Json.JsonSerializer.Serialize(value);
        var changed = new List<string>();
        if (body.Name is not null && body.Name != audience.Name) changed.Add("name");
        if (body.ExternalName is not null && body.ExternalName != audience.ExternalName) changed.Add("external_name");
        if (body.Workspaces is not null && !body.Workspaces.Distinct().Order().SequenceEqual(audience.WorkspaceIds.Order())) changed.Add("workspaces");
        if (body.Criteria is not null && Json(body.Criteria) != Json(audience.Criteria)) changed.Add("criteria");
        if (body.DateRange is not null && body.DateRange != audience.DateRange) changed.Add("date_range");
        return new AudienceRevision { Id = Guid.CreateVersion7(), AudienceId = audience.Id, At = at, By = by, Changed = changed };
    }
}

/// <summary>An audience sent to an output: its membership changes become add/delete messages there.</summary>
public sealed class AudienceConnection
{
    public string Id { get; set; } = "";
    public int AudienceId { get; set; }
    public string OutputId { get; set; } = "";
}

/// <summary>Create and update body. <c>workspaces</c> are workspace ids.</summary>
public sealed record AudienceBody(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("external_name")] string? ExternalName,
    [property: JsonPropertyName("workspaces")] IReadOnlyList<int>? Workspaces,
    [property: JsonPropertyName("criteria")] IReadOnlyList<Criterion>? Criteria,
    [property: JsonPropertyName("audience_type")] string? AudienceType = null,
    [property: JsonPropertyName("date_range")] DateRange? DateRange = null);

/// <summary>Progress of a standard audience's calculation.</summary>
public sealed record CalculationView(
    [property: JsonPropertyName("people_total")] long PeopleTotal,
    [property: JsonPropertyName("people_done")] long PeopleDone,
    [property: JsonPropertyName("events_read")] long EventsRead,
    [property: JsonPropertyName("percent")] double Percent,
    [property: JsonPropertyName("started_on")] DateTimeOffset StartedOn,
    [property: JsonPropertyName("finished_on")] DateTimeOffset? FinishedOn);

public sealed record AudienceWorkspace(
    [property: JsonPropertyName("id")] int Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("data_type")] string DataType,
    [property: JsonPropertyName("created_on")] DateTimeOffset CreatedOn);

public sealed record ConnectedOutput(
    [property: JsonPropertyName("provider_name")] string ProviderName,
    [property: JsonPropertyName("configurations")] IReadOnlyList<Dictionary<string, string>> Configurations,
    [property: JsonPropertyName("data_type")] string DataType);

/// <summary>
/// A real-time audience's data range, split as the product shows it once Lifetime Profiles is on (retention-and-privacy.md
/// §3): event criteria read event data of the real-time lookback (what initialises them), profile criteria and what the
/// audience keeps (memberships, counts since activation) last for the profile lifetime.
/// </summary>
public sealed record DataWindow(
    [property: JsonPropertyName("event_data_days")] int EventDataDays,
    [property: JsonPropertyName("profile_data_days")] int ProfileDataDays,
    [property: JsonPropertyName("lifetime_profiles")] bool LifetimeProfiles);

/// <summary>The audience object of §B2, plus <c>audience_type</c>, <c>data_range</c> and <c>criteria</c> (ours).</summary>
public sealed record AudienceResource(
    [property: JsonPropertyName("id")] int Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("external_name")] string ExternalName,
    [property: JsonPropertyName("size")] long Size,
    [property: JsonPropertyName("added_last_24_hours")] long AddedLast24Hours,
    [property: JsonPropertyName("dropped_last_24_hours")] long DroppedLast24Hours,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("is_calculated")] bool IsCalculated,
    [property: JsonPropertyName("audience_type")] string AudienceType,
    [property: JsonPropertyName("date_range")] DateRange? DateRange,
    [property: JsonPropertyName("data_range")] DataWindow? DataRange,
    [property: JsonPropertyName("calculation")] CalculationView? Calculation,
    [property: JsonPropertyName("workspaces")] IReadOnlyList<AudienceWorkspace> Workspaces,
    [property: JsonPropertyName("connected_outputs")] IReadOnlyList<ConnectedOutput> ConnectedOutputs,
    [property: JsonPropertyName("criteria")] IReadOnlyList<Criterion> Criteria,
    [property: JsonPropertyName("created_by")] string CreatedBy,
    [property: JsonPropertyName("last_modified_by")] string LastModifiedBy,
    [property: JsonPropertyName("last_modified_on")] DateTimeOffset LastModifiedOn,
    [property: JsonPropertyName("data_type")] string DataType)
{
    public static async Task<AudienceResource> ViewAsync(Audience audience, IQuerySession session, WorkspaceDirectory directory, CalculatedAttributeLimits limits,
        DateTimeOffset now, CancellationToken ct)
    {
        var size = await session.Query<AudienceMember>().CountAsync(m => m.AudienceId == audience.Id, ct);
        var since = now.AddHours(-24);
        var added = await session.Query<MembershipChangeRecord>().CountAsync(r => r.AudienceId == audience.Id && r.Added && r.At > since, ct);
        var dropped = await session.Query<MembershipChangeRecord>().CountAsync(r => r.AudienceId == audience.Id && !r.Added && r.At > since, ct);
        var connections = await session.Query<AudienceConnection>().Where(c => c.AudienceId == audience.Id).ToListAsync(ct);
        var outputs = connections.Count == 0 ? [] : await session.LoadManyAsync<Output>(ct, connections.Select(c => c.OutputId).ToArray());
        CalculationView? calculation = null;
        if (audience.Kind == AudienceKinds.Standard && await session.LoadAsync<StandardCalculation>(audience.Id, ct) is { } c && c.Activation == audience.Activation)
            calculation = new CalculationView(c.PeopleTotal, c.PeopleDone, c.EventsRead, Percent(c.PeopleDone, c.PeopleTotal, c.FinishedAt), c.StartedAt, c.FinishedAt);
        // A real-time audience's evaluation of everyone already known (its counters' replays come before it).
        if (audience.Kind == AudienceKinds.RealTime && audience.Status == AudienceStatus.Active
            && await session.LoadAsync<AudienceInitialisation>(audience.Id, ct) is { } e && e.Activation == audience.Activation)
            calculation = new CalculationView(e.PeopleTotal, e.PeopleDone, 0, Percent(e.PeopleDone, e.PeopleTotal, e.FinishedAt), e.StartedAt, e.FinishedAt);
        var status = StatusOf(audience, now, evaluating: calculation is { FinishedOn: null });
        DataWindow? window = null;
        if (audience.Kind == AudienceKinds.RealTime && await Privacy.RetentionSettingsStore.LoadAsync(session, ct) is { } retention)
            window = new DataWindow(limits.RealTimeLookbackDays, retention.ProfileLifetimeDays, retention.LifetimeProfiles);
        return new AudienceResource(audience.Id, audience.Name, audience.ExternalName, size, added, dropped,
            status, audience.Status is AudienceStatus.Active or AudienceStatus.Ready && status != "calculating", audience.Kind, audience.DateRange, window, calculation,
            audience.WorkspaceIds.Select(w => new AudienceWorkspace(w, directory.WorkspaceById(w)?.Name ?? "", "workspace", audience.CreatedOn)).ToList(),
            outputs.Select(o => new ConnectedOutput(o.Kind.ToString().ToLowerInvariant(), [new() { ["name"] = o.Name }], "audience_output")).ToList(),
            audience.Criteria, audience.CreatedBy, audience.LastModifiedBy, audience.LastModifiedOn, "audience");
    }

    /// <summary>draft, calculating, active, inactive; standard audiences: ready, then expired 30 days after calculation.</summary>
    /// <param name="evaluating">
    /// An active real-time audience whose evaluation of everyone already known is still under way: shown as calculating,
    /// as its memberships are not complete yet (the projection already evaluates it on people's new events).
    /// </param>
    public static string StatusOf(Audience audience, DateTimeOffset now, bool evaluating = false) =>
        audience.Status == AudienceStatus.Ready && audience.CalculatedOn is { } on && now - on > AudienceKinds.StandardLifetime ? "expired"
        : audience.Status == AudienceStatus.Active && evaluating ? "calculating"
        : audience.Status.ToString().ToLowerInvariant();

    private static double Percent(long done, long total, DateTimeOffset? finishedAt) =>
        finishedAt is not null ? 100 : total == 0 ? 0 : Math.Min(99.9, Math.Round(100.0 * done / total, 1));
}

/// <summary>
/// The account a Platform API v1 call names (<c>accountId</c>, required), checked against the bearer token: a token
/// sees the audiences of its workspaces only.
/// </summary>
public sealed record AudienceScope(int AccountId, IReadOnlySet<int> Workspaces, string Caller, ProblemDetails? Problem)
{
    public static AudienceScope For(int? accountId, int? workspaceId, ClaimsPrincipal user, WorkspaceDirectory directory)
    {
        var caller = user.Identity?.Name ?? "unknown";
        if (accountId is not { } account)
            return new(0, new HashSet<int>(), caller, ApiProblems.Invalid([new FieldError("accountId", "is required (query string).")]));
        var visible = directory.Workspaces.Where(w => w.AccountId == account && user.MayRead(w.Id)).Select(w => w.Id).ToHashSet();
        if (workspaceId is { } ws)
        {
            if (directory.WorkspaceById(ws) is not { } workspace || workspace.AccountId != account)
                return new(account, visible, caller, ApiProblems.Create(StatusCodes.Status404NotFound, "Not found", [new FieldError("workspaceId", $"There is no workspace {ws} in account {account}.", "NOT_FOUND")]));
            if (!visible.Contains(ws))
                return new(account, visible, caller, ApiProblems.Create(StatusCodes.Status403Forbidden, "Forbidden", [new FieldError("workspaceId", $"These credentials may not use workspace {ws}.", "FORBIDDEN")]));
            visible = [ws];
        }
        else if (visible.Count == 0)
            return new(account, visible, caller, ApiProblems.Create(StatusCodes.Status403Forbidden, "Forbidden", [new FieldError("accountId", $"These credentials may not use account {account}.", "FORBIDDEN")]));
        return new(account, visible, caller, null);
    }

    public ProblemDetails Check() => Problem ?? WolverineContinue.NoProblems;

    /// <summary>An audience is visible when all its workspaces are the caller's.</summary>
    public bool Sees(Audience audience) => audience.WorkspaceIds.All(Workspaces.Contains);

    public static IResult NotFound(int id) =>
        Results.Problem(ApiProblems.Create(StatusCodes.Status404NotFound, "Not found", [new FieldError("id", $"There is no audience {id} in this account.", "NOT_FOUND")]));

    public static IResult Conflict(string field, string message) =>
        Results.Problem(ApiProblems.Create(StatusCodes.Status409Conflict, "Conflict", [new FieldError(field, message, "CONFLICT")]));
}
