using EventProfiles.Commands.Api;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using EventProfiles.Domain.Workspaces;

namespace EventProfiles.Commands.Security;

/// <summary>
/// Every bearer request checks its client against the directory as configured now: a removed client's tokens are
/// refused at once, and its grant shrinks with its configuration. The Profile API's 401 has the same ProblemDetails
/// body as every other error.
/// </summary>
public static class ProfileApiBearerEvents
{
    public const string ClientRemoved = "The client of this token no longer exists.";

    public static JwtBearerEvents Create() => new()
    {
        OnTokenValidated = context =>
        {
            var directory = context.HttpContext.RequestServices.GetRequiredService<WorkspaceDirectory>();
            if (ProfileApiClaims.CurrentGrant(context.Principal!, directory) is { } current) context.Principal = current;
            else context.Fail(ClientRemoved);
            return Task.CompletedTask;
        },
        OnChallenge = async context =>
        {
            context.HandleResponse();
            context.Response.Headers.WWWAuthenticate = "Bearer";
            var reason = context.AuthenticateFailure is null ? "Send a bearer token from POST /oauth/token."
                : context.AuthenticateFailure.Message == ClientRemoved ? ClientRemoved
                : "The bearer token is invalid or expired; get a new one from POST /oauth/token.";
            await ApiProblems.WriteAsync(context.HttpContext,
                ApiProblems.Create(StatusCodes.Status401Unauthorized, "Unauthorized", [new FieldError("Authorization", reason, "UNAUTHORIZED")]));
        },
    };
}
