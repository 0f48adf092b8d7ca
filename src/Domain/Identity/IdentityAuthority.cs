namespace EventProfiles.Domain.Identity;

/// <summary>How an IDSync or modify caller proved who it is.</summary>
public enum IdentityAuthority
{
    /// <summary>Signed with the input's secret (HMAC) or Basic with the secret: a server or an app holding the secret.</summary>
    Server,
    /// <summary>The key alone (the web SDK): anyone who read the key from a web page can send this.</summary>
    KeyOnly,
}

public static class IdentityAuthorityRules
{
    /// <summary>
    /// May a key-only call link this identity to its profile, given the other profiles holding it (beyond mParticle)?
    /// Not when a known person (a profile with a login identity) holds it: a key-only caller must not take a unique
    /// identity off a customer, nor share a person's user identity and so redirect look-ups by it. Device identities
    /// of non-unique types are shared by nature and taken from nobody, so they still link.
    /// </summary>
    public static bool KeyOnlyMayLink(IdentityKey identity, IEnumerable<long> otherHolders, IdentityLookup lookup, IdentitySettings settings)
    {
        var isDevice = IdentityTypes.FromName(identity.Type)?.IsDeviceIdentity ?? false;
        if (isDevice && !settings.IsUnique(identity.Type)) return true;
        return !otherHolders.Any(h => lookup.LoginIdentitiesOf.GetValueOrDefault(h) is { Count: > 0 });
    }

    public static bool MayLink(IdentityAuthority authority, IdentityKey identity, IEnumerable<long> otherHolders, IdentityLookup lookup, IdentitySettings settings) =>
        authority == IdentityAuthority.Server || KeyOnlyMayLink(identity, otherHolders, lookup, settings);
}
