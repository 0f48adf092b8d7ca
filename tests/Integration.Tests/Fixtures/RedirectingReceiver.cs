using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EventProfiles.Integration.Tests.Fixtures;

/// <summary>
/// A destination on 127.0.0.1 that answers every call to <c>/hook</c> with 302 to its own <c>/landing</c>, and counts both:
/// a landing hit means the redirect was followed.
/// </summary>
public sealed class RedirectingReceiver : IAsyncDisposable
{
    private WebApplication _app = null!;
    private int _hookHits, _landingHits;

    public int Port { get; private set; }
    public string Url => $"http://127.0.0.1:{Port}/hook";
    public int HookHits => Volatile.Read(ref _hookHits);
    public int LandingHits => Volatile.Read(ref _landingHits);

    public static async Task<RedirectingReceiver> StartAsync()
    {
        var receiver = new RedirectingReceiver();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        receiver._app = builder.Build();
        receiver._app.Map("/hook", () =>
        {
            Interlocked.Increment(ref receiver._hookHits);
            return Results.Redirect($"http://127.0.0.1:{receiver.Port}/landing");
        });
        receiver._app.Map("/landing", () =>
        {
            Interlocked.Increment(ref receiver._landingHits);
            return Results.Ok();
        });
        await receiver._app.StartAsync();
        receiver.Port = new Uri(receiver._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
