using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace EventProfiles.Domain.Security;

/// <summary>
/// Which IP addresses an outbound call (webhook outputs, OpenDSR callbacks) may reach: only public unicast ones. Everything
/// inside a network — loopback, private, link-local (cloud metadata), unique-local, multicast, reserved — is refused, also
/// when an IPv6 address embeds such an IPv4 address (mapped, NAT64, 6to4). Pure: the resolution happens in the caller.
/// </summary>
public static class OutboundAddressRules
{
    /// <summary>Null when the address may be called; otherwise what kind of address it is (the reason it is refused).</summary>
    public static string? Refusal(IPAddress address) => address.AddressFamily switch
    {
        AddressFamily.InterNetwork => RefusalV4(address.GetAddressBytes()),
        AddressFamily.InterNetworkV6 => RefusalV6(address.GetAddressBytes()),
        _ => "not an IP address",
    };

    private static string? RefusalV4(byte[] b) => (b[0], b[1], b[2], b[3]) switch
    {
        (0, _, _, _) => "unspecified (0.0.0.0/8)",
        (10, _, _, _) => "private (10.0.0.0/8)",
        (100, >= 64 and < 128, _, _) => "shared address space (100.64.0.0/10, carrier-grade NAT)",
        (127, _, _, _) => "loopback (127.0.0.0/8)",
        (169, 254, 169, 254) => "link-local (cloud metadata)",
        (169, 254, _, _) => "link-local (169.254.0.0/16)",
        (172, >= 16 and < 32, _, _) => "private (172.16.0.0/12)",
        (192, 0, 0, _) => "reserved (192.0.0.0/24, IETF protocol assignments)",
        (192, 0, 2, _) or (198, 51, 100, _) or (203, 0, 113, _) => "reserved (documentation)",
        (192, 88, 99, _) => "reserved (6to4 relay anycast)",
        (192, 168, _, _) => "private (192.168.0.0/16)",
        (198, 18 or 19, _, _) => "reserved (198.18.0.0/15, benchmarking)",
        (>= 224 and < 240, _, _, _) => "multicast (224.0.0.0/4)",
        (255, 255, 255, 255) => "broadcast",
        (>= 240, _, _, _) => "reserved (240.0.0.0/4)",
        _ => null,
    };

