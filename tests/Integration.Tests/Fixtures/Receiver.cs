using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EventProfiles.Integration.Tests.Fixtures;

/// <summary>
/// A real HTTP receiver on 127.0.0.1 standing in for a webhook destination: it records what arrives, or fails with
/// 500, or is stopped altogether (connections refused) and started again on the same port.
/// </summary>
public sealed class Receiver : IAsyncDisposable
{
    private WebApplication? _app;
    private int _port;

    public ConcurrentQueue<(JsonObject Batch, string? DeliveryId, string? Signature)> Received { get; } = new();
    public bool Failing { get; set; }

    /// <summary>An answer other than 200 for some batches (e.g. 400 or 500 for one person's); null answers as usual.</summary>
    public Func<JsonObject, int?>? StatusFor { get; set; }
    public string Url => $"http://127.0.0.1:{_port}/hook";

    public static async Task<Receiver> StartAsync()
    {
        var receiver = new Receiver();
        await receiver.RestartAsync();
        return receiver;
    }

    public async Task RestartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{_port}");
        _app = builder.Build();
        _app.MapPost("/hook", async (HttpRequest request) =>
        {
            if (Failing) return Results.StatusCode(500);
            var body = await new StreamReader(request.Body).ReadToEndAsync();
            if (StatusFor?.Invoke(JsonNode.Parse(body)!.AsObject()) is { } status) return Results.StatusCode(status);
            Received.Enqueue((JsonNode.Parse(body)!.AsObject(), request.Headers["X-EventProfiles-Delivery-Id"], request.Headers["X-EventProfiles-Signature"]));
            return Results.Ok();
        });
        await _app.StartAsync();
        _port = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
    }

    /// <summary>Stops listening: deliveries now find no one there.</summary>
    public async Task StopAsync()
    {
        if (_app is null) return;
        await _app.StopAsync();
        await _app.DisposeAsync();
        _app = null;
    }

    public IReadOnlyList<JsonObject> BatchesOf(string customerId) =>
        Received.Select(r => r.Batch)
            .Where(b => b["user_identities"]?.AsArray().Any(i => i?["identity"]?.GetValue<string>() == customerId) == true)
            .ToList();

    /// <summary>The "add"/"delete" actions this receiver got for one person in one audience, in arrival order.</summary>
    public List<string> AudienceActions(int audienceId, long mpid) =>
        Received.Select(r => r.Batch)
            .Where(b => b["type"]?.GetValue<string>() == "audience_membership_change_request")
            .SelectMany(b => b["user_profiles"]!.AsArray())
            .Where(p => p!["mpid"]!.GetValue<string>() == mpid.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .SelectMany(p => p!["audiences"]!.AsArray())
            .Where(a => a!["audience_id"]!.GetValue<int>() == audienceId)
            .Select(a => a!["action"]!.GetValue<string>())
            .ToList();

    public async ValueTask DisposeAsync() => await StopAsync();
}
