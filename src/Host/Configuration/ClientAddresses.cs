using System.Net;
using Microsoft.AspNetCore.HttpOverrides;

namespace EventProfiles.Host.Configuration;

/// <summary>
/// <c>EventProfiles:ForwardedHeaders</c>: the reverse proxies whose <c>X-Forwarded-For</c> / <c>X-Forwarded-Proto</c> we
/// believe. The client address keys the credential throttle, so a header from anyone else is ignored: with nothing
/// configured the middleware is not added at all (an empty ForwardedHeadersOptions would trust every sender).
/// </summary>
public static class ClientAddresses
{
    public const string Section = "EventProfiles:ForwardedHeaders";

    /// <summary>The options for the configured proxies; null when none are configured (forwarded headers are then ignored).</summary>
    public static ForwardedHeadersOptions? Options(IConfiguration config)
    {
        var proxies = config.GetSection($"{Section}:KnownProxies").Get<string[]>() ?? [];
        var networks = config.GetSection($"{Section}:KnownNetworks").Get<string[]>() ?? [];
        if (proxies.Length == 0 && networks.Length == 0) return null;
        var options = new ForwardedHeadersOptions
        {
            ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto,
            ForwardLimit = null, // a chain of configured proxies is walked back to the first address none of them is
        };
        options.KnownProxies.Clear(); // the defaults trust loopback: only what is configured
        options.KnownIPNetworks.Clear();
        foreach (var proxy in proxies)
            options.KnownProxies.Add(IPAddress.TryParse(proxy, out var address) ? address
                : throw new InvalidOperationException($"{Section}:KnownProxies: '{proxy}' is not an IP address."));
        foreach (var network in networks)
            options.KnownIPNetworks.Add(System.Net.IPNetwork.TryParse(network, out var parsed) ? parsed
                : throw new InvalidOperationException($"{Section}:KnownNetworks: '{network}' is not a network (CIDR, e.g. 10.0.0.0/8)."));
        return options;
    }
}
