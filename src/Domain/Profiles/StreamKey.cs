using System.Globalization;

namespace EventProfiles.Domain.Profiles;

/// <summary>The one place an MPID becomes a stream key (Marten streams are keyed by string here).</summary>
public static class StreamKey
{
    public static string For(long mpid) => mpid.ToString(CultureInfo.InvariantCulture);

    public static bool TryParse(string? text, out long mpid) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out mpid);
}
