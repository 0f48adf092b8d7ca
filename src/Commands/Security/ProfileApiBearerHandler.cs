using System.Text.Encodings.Web;
using EventProfiles.Commands.Api;
using EventProfiles.Domain.Workspaces;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EventProfiles.Commands.Security;

/// <summary>
/// The Profile API's bearer tokens (profile-api.md §5): the token's signature and claims are checked by
/// <see cref="ProfileApiTokens.CheckAsync"/> (once per token string and minute), and on every request its client is
/// checked against the directory as configured now: a removed client's tokens are refused at once, and its grant
/// shrinks with its configuration. The 401 has the same ProblemDetails body as every other error.
/// Why not JwtBearer: it did the same through its events, but per request it also cloned its validation parameters and
/// built its event contexts and ticket: ~5 % of a read's CPU and ~11 KB of its allocations (docs/operations.md,
/// "Profile API reads"), for options we do not use (metadata, token from query, refresh).
/// </summary>
public sealed class ProfileApiBearerHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ProfileApiTokens tokens,
    WorkspaceDirectory directory)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string ClientRemoved = "The client of this token no longer exists.";
    private const string Prefix = "Bearer ";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase)) return AuthenticateResult.NoResult();
        var token = header.AsSpan(Prefix.Length).Trim();
        if (token.IsEmpty) return AuthenticateResult.NoResult();

        var (claims, failure) = await tokens.CheckAsync(token.Length == header.Length - Prefix.Length ? header[Prefix.Length..] : token.ToString());
        if (claims is null) return AuthenticateResult.Fail(failure!);
        return ProfileApiClaims.CurrentGrant(claims, directory) is { } current
            ? AuthenticateResult.Success(new AuthenticationTicket(current, Scheme.Name))
            : AuthenticateResult.Fail(ClientRemoved);
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var failure = (await HandleAuthenticateOnceSafeAsync()).Failure; // this request's own result, kept by the base class
        Response.Headers.WWWAuthenticate = "Bearer";
        var reason = failure is null ? "Send a bearer token from POST /oauth/token."
            : failure.Message == ClientRemoved ? ClientRemoved
            : "The bearer token is invalid or expired; get a new one from POST /oauth/token.";
        await ApiProblems.WriteAsync(Context,
            ApiProblems.Create(StatusCodes.Status401Unauthorized, "Unauthorized", [new FieldError("Authorization", reason, "UNAUTHORIZED")]));
    }
}
