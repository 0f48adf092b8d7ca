using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using EventProfiles.Commands.Api;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EventProfiles.Commands.Security;

/// <summary>
/// An operator allowed to use the admin API (outputs, connections, live stream) and the web UI. <paramref name="Workspaces"/>
/// limits what the web UI shows them (null: every workspace). <paramref name="Password"/> is the stored hash, never the password.
/// </summary>
public sealed record AdminUser(string Name, string Password, IReadOnlyList<int>? Workspaces = null)
{
    public const string WorkspaceClaim = "ep:workspace";
    public const string AllWorkspaces = "*";

    public ClaimsPrincipal Principal(string scheme)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, Name) };
        claims.AddRange(Workspaces is null
            ? [new Claim(WorkspaceClaim, AllWorkspaces)]
            : Workspaces.Select(w => new Claim(WorkspaceClaim, w.ToString(System.Globalization.CultureInfo.InvariantCulture))));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme));
    }
}

/// <summary>
/// The admin users as the stored configuration has them; <see cref="AdminUser.Password"/> holds ASP.NET Core's
/// PasswordHasher hash. Verifying a hash costs ~0.1 s of CPU on purpose, and the admin API is called with Basic on
/// every request, so a verified password is remembered (as its SHA-256, against that hash) until the user changes.
/// </summary>
public sealed class AdminUsers
{
    private static readonly PasswordHasher<AdminUser> Hasher = new();
    private volatile Dictionary<string, AdminUser> _users;
    private readonly ConcurrentDictionary<string, (string Hash, byte[] Digest)> _verified = new(StringComparer.Ordinal);

    public AdminUsers(IEnumerable<AdminUser> users) => _users = users.ToDictionary(u => u.Name, StringComparer.Ordinal);

    public IEnumerable<AdminUser> All => _users.Values;

    public static string Hash(string password) => Hasher.HashPassword(null!, password);

    public AdminUser? Find(string name, string password)
    {
        if (!_users.TryGetValue(name, out var user)) return null;
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(password));
        if (_verified.TryGetValue(name, out var known) && known.Hash == user.Password && CryptographicOperations.FixedTimeEquals(known.Digest, digest))
            return user;
        if (Hasher.VerifyHashedPassword(user, user.Password, password) == PasswordVerificationResult.Failed) return null;
        _verified[name] = (user.Password, digest);
        return user;
    }

    public AdminUser? ByName(string name) => _users.GetValueOrDefault(name);

    /// <summary>The users as now stored: a removed user's next request is refused (a changed hash drops what was remembered).</summary>
    public void Replace(IEnumerable<AdminUser> users) => _users = users.ToDictionary(u => u.Name, StringComparer.Ordinal);
}

/// <summary>
/// HTTP Basic with the configured admin users: no header → 401, wrong credentials → 403, too many failures for the user
/// name from this address (<see cref="CredentialThrottle"/>, shared with the web UI's sign-in) → 429 with Retry-After.
/// </summary>
public sealed class AdminBasicAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, AdminUsers users, CredentialThrottle throttle)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    private TimeSpan? _refusedFor;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrWhiteSpace(header)) return AuthenticateResult.NoResult();
        if (BasicCredentials.Parse(header, out var notBase64) is not { } credentials)
            return AuthenticateResult.Fail(notBase64 ? BasicCredentials.NotBase64 : "The admin API takes HTTP Basic credentials.");
        var user = users.Find(credentials.User, credentials.Password);
        // The right password of a refused pair is refused too, else the throttle would only slow down, not stop, a guesser.
        _refusedFor = user is null
            ? await throttle.FailedAsync(CredentialThrottle.Admin, credentials.User, Context)
            : await throttle.RefusedForAsync(CredentialThrottle.Admin, credentials.User, Context);
        if (_refusedFor is not null) return AuthenticateResult.Fail("Too many failed attempts.");
        if (user is null) return AuthenticateResult.Fail("Unknown admin user or wrong password.");
        return AuthenticateResult.Success(new AuthenticationTicket(user.Principal(Scheme.Name), Scheme.Name));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (_refusedFor is { } refusedFor)
            return ApiProblems.WriteAsync(Context, CredentialThrottle.TooManyFailures(Context, refusedFor, "Authorization"));
        var present = !string.IsNullOrWhiteSpace(Request.Headers.Authorization.ToString());
        if (!present) Response.Headers.WWWAuthenticate = "Basic realm=\"EventProfiles admin\"";
        return ApiProblems.WriteAsync(Context, present
            ? ApiProblems.Create(StatusCodes.Status403Forbidden, "Forbidden", [new FieldError("Authorization", "Unknown admin user or wrong password.", "FORBIDDEN")])
            : ApiProblems.Create(StatusCodes.Status401Unauthorized, "Unauthorized", [new FieldError("Authorization", "Sign in with an admin user (HTTP Basic).", "UNAUTHORIZED")]));
    }
}
