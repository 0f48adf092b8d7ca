using System.Security.Claims;
using System.Text;
using EventProfiles.Domain.Workspaces;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace EventProfiles.Commands.Security;

public sealed class ProfileApiTokenOptions
{
    public const string Issuer = "eventprofiles";
    /// <summary>What mParticle's SSO expects as audience; clients send it in the token request.</summary>
    public const string Audience = "https://api.mparticle.com";
    /// <summary>8 hours, as mParticle's tokens (profile-api.md §5).</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(8);

    /// <summary>HMAC key for signing bearer tokens; when not configured a random one is made per process.</summary>
    public string? SigningKey { get; set; }

    /// <summary>HMAC-SHA256 is only as strong as its key: anything shorter than its output size is refused.</summary>
    public const int MinimumKeyBytes = 32;
}

public static class ProfileApiClaims
{
    public const string Workspace = "ep:workspace";
    /// <summary>The granted scopes, space-separated (RFC 9068 / OAuth 2.0 style).</summary>
    public const string Scope = "scope";

    public static bool MayRead(this ClaimsPrincipal user, int workspaceId) =>
        user.FindAll(Workspace).Any(c => c.Value == workspaceId.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public static IReadOnlySet<string> Scopes(this ClaimsPrincipal user) =>
        user.FindAll(Scope).SelectMany(c => c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// The token's grant as the client's configuration stands now: a removed client gets null, and scopes or workspaces
    /// taken from a client since its token was issued no longer count.
    /// </summary>
    public static ClaimsPrincipal? CurrentGrant(ClaimsPrincipal token, WorkspaceDirectory directory)
    {
        if (token.FindFirst(JwtRegisteredClaimNames.Sub)?.Value is not { } clientId || directory.ClientById(clientId) is not { } client) return null;
        var scopes = token.Scopes().Where(client.Scopes.Contains).Order(StringComparer.Ordinal);
        var claims = token.Claims
            .Where(c => c.Type != Scope && (c.Type != Workspace || client.WorkspaceIds.Any(w => w.ToString(System.Globalization.CultureInfo.InvariantCulture) == c.Value)))
            .Append(new Claim(Scope, string.Join(' ', scopes)));
        var identity = (ClaimsIdentity)token.Identity!;
        return new ClaimsPrincipal(new ClaimsIdentity(claims, identity.AuthenticationType, identity.NameClaimType, identity.RoleClaimType));
    }
}

/// <summary>Issues and describes the signed bearer tokens of the Profile API (stateless, so every node accepts them).</summary>
public sealed class ProfileApiTokens(SymmetricSecurityKey key, TimeProvider clock)
{
    public SymmetricSecurityKey Key { get; } = key;

    /// <summary>The signing key; a configured one shorter than 32 bytes stops the Host from starting.</summary>
    public static SymmetricSecurityKey KeyFrom(ProfileApiTokenOptions options)
    {
        if (options.SigningKey is { Length: > 0 } configured && Encoding.UTF8.GetByteCount(configured) < ProfileApiTokenOptions.MinimumKeyBytes)
            throw new InvalidOperationException(
                $"EventProfiles:ProfileApiTokens:SigningKey is {Encoding.UTF8.GetByteCount(configured)} bytes long; it must be at least " +
                $"{ProfileApiTokenOptions.MinimumKeyBytes} bytes (for example the output of `openssl rand -base64 48`).");
        return new(options.SigningKey is { Length: > 0 } key
            ? SHA256Of(key)
            : System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
    }

    /// <param name="scopes">What this token may do: the client's scopes, or the subset the token request asked for.</param>
    public string Issue(ProfileApiClient client, IEnumerable<string> scopes)
    {
        var now = clock.GetUtcNow();
        var claims = new List<Claim> { new(JwtRegisteredClaimNames.Sub, client.ClientId), new(ProfileApiClaims.Scope, string.Join(' ', scopes.Order(StringComparer.Ordinal))) };
        claims.AddRange(client.WorkspaceIds.Select(w => new Claim(ProfileApiClaims.Workspace, w.ToString(System.Globalization.CultureInfo.InvariantCulture))));
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = ProfileApiTokenOptions.Issuer,
            Audience = ProfileApiTokenOptions.Audience,
            Subject = new ClaimsIdentity(claims),
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = (now + ProfileApiTokenOptions.Lifetime).UtcDateTime,
            SigningCredentials = new SigningCredentials(Key, SecurityAlgorithms.HmacSha256),
        });
    }

    private static readonly TimeSpan MaxCacheAge = TimeSpan.FromMinutes(1);
    private const int MaxCachedTokens = 10_000;
    private readonly JsonWebTokenHandler _handler = new();
    private TokenValidationParameters? _parameters;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (ClaimsPrincipal Claims, DateTime Until)> _valid = new(StringComparer.Ordinal);

    /// <summary>
    /// What a bearer token itself says (signature, issuer, audience, lifetime checked), or why it is refused. Checked
    /// once per token string, then for up to a minute answered from memory (never past the token's expiry): SDK clients
    /// send the same token with every request for hours, and parsing it and its HMAC cost more CPU than the rest of a
    /// Profile API read. The result is never handed out as the request's user: <see cref="ProfileApiClaims.CurrentGrant"/>
    /// builds each request's own principal from it, with the client's grant as configured now.
    /// </summary>
    public async ValueTask<(ClaimsPrincipal? Claims, Exception? Failure)> CheckAsync(string token)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        if (_valid.TryGetValue(token, out var cached) && now < cached.Until) return (cached.Claims, null);
        var parameters = _parameters ??= ValidationParameters();
        var result = await _handler.ValidateTokenAsync(token, parameters);
        if (!result.IsValid || result.SecurityToken is null || result.ClaimsIdentity is null)
            return (null, result.Exception ?? new SecurityTokenValidationException("The bearer token is not valid."));
        if (_valid.Count >= MaxCachedTokens) _valid.Clear(); // stale and unused entries go all at once; the next requests validate again
        // A plain copy, shared read-only by the requests that send this token (the handler's identity may fill its claims lazily).
        var identity = result.ClaimsIdentity;
        var claims = new ClaimsPrincipal(new ClaimsIdentity(identity.Claims, identity.AuthenticationType, identity.NameClaimType, identity.RoleClaimType));
        var until = result.SecurityToken.ValidTo + parameters.ClockSkew;
        _valid[token] = (claims, until < now + MaxCacheAge ? until : now + MaxCacheAge);
        return (claims, null);
    }

    public TokenValidationParameters ValidationParameters() => new()
    {
        ValidIssuer = ProfileApiTokenOptions.Issuer,
        ValidAudience = ProfileApiTokenOptions.Audience,
        IssuerSigningKey = Key,
        ValidateLifetime = true,
        ClockSkew = TimeSpan.FromSeconds(30),
        NameClaimType = JwtRegisteredClaimNames.Sub,
    };

    private static byte[] SHA256Of(string text) => System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(text));
}