    private static string? RefusalV6(byte[] b)
    {
        if (b.AsSpan(0, 10).IndexOfAnyExcept((byte)0) < 0 && b[10] == 0xff && b[11] == 0xff) return Embedding("an IPv4-mapped", b.AsSpan(12, 4));
        if (b.AsSpan(0, 15).IndexOfAnyExcept((byte)0) < 0 && b[15] <= 1) return b[15] == 0 ? "unspecified (::)" : "loopback (::1)";
        if (b.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0) return "IPv4-compatible IPv6 (::/96, deprecated)";
        if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b)
            return b.AsSpan(4, 8).IndexOfAnyExcept((byte)0) < 0 ? Embedding("a NAT64", b.AsSpan(12, 4)) : "reserved (64:ff9b:1::/48, local-use NAT64)";
        if (b[0] == 0x20 && b[1] == 0x02) return Embedding("a 6to4", b.AsSpan(2, 4));
        if (b[0] == 0xff) return "multicast (ff00::/8)";
        if ((b[0] & 0xfe) == 0xfc) return "unique-local (fc00::/7)";
        if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "link-local (fe80::/10)";
        if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return "site-local (fec0::/10, deprecated)";
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return "reserved (2001:db8::/32, documentation)";
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] < 0x02) return "reserved (2001::/23, IETF protocol assignments, Teredo)";
        if ((b[0] & 0xe0) != 0x20) return "reserved (outside global unicast 2000::/3)";
        return null;
    }

    /// <summary>An IPv6 form that carries an IPv4 address is judged by that address: reaching it reaches the IPv4 host.</summary>
    private static string? Embedding(string form, ReadOnlySpan<byte> v4)
    {
        var address = new IPAddress(v4);
        return RefusalV4(address.GetAddressBytes()) is { } kind ? $"{form} form of {address}, {kind}" : null;
    }

    /// <summary>
    /// Reads a host as an IP address in every spelling resolvers accept: IPv6 with or without brackets (and zone), and
    /// IPv4 the way inet_aton does — one to four parts, each decimal, octal (leading 0) or hex (0x), the last part filling
    /// the remaining bytes (<c>2852039166</c>, <c>0xA9FEA9FE</c>, <c>0251.0376.0251.0376</c>, <c>127.1</c>) — with an optional trailing dot.
    /// </summary>
    public static bool TryParseLiteral(string host, out IPAddress address)
    {
        address = IPAddress.None;
        var h = host.Trim();
        if (h.StartsWith('[') && h.EndsWith(']')) h = h[1..^1];
        if (h.Contains(':'))
        {
            var zone = h.IndexOf('%');
            if (zone >= 0) h = h[..zone]; // the zone only picks an interface; the address decides
            if (!IPAddress.TryParse(h, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6) return false;
            address = v6;
            return true;
        }
        if (h.EndsWith('.')) h = h[..^1];
        var parts = h.Split('.');
        if (parts.Length is 0 or > 4) return false;
        var values = new ulong[parts.Length];
        for (var i = 0; i < parts.Length; i++)
            if (!TryParsePart(parts[i], out values[i])) return false;
        ulong value = 0;
        for (var i = 0; i < parts.Length - 1; i++)
        {
            if (values[i] > 255) return false;
            value |= values[i] << (8 * (3 - i));
        }
        var last = values[^1];
        if (last >= 1UL << (8 * (5 - parts.Length))) return false;
        value |= last;
        address = new IPAddress([(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]);
        return true;
    }

    private static bool TryParsePart(string part, out ulong value)
    {
        value = 0;
        if (part.Length == 0 || part.Length > 34) return false;
        if (part.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return part.Length == 2 || ulong.TryParse(part.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        if (!part.All(char.IsAsciiDigit)) return false;
        if (part.Length > 1 && part[0] == '0')
        {
            foreach (var c in part[1..])
            {
                if (c > '7' || value > ulong.MaxValue >> 3) return false;
                value = (value << 3) + (uint)(c - '0');
            }
            return true;
        }
        return ulong.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}

/// <summary>
/// Hosts a deployment lets outbound calls reach although their addresses are inside the network
/// (<c>EventProfiles:Outbound:AllowedHosts</c>). Exact match, case-insensitive: a host name as written, an IPv4 address in its
/// dotted form (<c>127.0.0.1</c> allows neither <c>127.1</c> nor <c>localhost</c>), an IPv6 address with or without brackets.
/// </summary>
public sealed class OutboundAllowList
{
    private readonly HashSet<string> _names = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<IPAddress> _v6 = [];

    public OutboundAllowList(IEnumerable<string> hosts)
    {
        foreach (var entry in hosts.Select(h => h.Trim()).Where(h => h.Length > 0))
        {
            var bare = entry.StartsWith('[') && entry.EndsWith(']') ? entry[1..^1] : entry;
            if (bare.Contains(':') && IPAddress.TryParse(bare, out var v6)) _v6.Add(v6);
            else _names.Add(bare);
        }
    }

    public IReadOnlyCollection<string> Entries => [.. _names, .. _v6.Select(a => a.ToString())];

    public bool Allows(string host)
    {
        var bare = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        return bare.Contains(':') ? IPAddress.TryParse(bare, out var v6) && _v6.Contains(v6) : _names.Contains(bare);
    }
}

/// <summary>An outbound URL taken apart: the host as the client wrote it (what the allow-list sees), as it will be called, and its address when it is a literal.</summary>
public sealed record OutboundTarget(Uri Uri, string WrittenHost, string Host, IPAddress? Literal);

public static class OutboundUrls
{
    /// <summary>The shape rules every outbound URL follows; <paramref name="problem"/> says what is wrong (a sentence to put after the field name).</summary>
    public static OutboundTarget? Parse(string? url, out string? problem)
    {
        problem = null;
        if (url is null || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
        {
            problem = "must be an absolute http or https URL.";
            return null;
        }
        if (uri.UserInfo.Length > 0 || WrittenAuthority(url).Contains('@'))
        {
            problem = "must not contain a user name or password.";
            return null;
        }
        var host = uri.IdnHost; // what HttpClient resolves and connects to
        return new OutboundTarget(uri, WrittenHost(url), host, OutboundAddressRules.TryParseLiteral(host, out var literal) ? literal : null);
    }

    /// <summary>The authority as written (Uri normalises <c>127.1</c> to <c>127.0.0.1</c>; the allow-list must see the original).</summary>
    private static string WrittenAuthority(string url)
    {
        var start = url.IndexOf("://", StringComparison.Ordinal) + 3;
        var end = url.IndexOfAny(['/', '\\', '?', '#'], start);
        return end < 0 ? url[start..] : url[start..end];
    }

    private static string WrittenHost(string url)
    {
        var authority = WrittenAuthority(url);
        authority = authority[(authority.LastIndexOf('@') + 1)..];
        if (authority.StartsWith('[')) return authority[..(authority.IndexOf(']') + 1)];
        var colon = authority.LastIndexOf(':');
        return (colon < 0 ? authority : authority[..colon]).ToLowerInvariant();
    }
}
