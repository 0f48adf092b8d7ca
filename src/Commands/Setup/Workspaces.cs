using System.Security.Claims;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Setup;
using FluentValidation;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Wolverine.Http;

namespace EventProfiles.Commands.Setup;

/// <summary>A workspace as the admin API takes it; the id and account may be left out (next free id, the org's first account).</summary>
public sealed record WorkspaceBody(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("id")] int? Id = null,
    [property: JsonPropertyName("account_id")] int? AccountId = null)
{
    public sealed class Validator : AbstractValidator<WorkspaceBody>
    {
        public Validator()
        {
            RuleFor(w => w.Name).NotEmpty().WithMessage("is required.").MaximumLength(200).WithMessage("is at most 200 characters.").OverridePropertyName("name");
            RuleFor(w => w.Id).InclusiveBetween(1, 1_000_000_000).WithMessage("must be a positive number.").When(w => w.Id is not null).OverridePropertyName("id");
            RuleFor(w => w.AccountId).InclusiveBetween(1, 1_000_000_000).WithMessage("must be a positive number.").When(w => w.AccountId is not null).OverridePropertyName("account_id");
        }
    }
}

public static class WorkspaceViews
{
    public static object View(SetupWorkspace w, int orgId) => new { id = w.Id, name = w.Name, account_id = w.AccountId, org_id = orgId, created_at = w.CreatedAt };

    public static List<FieldError> Errors<T>(IValidator<T> validator, T body) =>
        [.. validator.Validate(body).Errors.Select(e => new FieldError(e.PropertyName, e.ErrorMessage))];
}

public static class ListWorkspacesEndpoint
{
    [WolverineGet("/api/admin/workspaces", Name = "List workspaces")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Get(IQuerySession session, ClaimsPrincipal user, CancellationToken ct)
    {
        var access = AdminAccess.Of(user);
        var org = await session.LoadAsync<SetupOrg>(SetupOrg.TheId, ct);
        var workspaces = await session.Query<SetupWorkspace>().ToListAsync(ct);
        return Results.Ok(workspaces.Where(w => access.Sees(w.Id)).OrderBy(w => w.Id).Select(w => WorkspaceViews.View(w, org!.OrgId)));
    }
}

public static class GetWorkspaceEndpoint
{
    [WolverineGet("/api/admin/workspaces/{id}", Name = "Get a workspace")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Get(int id, IQuerySession session, ClaimsPrincipal user, CancellationToken ct)
    {
        var org = await session.LoadAsync<SetupOrg>(SetupOrg.TheId, ct);
        return AdminAccess.Of(user).Sees(id) && await session.LoadAsync<SetupWorkspace>(id, ct) is { } w
            ? Results.Ok(WorkspaceViews.View(w, org!.OrgId))
            : SetupApi.NotFound("workspace", SetupApi.Text(id));
    }
}

public static class CreateWorkspaceEndpoint
{
    /// <summary>Only an admin of every workspace creates one (a workspace-limited admin would not see it).</summary>
    [WolverinePost("/api/admin/workspaces", Name = "Create a workspace")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession, Policy = ApiAuthorization.EveryWorkspace)]
    public static Task<IResult> Post(WorkspaceBody body, IValidator<WorkspaceBody> validator, IDocumentStore store, SetupRefresh refresh,
        ClaimsPrincipal user, TimeProvider clock, CancellationToken ct) =>
        SetupApi.ChangeAsync(store, refresh, user, clock, async (session, org, now) =>
        {
            if (WorkspaceViews.Errors(validator, body) is [_, ..] errors) return SetupOutcome.Refused(SetupApi.Invalid(errors));
            var existing = await session.Query<SetupWorkspace>().ToListAsync(ct);
            if (body.Id is { } taken && existing.Any(w => w.Id == taken))
                return SetupOutcome.Refused(SetupApi.Conflict("id", $"workspace {taken} exists already."));
            if (existing.FirstOrDefault(w => w.Name == body.Name) is { } same)
                return SetupOutcome.Refused(SetupApi.Conflict("name", $"is the name of workspace {same.Id} already."));
            var workspace = new SetupWorkspace(body.Id ?? (existing.Count == 0 ? 1 : existing.Max(w => w.Id) + 1), body.Name!,
                body.AccountId ?? (existing.Count == 0 ? 1 : existing.OrderBy(w => w.Id).First().AccountId), now);
            session.Insert(workspace);
            return new SetupOutcome(Results.Created($"/api/admin/workspaces/{workspace.Id}", WorkspaceViews.View(workspace, org.OrgId)),
                SetupChanges.WorkspaceCreated, $"workspace {workspace.Id}", $"name '{workspace.Name}', account {workspace.AccountId}");
        }, ct);
}

public static class RenameWorkspaceEndpoint
{
    [WolverinePut("/api/admin/workspaces/{id}", Name = "Rename a workspace")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession, Policy = ApiAuthorization.EveryWorkspace)]
    public static Task<IResult> Put(int id, WorkspaceBody body, IValidator<WorkspaceBody> validator, IDocumentStore store, SetupRefresh refresh,
        ClaimsPrincipal user, TimeProvider clock, CancellationToken ct) =>
        SetupApi.ChangeAsync(store, refresh, user, clock, async (session, org, now) =>
        {
            if (await session.LoadAsync<SetupWorkspace>(id, ct) is not { } workspace) return SetupOutcome.Refused(SetupApi.NotFound("workspace", SetupApi.Text(id)));
            if (WorkspaceViews.Errors(validator, body) is [_, ..] errors) return SetupOutcome.Refused(SetupApi.Invalid(errors));
            if (body.Id is { } other && other != id) return SetupOutcome.Refused(SetupApi.Invalid(new FieldError("id", "cannot change.")));
            if (body.AccountId is { } account && account != workspace.AccountId)
                return SetupOutcome.Refused(SetupApi.Invalid(new FieldError("account_id", "cannot change.")));
            if (body.Name == workspace.Name) return SetupOutcome.Refused(Results.Ok(WorkspaceViews.View(workspace, org.OrgId))); // nothing changes
            var renamed = workspace with { Name = body.Name! };
            session.Store(renamed);
            return new SetupOutcome(Results.Ok(WorkspaceViews.View(renamed, org.OrgId)), SetupChanges.WorkspaceRenamed, $"workspace {id}",
                $"'{workspace.Name}' → '{renamed.Name}'");
        }, ct);
}
