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
}

public static class ProfileApiClaims
{
    public const string Workspace = "ep:workspace";

    public static bool MayRead(this ClaimsPrincipal user, int workspaceId) =>
        user.FindAll(Workspace).Any(c => c.Value == workspaceId.ToString(System.Globalization.CultureInfo.InvariantCulture));
}

/// <summary>Issues and describes the signed bearer tokens of the Profile API (stateless, so every node accepts them).</summary>
public sealed class ProfileApiTokens(SymmetricSecurityKey key, TimeProvider clock)
{
    public SymmetricSecurityKey Key { get; } = key;

    public static SymmetricSecurityKey KeyFrom(ProfileApiTokenOptions options) =>
        new(options.SigningKey is { Length: > 0 } configured
            ? SHA256Of(configured)
            : System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    public string Issue(ProfileApiClient client)
    {
        var now = clock.GetUtcNow();
        var claims = new List<Claim> { new(JwtRegisteredClaimNames.Sub, client.ClientId) };
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
