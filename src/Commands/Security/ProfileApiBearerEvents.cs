using EventProfiles.Commands.Api;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http;

namespace EventProfiles.Commands.Security;

/// <summary>Gives the Profile API's 401 the same ProblemDetails body as every other error.</summary>
public static class ProfileApiBearerEvents
{
    public static JwtBearerEvents Create() => new()
    {
        OnChallenge = async context =>
        {
            context.HandleResponse();
            context.Response.Headers.WWWAuthenticate = "Bearer";
            var reason = context.AuthenticateFailure is null
                ? "Send a bearer token from POST /oauth/token."
                : "The bearer token is invalid or expired; get a new one from POST /oauth/token.";
            await ApiProblems.WriteAsync(context.HttpContext,
                ApiProblems.Create(StatusCodes.Status401Unauthorized, "Unauthorized", [new FieldError("Authorization", reason, "UNAUTHORIZED")]));
        },
    };
}
