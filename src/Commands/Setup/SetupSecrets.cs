using System.Security.Cryptography;
using EventProfiles.Domain.Setup;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;

namespace EventProfiles.Commands.Setup;

/// <summary>Whose secrets (an input's, an API client's): how answers and the change history name it, and its kind's own rule.</summary>
/// <param name="Noun">"input" or "client", as the refusals say it.</param>
/// <param name="Article">"an" or "a", before <paramref name="Noun"/>.</param>
/// <param name="Location">The owner's admin address; its secrets are under <c>…/secrets</c>.</param>
/// <param name="MayGiveUpLast">Whether it works without any secret at all (a web input: the SDK sends the key alone).</param>
public sealed record SecretOwner(
    IReadOnlyList<StoredSecret> Secrets, string Noun, string Article, string Subject, string Location, string Added, string Revoked, bool MayGiveUpLast);

/// <summary>
/// Secrets the server makes and keeps, with the rules every holder of secrets shares: random keys and secrets, shown
/// once (in the response that made them), encrypted at rest with Data Protection, at most two at once (zero-downtime
/// rotation: add the new one, move the clients, revoke the old), each addition and revocation recorded by the secret's
/// id, never with the secret.
/// </summary>
public sealed class SetupSecrets(IDataProtectionProvider provider)
{
    /// <summary>At most two secrets at once: the one in use and its replacement.</summary>
    public const int MaxSecrets = 2;

    private const string Alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    private readonly IDataProtector _protector = provider.CreateProtector(SetupStorage.SecretsPurpose);

    /// <summary>32 lower-case hex characters (128 bits), as mParticle's keys look.</summary>
    public static string NewKey() => RandomNumberGenerator.GetHexString(32, lowercase: true);

    /// <summary>48 letters and digits (~285 bits): safe in Basic credentials, URLs and SDK configuration alike.</summary>
    public static string NewSecret() => RandomNumberGenerator.GetString(Alphanumeric, 48);

    public static string NewId() => RandomNumberGenerator.GetHexString(12, lowercase: true);

    public StoredSecret Store(string secret, DateTimeOffset now) => new(NewId(), _protector.Protect(secret), now);

    public string Reveal(string protectedSecret) => _protector.Unprotect(protectedSecret);

    /// <summary>A new secret: in clear for the one response that shows it, and as stored.</summary>
    public (string Secret, StoredSecret Stored) Issue(DateTimeOffset now)
    {
        var secret = NewSecret();
        return (secret, Store(secret, now));
    }

    /// <summary>The created owner's view with its first secret, shown this once under <paramref name="field"/>.</summary>
    public static Dictionary<string, object?> ShownOnce(Dictionary<string, object?> view, string field, (string Secret, StoredSecret Stored) issued)
    {
        view[field] = issued.Secret;
        view["secret_id"] = issued.Stored.Id;
        return view;
    }

    /// <summary>Rotation, step one: a second secret that works alongside the first until that one is revoked; shown once.</summary>
    public SetupOutcome Add(SecretOwner owner, DateTimeOffset now, Action<IReadOnlyList<StoredSecret>> keep)
    {
        if (owner.Secrets.Count >= MaxSecrets)
            return SetupOutcome.Refused(SetupApi.Conflict("secrets", $"{owner.Article} {owner.Noun} has at most {MaxSecrets} secrets at once: revoke the old one first."));
        var (secret, stored) = Issue(now);
        keep([.. owner.Secrets, stored]);
        return new SetupOutcome(Results.Created($"{owner.Location}/secrets/{stored.Id}", new { id = stored.Id, secret, created_at = stored.CreatedAt }),
            owner.Added, owner.Subject, $"secret {stored.Id}");
    }

    /// <summary>Rotation, step two: the old secret is refused from the next request on (every node within a second or two).</summary>
    public static SetupOutcome Revoke(SecretOwner owner, string secretId, Action<IReadOnlyList<StoredSecret>> keep)
    {
        if (owner.Secrets.All(s => s.Id != secretId)) return SetupOutcome.Refused(SetupApi.NotFound("secret", secretId));
        if (owner.Secrets.Count == 1 && !owner.MayGiveUpLast)
            return SetupOutcome.Refused(SetupApi.Conflict("secretId", $"is the {owner.Noun}'s only secret: add a new one (POST …/secrets) before revoking it."));
        keep([.. owner.Secrets.Where(s => s.Id != secretId)]);
        return new SetupOutcome(Results.NoContent(), owner.Revoked, owner.Subject, $"secret {secretId}");
    }
}
