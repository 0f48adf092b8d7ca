using EventProfiles.Commands.Api;
using EventProfiles.Domain.Workspaces;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EventProfiles.Commands.Security;

/// <summary>
/// Authorization policies beyond "signed in": a bearer token's scope per endpoint (policy name = the scope, e.g.
/// <c>[Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.AudiencesWrite)]</c>), and
/// admin operations that cover every workspace (<see cref="EveryWorkspace"/>). A refusal is a 403 ProblemDetails
/// naming what is missing, whichever scheme signed the caller in.
/// </summary>
public static class ApiAuthorization
{
    /// <summary>Org-wide admin operations (projections, retention): only for users not limited to some workspaces.</summary>
    public const string EveryWorkspace = "admin:every-workspace";

    public static IServiceCollection AddApiAuthorization(this IServiceCollection services)
    {
        services.AddAuthorization(o =>
        {
            foreach (var scope in ApiScopes.All)
                o.AddPolicy(scope, p => p.RequireAuthenticatedUser().AddRequirements(new ScopeRequirement(scope)));
            o.AddPolicy(EveryWorkspace, p => p.RequireAuthenticatedUser().AddRequirements(new EveryWorkspaceRequirement()));
        });
        services.AddSingleton<IAuthorizationHandler, ScopeHandler>();
        services.AddSingleton<IAuthorizationHandler, EveryWorkspaceHandler>();
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, ProblemAuthorizationResultHandler>();
        return services;
    }
}

/// <summary>A refusal that says which field of the request (or credential) falls short, and why.</summary>
public sealed class FieldFailureReason(IAuthorizationHandler handler, string field, string message) : AuthorizationFailureReason(handler, message)
{
    public string Field { get; } = field;
}

public sealed record ScopeRequirement(string Scope) : IAuthorizationRequirement;

public sealed class ScopeHandler : AuthorizationHandler<ScopeRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeRequirement requirement)
    {
        if (context.User.Identity?.IsAuthenticated != true) return Task.CompletedTask; // a 401, not a 403
        var granted = context.User.Scopes();
        if (granted.Contains(requirement.Scope)) context.Succeed(requirement);
        else context.Fail(new FieldFailureReason(this, "scope",
            $"This endpoint needs the scope \"{requirement.Scope}\"; the token has {(granted.Count == 0 ? "none" : $"\"{string.Join(" ", granted.Order(StringComparer.Ordinal))}\"")}."));
        return Task.CompletedTask;
    }
}

public sealed record EveryWorkspaceRequirement : IAuthorizationRequirement;

public sealed class EveryWorkspaceHandler : AuthorizationHandler<EveryWorkspaceRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, EveryWorkspaceRequirement requirement)
    {
        if (context.User.Identity?.IsAuthenticated != true) return Task.CompletedTask;
        if (AdminAccess.Of(context.User).SeesAll) context.Succeed(requirement);
        else context.Fail(new FieldFailureReason(this, "workspace_id", AdminAccess.Of(context.User).OrgWideMessage));
        return Task.CompletedTask;
    }
}

/// <summary>Our policies' refusals as ProblemDetails (the schemes' own forbid answers carry no body).</summary>
public sealed class ProblemAuthorizationResultHandler : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Forbidden && authorizeResult.AuthorizationFailure?.FailureReasons.OfType<FieldFailureReason>().ToList() is { Count: > 0 } reasons)
            return ApiProblems.WriteAsync(context, ApiProblems.Create(StatusCodes.Status403Forbidden, "Forbidden",
                reasons.Select(r => new FieldError(r.Field, r.Message, "FORBIDDEN")).ToList()));
        return _default.HandleAsync(next, context, policy, authorizeResult);
    }
}
