using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using EventProfiles.Commands.Api;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Security;
using EventProfiles.Domain.Workspaces;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EventProfiles.Commands.Security;

/// <summary>
/// Authentication of the IDSync and SDK endpoints, the three ways identity.md §2 allows:
/// HMAC (<c>x-mp-key</c> + <c>Date</c> + <c>x-mp-signature</c> = hex HMAC-SHA256 of <c>METHOD\nDATE\nPATH+BODY</c> with
/// the input's secret, as iOS/Android sign), Basic (key:secret), or the key alone in <c>x-mp-key</c> (the web SDK),
/// only for inputs that allow it. No credentials or an unknown key → 401; a signed request whose Date is missing,
/// unreadable or further than <see cref="SignedRequestOptions.MaxClockSkew"/> from the server's clock → 401 (field
/// <c>Date</c>); a bad signature or secret, or key-only where it is not allowed → 403. The claims say which way was used
/// (<see cref="IdentityApiClaims.Authority"/>): a key-only caller has less authority over identities.
/// </summary>
public sealed class IdentityApiAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    WorkspaceDirectory directory,
    TimeProvider clock,
    IOptions<SignedRequestOptions> signedRequests)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    private const string KeyHeader = "x-mp-key";
    private const string SignatureHeader = "x-mp-signature";
    private const string FailureStatus = "ep:failure_status";
    private const string FailureField = "ep:failure_field";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var key = Request.Headers[KeyHeader].ToString();
        var authorization = Request.Headers.Authorization.ToString();

        if (key.Length == 0 && !string.IsNullOrWhiteSpace(authorization)) return Basic(authorization);
        if (key.Length == 0)
        {
            // The web SDK's alias call carries the key in the path only (…/v1/identity/{apiKey}/Alias).
            if (Context.GetRouteValue("apiKey") is not string pathKey) return AuthenticateResult.NoResult();
            key = pathKey;
        }

        var input = directory.InputByKey(key);
        if (input is null) return Fail(StatusCodes.Status401Unauthorized, "Unknown API key.");

        var signature = Request.Headers[SignatureHeader].ToString();
        if (signature.Length > 0)
        {
            if (input.AcceptedSecrets.Count == 0) return Fail(StatusCodes.Status403Forbidden, "This input has no secret to sign with.");
            var date = Request.Headers.Date.ToString();
            // The signature covers the Date: an old (or missing) Date is a captured request being replayed.
            if (SignedDate.Rejection(date, clock.GetUtcNow(), signedRequests.Value.MaxClockSkew) is { } stale)
                return Fail(StatusCodes.Status401Unauthorized, stale, "Date");
            var sent = Encoding.ASCII.GetBytes(signature.ToLowerInvariant());
            foreach (var secret in input.AcceptedSecrets) // two during a rotation
            foreach (var path in SignedPaths())
                if (CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(await SignatureAsync(secret, date, path)), sent))
                    return Success(input, IdentityAuthority.Server);
            return Fail(StatusCodes.Status403Forbidden, "The x-mp-signature does not match.");
        }

        return input.AllowKeyOnly
            ? Success(input, IdentityAuthority.KeyOnly)
            : Fail(StatusCodes.Status403Forbidden, "This input needs a signed request or Basic authentication, not the key alone.");
    }

    private AuthenticateResult Basic(string authorization)
    {
        if (BasicCredentials.Parse(authorization, out var notBase64) is not { } credentials)
            return Fail(StatusCodes.Status401Unauthorized, notBase64 ? BasicCredentials.NotBase64 : "Send x-mp-key (and a signature) or Basic credentials.");
        var input = directory.InputByKey(credentials.User);
        if (input is null) return Fail(StatusCodes.Status401Unauthorized, "Unknown API key.");
        if (!Secrets.MatchesAny(input.AcceptedSecrets, credentials.Password))
            return Fail(StatusCodes.Status403Forbidden, "Wrong secret for this API key.");
        return Success(input, IdentityAuthority.Server);
    }

    /// <summary>
    /// Lower-case hex HMAC-SHA256 over METHOD\nDATE\nPATH+BODY, the body as sent (after decompression), hashed while it
    /// streams in: the body is already capped at the endpoint's limit (<see cref="Api.RequestBodyMiddleware"/>), and
    /// buffered (to disk beyond 30 KB) only so the endpoint can read it again.
    /// </summary>
    private async Task<string> SignatureAsync(string secret, string date, string path)
    {
        Request.EnableBuffering();
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret));
        hmac.AppendData(Encoding.UTF8.GetBytes($"{Request.Method}\n{date}\n{path}"));
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await Request.Body.ReadAsync(chunk, Context.RequestAborted)) > 0) hmac.AppendData(chunk, 0, read);
        Request.Body.Position = 0;
        return Convert.ToHexStringLower(hmac.GetHashAndReset());
    }

    /// <summary>
    /// The path as the client sent it (before any rewrite of the CNAME path families), then the canonical one: the
    /// native SDKs sign <c>/v1/identify</c> or <c>/v1/identity/{key}/alias</c> even when they call <c>/identity/v1/…</c>
    /// or <c>/nativeevents/v1/identity/…</c> (native-sdks.md §2.2, §10).
    /// </summary>
    private IEnumerable<string> SignedPaths()
    {
        var canonical = (Request.PathBase + Request.Path + Request.QueryString).ToString();
        var raw = Context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? canonical;
        yield return raw;
        if (canonical != raw) yield return canonical;
    }

    private AuthenticateResult Success(Input input, IdentityAuthority authority)
    {
        var identity = new ClaimsIdentity(
            [new Claim(InputClaims.InputKey, input.Key), new Claim(ClaimTypes.Name, input.Name), new Claim(IdentityApiClaims.Authority, authority.ToString())],
            Scheme.Name);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name));
    }

    private AuthenticateResult Fail(int status, string reason, string field = KeyHeader)
    {
        Context.Items[FailureStatus] = status;
        Context.Items[FailureField] = field;
        return AuthenticateResult.Fail(reason);
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        var status = Context.Items[FailureStatus] as int? ?? StatusCodes.Status401Unauthorized;
        var reason = result.Failure?.Message ?? "Send the input's key in x-mp-key (signed with x-mp-signature where the input needs it) or Basic credentials.";
        await ApiProblems.WriteAsync(Context, ApiProblems.Create(status, status == 401 ? "Unauthorized" : "Forbidden",
            [new FieldError(Context.Items[FailureField] as string ?? KeyHeader, reason, status == 401 ? "UNAUTHORIZED" : "FORBIDDEN")]));
    }
}

/// <summary>How old or new a signed request's Date may be (<c>EventProfiles:IdSync:MaxClockSkewMinutes</c>).</summary>
public sealed class SignedRequestOptions
{
    public const string Section = "EventProfiles:IdSync";

    /// <summary>Either way from the server's clock; 15 minutes by default.</summary>
    public double MaxClockSkewMinutes { get; set; } = 15;

    public TimeSpan MaxClockSkew => TimeSpan.FromMinutes(MaxClockSkewMinutes);
}

public static class IdentityApiClaims
{
    /// <summary>How the caller authenticated (<see cref="IdentityAuthority"/>).</summary>
    public const string Authority = "ep:identity_authority";

    /// <summary>Key-only unless the request was signed or carried the secret.</summary>
    public static IdentityAuthority AuthorityOf(this ClaimsPrincipal user) =>
        Enum.TryParse<IdentityAuthority>(user.FindFirstValue(Authority), out var authority) ? authority : IdentityAuthority.KeyOnly;
}
