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

/// <summary>
/// Checks a bearer token's signature and claims once per token string, then for up to a minute answers from memory
/// (never past the token's expiry): SDK clients send the same token with every request for hours, and parsing it and
/// its HMAC cost more CPU than the rest of a Profile API read. Only what the token itself says is cached; the client's
/// current grant (a removed client refused at once, scopes and workspaces as configured now) is still decided on every
/// request by <see cref="ProfileApiBearerEvents"/>, and each request gets its own copy of the identity.
/// </summary>
public sealed class CachingJsonWebTokenHandler : JsonWebTokenHandler
{
    private static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(1);
    private const int MaxEntries = 10_000;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (TokenValidationResult Result, DateTime Until)> _valid = new(StringComparer.Ordinal);

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        var now = DateTime.UtcNow;
        if (_valid.TryGetValue(token, out var cached) && now < cached.Until) return Copy(cached.Result);
        var result = await base.ValidateTokenAsync(token, validationParameters);
        if (!result.IsValid || result.SecurityToken is null) return result;
        if (_valid.Count >= MaxEntries) _valid.Clear(); // stale and unused entries go all at once; the next requests validate again
        var until = result.SecurityToken.ValidTo + validationParameters.ClockSkew;
        _valid[token] = (result, until < now + MaxAge ? until : now + MaxAge);
        return Copy(result);
    }

    private static TokenValidationResult Copy(TokenValidationResult result) => new()
    {
        IsValid = true,
        SecurityToken = result.SecurityToken,
        ClaimsIdentity = result.ClaimsIdentity.Clone(),
        Issuer = result.Issuer,
        TokenType = result.TokenType,
        TokenContext = result.TokenContext,
    };
}
