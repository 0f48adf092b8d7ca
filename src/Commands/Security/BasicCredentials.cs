using System.Net.Http.Headers;
using System.Text;

namespace EventProfiles.Commands.Security;

/// <summary>
/// The user and password of an HTTP Basic <c>Authorization</c> header, shared by every scheme that takes Basic
/// (Events API inputs, IDSync, admin). A header without a colon is a user with an empty password.
/// </summary>
public readonly record struct BasicCredentials(string User, string Password)
{
    public const string NotBase64 = "The Basic credentials are not valid base64.";

    /// <summary>Null with <paramref name="notBase64"/> false when the header is not Basic at all, true when its payload is not base64.</summary>
    public static BasicCredentials? Parse(string header, out bool notBase64)
    {
        notBase64 = false;
        if (!AuthenticationHeaderValue.TryParse(header, out var value) ||
            !"Basic".Equals(value.Scheme, StringComparison.OrdinalIgnoreCase) || value.Parameter is null)
            return null;
        string decoded;
        try { decoded = Encoding.UTF8.GetString(Convert.FromBase64String(value.Parameter)); }
        catch (FormatException) { notBase64 = true; return null; }
        var colon = decoded.IndexOf(':');
        return colon < 0 ? new BasicCredentials(decoded, "") : new BasicCredentials(decoded[..colon], decoded[(colon + 1)..]);
    }
}
