using System.Security.Claims;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Setup;
using EventProfiles.Domain.Workspaces;
using FluentValidation;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Wolverine.Http;

namespace EventProfiles.Commands.Setup;

/// <summary>A Profile/Platform API client as the admin API takes it (the secret is made by the server; no client_id: one is made).</summary>
public sealed record ApiClientBody(
    [property: JsonPropertyName("client_id")] string? ClientId,
    [property: JsonPropertyName("workspaces")] List<int>? Workspaces,
    [property: JsonPropertyName("scopes")] List<string>? Scopes = null)
{
    public sealed class Validator : AbstractValidator<ApiClientBody>
    {
        public Validator()
        {
            RuleFor(c => c.ClientId).Matches("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$").WithMessage("must be 1–100 letters, digits, '.', '_' or '-'.")
                .When(c => c.ClientId is not null).OverridePropertyName("client_id");
            RuleFor(c => c.Workspaces).NotEmpty().WithMessage("must list at least one workspace.").OverridePropertyName("workspaces");
            RuleForEach(c => c.Scopes).Must(s => ApiScopes.All.Contains(s)).WithMessage($"is not a scope; scopes: {string.Join(", ", ApiScopes.All)}.")
                .OverridePropertyName("scopes");
        }
    }
}

/// <summary>What may change on a client (PATCH): its workspaces and scopes.</summary>
public sealed record ApiClientPatch(
    [property: JsonPropertyName("workspaces")] List<int>? Workspaces = null,
    [property: JsonPropertyName("scopes")] List<string>? Scopes = null)
{
    public sealed class Validator : AbstractValidator<ApiClientPatch>
    {
        public Validator()
        {
            RuleFor(c => c.Workspaces).NotEmpty().WithMessage("must list at least one workspace.").When(c => c.Workspaces is not null).OverridePropertyName("workspaces");
            RuleForEach(c => c.Scopes).Must(s => ApiScopes.All.Contains(s)).WithMessage($"is not a scope; scopes: {string.Join(", ", ApiScopes.All)}.")
                .OverridePropertyName("scopes");
        }
    }
}

public static class ApiClientViews
{
    public static Dictionary<string, object?> View(SetupApiClient c) => new()
    {
        ["client_id"] = c.Id, ["workspaces"] = c.Workspaces, ["scopes"] = c.Scopes.Count > 0 ? c.Scopes : ApiScopes.Default.ToList(),
        ["created_at"] = c.CreatedAt, ["secrets"] = c.Secrets.OrderBy(s => s.CreatedAt).Select(SetupApi.SecretView).ToList(),
    };

    /// <summary>A client's secrets under the shared rules; it always keeps one (it could not get a token without).</summary>
    public static SecretOwner Secrets(SetupApiClient client) => new(client.Secrets, "client", "a", $"api client {client.Id}", $"/api/admin/api-clients/{client.Id}",
        SetupChanges.ApiClientSecretAdded, SetupChanges.ApiClientSecretRevoked, MayGiveUpLast: false);

    /// <summary>A client spanning several workspaces is visible only to a user of all of them.</summary>
    public static async Task<SetupApiClient?> LoadVisibleAsync(IQuerySession session, string id, ClaimsPrincipal user, CancellationToken ct) =>
        await session.LoadAsync<SetupApiClient>(id, ct) is { } client && AdminAccess.Of(user).SeesAllOf(client.Workspaces) ? client : null;

    /// <summary>Each workspace must exist and be the user's own (403 naming it).</summary>
    public static async Task<IResult?> CheckWorkspacesAsync(IQuerySession session, IReadOnlyList<int> workspaces, ClaimsPrincipal user, CancellationToken ct)
    {
        var access = AdminAccess.Of(user);
        for (var i = 0; i < workspaces.Count; i++)
        {
            if (access.MayChange(workspaces[i], $"workspaces[{i}]") is { } forbidden) return Results.Problem(forbidden);
            if (await session.LoadAsync<SetupWorkspace>(workspaces[i], ct) is null)
                return SetupApi.Invalid(new FieldError($"workspaces[{i}]", $"there is no workspace {workspaces[i]}."));
        }
        return null;
    }
}

