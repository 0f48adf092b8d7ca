using System.Security.Claims;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Workspaces;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace EventProfiles.Commands.CalculatedAttributes;

/// <summary>
/// The workspace a Platform API call names, checked against the bearer token (a token sees only its workspaces), and
/// who is calling (the token's client id, for the audit fields).
/// </summary>
public sealed record PlatformScope(int WorkspaceId, string Caller, ProblemDetails? Problem)
{
    public static PlatformScope For(int workspaceId, ClaimsPrincipal user, WorkspaceDirectory directory)
    {
        var caller = user.Identity?.Name ?? "unknown";
        if (directory.WorkspaceById(workspaceId) is null)
            return new(workspaceId, caller, ApiProblems.Create(StatusCodes.Status404NotFound, "Not found", [new FieldError("workspaceId", $"There is no workspace {workspaceId}.", "NOT_FOUND")]));
        if (!user.MayRead(workspaceId))
            return new(workspaceId, caller, ApiProblems.Create(StatusCodes.Status403Forbidden, "Forbidden", [new FieldError("workspaceId", $"These credentials may not use workspace {workspaceId}.", "FORBIDDEN")]));
        return new(workspaceId, caller, null);
    }

    public ProblemDetails Check() => Problem ?? WolverineContinue.NoProblems;

    public static IResult NotFound(int id) =>
        Results.Problem(ApiProblems.Create(StatusCodes.Status404NotFound, "Not found", [new FieldError("id", $"There is no calculated attribute {id} in this workspace.", "NOT_FOUND")]));

    public static IResult Conflict(string field, string message) =>
        Results.Problem(ApiProblems.Create(StatusCodes.Status409Conflict, "Conflict", [new FieldError(field, message, "CONFLICT")]));
}

/// <summary>Body of create (POST) and update (PUT): the name, the description and the draft definition.</summary>
public sealed record CalculatedAttributeBody(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("draft_definition")] Definition? DraftDefinition);

/// <summary>How far the replay that initialises the active definition got (EventProfiles extension).</summary>
public sealed record InitialisationResource(
    [property: JsonPropertyName("events_total")] long EventsTotal,
    [property: JsonPropertyName("events_done")] long EventsDone,
    [property: JsonPropertyName("people")] long People,
    [property: JsonPropertyName("percent")] double Percent,
    [property: JsonPropertyName("started_on")] DateTimeOffset StartedOn,
    [property: JsonPropertyName("finished_on")] DateTimeOffset? FinishedOn);

/// <summary>
/// A calculated attribute as the Platform API returns it (§A1), plus <c>status</c> (draft, calculating, ready, inactive)
/// and <c>initialization</c> progress, which mParticle shows only in its UI, and <c>calculation_mode</c> (issue 16 §7):
/// <c>sync</c> (count, sum, minimum, maximum, last value, last timestamp, unique list: the batch's own events count in
/// its enrichment and in a read right after its 202) or <c>async</c> (the others), as the product documents per type.
/// </summary>
public sealed record CalculatedAttributeResource(
    [property: JsonPropertyName("id")] int Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("draft_definition")] Definition? DraftDefinition,
    [property: JsonPropertyName("active_definition")] Definition? ActiveDefinition,
    [property: JsonPropertyName("audience_count")] int AudienceCount,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("calculation_mode")] string CalculationMode,
    [property: JsonPropertyName("initialization")] InitialisationResource? Initialization,
    [property: JsonPropertyName("created_by")] string CreatedBy,
    [property: JsonPropertyName("created_on")] DateTimeOffset CreatedOn,
    [property: JsonPropertyName("last_modified_by")] string LastModifiedBy,
    [property: JsonPropertyName("last_modified_on")] DateTimeOffset LastModifiedOn,
    [property: JsonPropertyName("activated_by")] string? ActivatedBy,
    [property: JsonPropertyName("activated_on")] DateTimeOffset? ActivatedOn)
{
    public static CalculatedAttributeResource From(CalculatedAttribute ca, Initialisation? init)
    {
        var current = init is not null && init.Activation == ca.Activation ? init : null;
        var status = StatusOf(ca, init);
        var progress = current is null ? null : new InitialisationResource(
            current.EventsTotal, current.EventsDone, current.People,
            current.IsFinished ? 100 : current.EventsTotal == 0 ? 0 : Math.Round(100.0 * current.EventsDone / current.EventsTotal, 1),
            current.StartedAt, current.FinishedAt);
        return new CalculatedAttributeResource(ca.Id, ca.Name, ca.Description, ca.DraftDefinition, ca.ActiveDefinition, 0, status, CalculationModes.Of(ca), progress,
            ca.CreatedBy, ca.CreatedOn, ca.LastModifiedBy, ca.LastModifiedOn, ca.ActivatedBy, ca.ActivatedOn);
    }

    /// <summary>draft, calculating (activated, initialisation not finished), ready or inactive.</summary>
    public static string StatusOf(CalculatedAttribute ca, Initialisation? init) => ca.Status switch
    {
        CalculatedAttributeStatus.Draft => "draft",
        CalculatedAttributeStatus.Inactive => "inactive",
        _ => init is not null && init.Activation == ca.Activation && init.IsFinished ? "ready" : "calculating",
    };
}
