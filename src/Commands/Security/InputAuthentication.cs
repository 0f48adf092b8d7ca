using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using EventProfiles.Commands.Api;
using EventProfiles.Domain.Workspaces;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EventProfiles.Commands.Security;

public static class AuthSchemes
{
    /// <summary>Events API: HTTP Basic with an input's key and secret (events-api.md §2).</summary>
    public const string InputBasic = "InputBasic";
    /// <summary>IDSync and SDK endpoints: HMAC signature, Basic, or key alone where the input allows it (identity.md §2).</summary>
    public const string IdentityApi = "IdentityApi";
    /// <summary>Admin API: HTTP Basic with a configured admin user.</summary>
    public const string Admin = "Admin";
    /// <summary>Web UI: a signed-in admin's session cookie (sliding expiry).</summary>
    public const string AdminSession = "AdminSession";
    /// <summary>The admin endpoints the web UI also calls (live stream): Basic when an Authorization header is sent, else the session cookie.</summary>
    public const string AdminOrSession = "AdminOrSession";
    /// <summary>Profile API: OAuth client-credentials bearer token (profile-api.md §5).</summary>
    public const string ProfileApiBearer = "ProfileApiBearer";
}

public static class InputClaims
{
    public const string InputKey = "ep:input_key";

    /// <summary>The input an authenticated Events API request came from.</summary>
    public static Input InputOf(this ClaimsPrincipal user, WorkspaceDirectory directory) =>
        directory.InputByKey(user.FindFirstValue(InputKey) ?? "")
        ?? throw new InvalidOperationException("The request was not authenticated as an input.");
}

/// <summary>
/// HTTP Basic authentication of an input: missing (or empty) header → 401, present but wrong → 403, as the
/// Events API does. Secrets are compared in constant time and never logged.
/// </summary>
public sealed class InputBasicAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    WorkspaceDirectory directory)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrWhiteSpace(header)) return Task.FromResult(AuthenticateResult.NoResult());

        if (BasicCredentials.Parse(header, out var notBase64) is not { } credentials)
            return Task.FromResult(AuthenticateResult.Fail(notBase64 ? BasicCredentials.NotBase64 : "The Authorization header must use the Basic scheme."));

        var input = directory.InputByKey(credentials.User);
        if (input is null || !Secrets.MatchesAny(input.AcceptedSecrets, credentials.Password))
            return Task.FromResult(AuthenticateResult.Fail("Unknown API key or wrong secret."));

        var identity = new ClaimsIdentity(
            [new Claim(InputClaims.InputKey, input.Key), new Claim(ClaimTypes.Name, input.Name)], Scheme.Name);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var present = !string.IsNullOrWhiteSpace(Request.Headers.Authorization.ToString());
        if (!present) Response.Headers.WWWAuthenticate = "Basic realm=\"EventProfiles\"";
        return ApiProblems.WriteAsync(Context, present
            ? ApiProblems.Create(StatusCodes.Status403Forbidden, "Forbidden",
                [new FieldError("Authorization", "Unknown API key or wrong secret.", "FORBIDDEN")])
            : ApiProblems.Create(StatusCodes.Status401Unauthorized, "Unauthorized",
                [new FieldError("Authorization", "Send the input's key and secret with HTTP Basic authentication.", "UNAUTHORIZED")]));
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        ApiProblems.WriteAsync(Context, ApiProblems.Create(StatusCodes.Status403Forbidden, "Forbidden",
            [new FieldError("Authorization", "These credentials may not use this endpoint.", "FORBIDDEN")]));

}

public static class Secrets
{
    /// <summary>Compares secrets in constant time (hashing first, so their lengths do not leak either).</summary>
    public static bool AreEqual(string expected, string actual) =>
        CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(expected)), SHA256.HashData(Encoding.UTF8.GetBytes(actual)));

    /// <summary>Whether the secret is one of those accepted (two during a rotation); every one is compared, in constant time.</summary>
    public static bool MatchesAny(IReadOnlyList<string> accepted, string actual)
    {
        var matched = false;
        foreach (var expected in accepted) matched |= AreEqual(expected, actual);
        return matched;
    }
}