public static class ListApiClientsEndpoint
{
    [WolverineGet("/api/admin/api-clients", Name = "List API clients")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Get(IQuerySession session, ClaimsPrincipal user, CancellationToken ct)
    {
        var access = AdminAccess.Of(user);
        var clients = await session.Query<SetupApiClient>().ToListAsync(ct);
        return Results.Ok(clients.Where(c => access.SeesAllOf(c.Workspaces)).OrderBy(c => c.Id, StringComparer.Ordinal).Select(ApiClientViews.View));
    }
}

public static class GetApiClientEndpoint
{
    [WolverineGet("/api/admin/api-clients/{clientId}", Name = "Get an API client")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Get(string clientId, IQuerySession session, ClaimsPrincipal user, CancellationToken ct) =>
        await ApiClientViews.LoadVisibleAsync(session, clientId, user, ct) is { } client ? Results.Ok(ApiClientViews.View(client)) : SetupApi.NotFound("API client", clientId);
}

public static class CreateApiClientEndpoint
{
    [WolverinePost("/api/admin/api-clients", Name = "Create an API client (its secret is shown once)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static Task<IResult> Post(ApiClientBody body, IValidator<ApiClientBody> validator, IDocumentStore store, SetupRefresh refresh, SetupSecrets secrets,
        ClaimsPrincipal user, TimeProvider clock, CancellationToken ct) =>
        SetupApi.ChangeAsync(store, refresh, user, clock, async (session, _, now) =>
        {
            if (WorkspaceViews.Errors(validator, body) is [_, ..] errors) return SetupOutcome.Refused(SetupApi.Invalid(errors));
            if (await ApiClientViews.CheckWorkspacesAsync(session, body.Workspaces!, user, ct) is { } refused) return SetupOutcome.Refused(refused);
            var id = body.ClientId ?? $"client-{SetupSecrets.NewId()}";
            if (await session.LoadAsync<SetupApiClient>(id, ct) is not null)
                return SetupOutcome.Refused(SetupApi.Conflict("client_id", $"a client '{id}' exists already."));
            var first = secrets.Issue(now);
            var client = new SetupApiClient(id, [.. body.Workspaces!.Distinct().Order()], [.. (body.Scopes ?? []).Distinct().Order(StringComparer.Ordinal)], [first.Stored], now);
            session.Insert(client);
            return new SetupOutcome(Results.Created($"/api/admin/api-clients/{id}", SetupSecrets.ShownOnce(ApiClientViews.View(client), "client_secret", first)),
                SetupChanges.ApiClientCreated, $"api client {id}",
                $"workspaces {string.Join(",", client.Workspaces)}; scopes {string.Join(" ", client.Scopes)}; secret {first.Stored.Id}");
        }, ct);
}

public static class UpdateApiClientEndpoint
{
    /// <summary>Changed scopes or workspaces apply to the client's existing tokens from their next request (the grant is checked on every request).</summary>
    [WolverinePatch("/api/admin/api-clients/{clientId}", Name = "Change an API client's workspaces or scopes")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static Task<IResult> Patch(string clientId, ApiClientPatch body, IValidator<ApiClientPatch> validator, IDocumentStore store, SetupRefresh refresh,
        ClaimsPrincipal user, TimeProvider clock, CancellationToken ct) =>
        SetupApi.ChangeAsync(store, refresh, user, clock, async (session, _, _) =>
        {
            if (await ApiClientViews.LoadVisibleAsync(session, clientId, user, ct) is not { } client) return SetupOutcome.Refused(SetupApi.NotFound("API client", clientId));
            if (WorkspaceViews.Errors(validator, body) is [_, ..] errors) return SetupOutcome.Refused(SetupApi.Invalid(errors));
            if (body.Workspaces is { } workspaces && await ApiClientViews.CheckWorkspacesAsync(session, workspaces, user, ct) is { } refused)
                return SetupOutcome.Refused(refused);
            var changed = client with
            {
                Workspaces = body.Workspaces is { } w ? [.. w.Distinct().Order()] : client.Workspaces,
                Scopes = body.Scopes is { } s ? [.. s.Distinct().Order(StringComparer.Ordinal)] : client.Scopes,
            };
            session.Store(changed);
            return new SetupOutcome(Results.Ok(ApiClientViews.View(changed)), SetupChanges.ApiClientChanged, $"api client {clientId}",
                $"workspaces {string.Join(",", changed.Workspaces)}; scopes {string.Join(" ", changed.Scopes)}");
        }, ct);
}

public static class DeleteApiClientEndpoint
{
    /// <summary>Its tokens are refused from their next request on, on every node within a second or two.</summary>
    [WolverineDelete("/api/admin/api-clients/{clientId}", Name = "Delete an API client")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static Task<IResult> Delete(string clientId, IDocumentStore store, SetupRefresh refresh, ClaimsPrincipal user, TimeProvider clock, CancellationToken ct) =>
        SetupApi.ChangeAsync(store, refresh, user, clock, async (session, _, _) =>
        {
            if (await ApiClientViews.LoadVisibleAsync(session, clientId, user, ct) is null) return SetupOutcome.Refused(SetupApi.NotFound("API client", clientId));
            session.Delete<SetupApiClient>(clientId);
            return new SetupOutcome(Results.NoContent(), SetupChanges.ApiClientDeleted, $"api client {clientId}");
        }, ct);
}

public static class AddApiClientSecretEndpoint
{
    [WolverinePost("/api/admin/api-clients/{clientId}/secrets", Name = "Add a secret to an API client (rotation; shown once)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static Task<IResult> Post(string clientId, IDocumentStore store, SetupRefresh refresh, SetupSecrets secrets, ClaimsPrincipal user,
        TimeProvider clock, CancellationToken ct) =>
        SetupApi.ChangeAsync(store, refresh, user, clock, async (session, _, now) =>
        {
            if (await ApiClientViews.LoadVisibleAsync(session, clientId, user, ct) is not { } client) return SetupOutcome.Refused(SetupApi.NotFound("API client", clientId));
            return secrets.Add(ApiClientViews.Secrets(client), now, kept => session.Store(client with { Secrets = kept }));
        }, ct);
}

public static class RevokeApiClientSecretEndpoint
{
    [WolverineDelete("/api/admin/api-clients/{clientId}/secrets/{secretId}", Name = "Revoke an API client's secret")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static Task<IResult> Delete(string clientId, string secretId, IDocumentStore store, SetupRefresh refresh, ClaimsPrincipal user,
        TimeProvider clock, CancellationToken ct) =>
        SetupApi.ChangeAsync(store, refresh, user, clock, async (session, _, _) =>
        {
            if (await ApiClientViews.LoadVisibleAsync(session, clientId, user, ct) is not { } client) return SetupOutcome.Refused(SetupApi.NotFound("API client", clientId));
            return SetupSecrets.Revoke(ApiClientViews.Secrets(client), secretId, kept => session.Store(client with { Secrets = kept }));
        }, ct);
}
