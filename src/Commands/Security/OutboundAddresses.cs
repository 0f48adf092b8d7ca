using System.Net;
using System.Net.Sockets;
using EventProfiles.Domain.Security;

namespace EventProfiles.Commands.Security;

/// <summary>An outbound call was stopped before any connection because its host is, or resolves to, an address inside the network.</summary>
public sealed class OutboundAddressRefusedException(string message) : Exception(message);

/// <summary>
/// The one policy for every call this service makes to a URL someone configured (webhook outputs, OpenDSR status
/// callbacks): checked when the URL is accepted, and again when a connection is made, because DNS can answer differently
/// later. Only public addresses are reached, except hosts on <c>EventProfiles:Outbound:AllowedHosts</c>; redirects are never
/// followed and no proxy is used (a proxy would reach the address for us).
/// </summary>
public sealed class OutboundAddresses(OutboundAllowList allowList)
{
    public const string AllowedHostsSetting = "EventProfiles:Outbound:AllowedHosts";
    public const string NotAllowed = "address not allowed";

    /// <summary>A lookup at creation should not hold the request for long; an unresolved name is checked again at connect time.</summary>
    private static readonly TimeSpan CreationLookup = TimeSpan.FromSeconds(3);

    public OutboundAddresses(IEnumerable<string> allowedHosts) : this(new OutboundAllowList(allowedHosts)) { }

    /// <summary>Why this URL may not be called (a sentence to follow the field name), or null when it may.</summary>
    public async Task<string?> ProblemAsync(string? url, CancellationToken ct)
    {
        if (OutboundUrls.Parse(url, out var problem) is not { } target) return problem;
        if (allowList.Allows(target.WrittenHost)) return null;
        if (target.Literal is { } literal)
            return OutboundAddressRules.Refusal(literal) is { } kind ? $"{NotAllowed}: {literal} is {kind}." : null;

        IPAddress[] addresses;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(CreationLookup);
        try { addresses = await Dns.GetHostAddressesAsync(target.Host, timeout.Token); }
        catch (Exception e) when (e is SocketException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            return null; // not resolvable now: nothing to reach yet; the connect-time check decides when it is called
        }
        catch (ArgumentException)
        {
            return "must name a valid host.";
        }
        // The kind of address, not the address: the answer should not map the internal network's names.
        return addresses.Select(OutboundAddressRules.Refusal).FirstOrDefault(kind => kind is not null) is { } refused
            ? $"{NotAllowed}: {target.Host} resolves to an address that is {refused}."
            : null;
    }

    /// <summary>The handler behind every outbound HttpClient: it resolves once, checks every address, connects only to allowed ones.</summary>
    public SocketsHttpHandler CreateHandler() => new()
    {
        AllowAutoRedirect = false, // a 3xx is an answer, not an instruction: following it would reach an unchecked URL
        UseProxy = false,
        UseCookies = false,
        ConnectCallback = ConnectAsync,
    };

    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var (host, port) = (context.DnsEndPoint.Host, context.DnsEndPoint.Port);
        var addresses = await AddressesAsync(host, ct);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, port, ct); // these addresses, not a second lookup of the name
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The same check for connections that are not HTTP (warehouse outputs): the addresses to connect to, by address.</summary>
    public Task<IPAddress[]> AllowedAddressesAsync(string host, CancellationToken ct) => AddressesAsync(host, ct);

    /// <summary>The addresses a call to <paramref name="host"/> may use, or a refusal naming the kind of address (never its port's state).</summary>
    private async Task<IPAddress[]> AddressesAsync(string host, CancellationToken ct)
    {
        IPAddress[] addresses = OutboundAddressRules.TryParseLiteral(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, ct);
        if (allowList.Allows(host)) return addresses;
        foreach (var address in addresses)
            if (OutboundAddressRules.Refusal(address) is { } kind)
                throw new OutboundAddressRefusedException($"{NotAllowed}: {kind}");
        return addresses.Length > 0 ? addresses : throw new OutboundAddressRefusedException($"{host} has no address");
    }

    /// <summary>The refusal inside a failed call, if that is why it failed.</summary>
    public static OutboundAddressRefusedException? RefusalOf(Exception e) =>
        e as OutboundAddressRefusedException ?? (e.InnerException is { } inner ? RefusalOf(inner) : null);
}
