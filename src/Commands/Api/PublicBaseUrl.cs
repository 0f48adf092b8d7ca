using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace EventProfiles.Commands.Api;

/// <summary>
/// Where clients reach this service (<c>EventProfiles:PublicBaseUrl</c>), for the URLs we hand out. Never the request's
/// <c>Host</c> header: whoever sends the request chooses that. Without configuration (only allowed in Development) the
/// address the server listens on.
/// </summary>
public sealed class PublicBaseUrl(string? configured, IServer server)
{
    public string Value => configured is { Length: > 0 } ? configured.TrimEnd('/') : Listening();

    private string Listening()
    {
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? "http://127.0.0.1:8080";
        // A wildcard binding is no address a client can use.
        return address.Replace("://+", "://localhost").Replace("://*", "://localhost").Replace("://0.0.0.0", "://localhost")
            .Replace("://[::]", "://localhost").TrimEnd('/');
    }
}
