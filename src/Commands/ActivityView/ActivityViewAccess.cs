using System.Security.Claims;
using System.Text.Json;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Wolverine.Http;

namespace EventProfiles.Commands.ActivityView;

/// <summary>The UI's data API speaks snake_case JSON, like the rest of our APIs; MPIDs travel as strings (64-bit).</summary>
public static class ActivityViewJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public static IResult Ok<T>(T value) => Results.Json(value, Options);

    public static IResult NotFound(string field, string message) =>
        Results.Problem(ApiProblems.Create(StatusCodes.Status404NotFound, "Not found", [new FieldError(field, message, "NOT_FOUND")]));

    public static IResult Invalid(string field, string message) =>
        Results.Problem(ApiProblems.Invalid([new FieldError(field, message)]));
}

public sealed record WorkspaceRef(int Id, string Name);

/// <summary>Which workspaces a signed-in user sees, and which of a person's data that leaves them.</summary>
public sealed record ActivityViewAccess(IReadOnlyList<WorkspaceRef> Workspaces)
{
    public static ActivityViewAccess For(ClaimsPrincipal user, WorkspaceDirectory directory)
    {
        var visible = user.VisibleWorkspaces();
        return new ActivityViewAccess(directory.Workspaces
            .Where(w => visible is null || visible.Contains(w.Id))
            .Select(w => new WorkspaceRef(w.Id, w.Name)).OrderBy(w => w.Id).ToList());
    }

    public int[] Ids => Workspaces.Select(w => w.Id).ToArray();

    public bool Sees(int workspaceId) => Workspaces.Any(w => w.Id == workspaceId);

    /// <summary>A person is visible when they have data in a workspace the user sees.</summary>
    public bool Sees(Profile profile) => profile.Workspaces.Keys.Any(Sees);

    public string NameOf(int workspaceId) => Workspaces.FirstOrDefault(w => w.Id == workspaceId)?.Name ?? $"Workspace {workspaceId}";
}

/// <summary><c>GET /ui/api/session</c>: who is signed in and what they see (the UI's header and workspace filter).</summary>
public static class SessionEndpoint
{
    public sealed record SessionView(string User, IReadOnlyList<WorkspaceRef> Workspaces);

    [WolverineGet("/ui/api/session", Name = "Web UI: current session")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static IResult Get(ClaimsPrincipal user, WorkspaceDirectory directory) =>
        ActivityViewJson.Ok(new SessionView(user.Identity?.Name ?? "", ActivityViewAccess.For(user, directory).Workspaces));
}
