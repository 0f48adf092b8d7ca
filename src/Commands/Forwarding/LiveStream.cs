using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Wolverine.Http;

namespace EventProfiles.Commands.Forwarding;

/// <summary>
/// One line of the Live Stream: a batch that came in (with what was truncated to keep it), a batch of a bulk request that
/// was refused (<see cref="Rejected"/>, with the reasons; nothing of it was stored), or a delivery that went out to an
/// output (with the reason when it failed).
/// </summary>
public sealed record LiveMessage(string Direction, string Input, long Mpid, Guid BatchId, string? OutputId, JsonObject Body, string? Error = null,
    IReadOnlyList<string>? Warnings = null, bool Rejected = false);

/// <summary>
/// Live Stream (forwarding.md §6): development batches as they are committed and deliveries as they leave, fanned out
/// to the subscribers of this node. A slow subscriber loses its oldest lines, never slows ingestion down.
/// </summary>
public sealed class LiveStream
{
    private readonly Lock _lock = new();
    private readonly List<Channel<LiveMessage>> _subscribers = [];

    public bool HasSubscribers { get { lock (_lock) return _subscribers.Count > 0; } }

    public void Inbound(string input, long mpid, Guid batchId, string environment, Func<JsonObject> body, IReadOnlyList<BatchWarning>? warnings = null)
    {
        if (environment != "development" || !HasSubscribers) return;
        Publish(new LiveMessage("inbound", input, mpid, batchId, null, body(),
            Warnings: warnings is { Count: > 0 } ? warnings.Select(w => $"{w.Field}: {w.Message}").ToList() : null));
    }

    /// <summary>A batch of a bulk request refused on its own (the others were stored): shown as sent, with the reasons.</summary>
    public void Rejected(Input input, JsonElement sent, IReadOnlyList<string> reasons)
    {
        var environment = sent.ValueKind == JsonValueKind.Object && sent.TryGetProperty("environment", out var e) && e.ValueKind == JsonValueKind.String
            ? e.GetString() : input.Environment;
        if (environment != "development" || !HasSubscribers) return;
        var body = sent.ValueKind == JsonValueKind.Object ? JsonNode.Parse(sent.GetRawText())!.AsObject() : new JsonObject { ["sent"] = JsonNode.Parse(sent.GetRawText()) };
        Publish(new LiveMessage("inbound", input.Name, 0, Guid.Empty, null, body, string.Join(" ", reasons), Rejected: true));
    }

    public void Outbound(DeliverBatch delivery, string? error = null)
    {
        if (delivery.Environment != "development" || !HasSubscribers) return;
        Publish(new LiveMessage("outbound", delivery.Input, delivery.Mpid, delivery.BatchId, delivery.OutputId,
            JsonNode.Parse(delivery.Payload)!.AsObject(), error));
    }

    private void Publish(LiveMessage message)
    {
        lock (_lock)
            foreach (var subscriber in _subscribers) subscriber.Writer.TryWrite(message);
    }

    public async IAsyncEnumerable<LiveMessage> SubscribeAsync([EnumeratorCancellation] CancellationToken ct)
    {
        var channel = Channel.CreateBounded<LiveMessage>(new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropOldest });
        lock (_lock) _subscribers.Add(channel);
        try
        {
            await foreach (var message in channel.Reader.ReadAllAsync(ct)) yield return message;
        }
        finally
        {
            lock (_lock) _subscribers.Remove(channel);
        }
    }
}

/// <summary>
/// <c>GET /api/admin/live-stream?input=&amp;mpid=&amp;direction=inbound|outbound|both</c>: Server-Sent Events, one
/// <c>inbound</c> or <c>outbound</c> event per message, its data the JSON of the batch.
/// </summary>
public static class LiveStreamEndpoint
{
    [WolverineGet("/api/admin/live-stream", Name = "Live Stream (Server-Sent Events)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)] // the web UI's Live Stream page reads it with its session
    public static IResult Get(LiveStream live, HttpContext context, WorkspaceDirectory directory, ClaimsPrincipal user, string? input, long? mpid, string? direction) =>
        TypedResults.ServerSentEvents(Lines(live, SeenBy(AdminAccess.Of(user), directory), input, mpid, direction ?? "both", context.RequestAborted));

    /// <summary>A user limited to some workspaces sees the batches of their workspaces' inputs only.</summary>
    private static Func<LiveMessage, bool> SeenBy(AdminAccess access, WorkspaceDirectory directory) => message =>
        access.SeesAll || (directory.InputByName(message.Input) is { } input && access.Sees(input.Workspace.Id));

    private static async IAsyncEnumerable<SseItem<string>> Lines(LiveStream live, Func<LiveMessage, bool> visible, string? input, long? mpid, string direction,
        [EnumeratorCancellation] CancellationToken ct)
    {
        // A first comment line tells the client the stream is open before any batch arrives.
        yield return new SseItem<string>("ready", "subscribed");
        await foreach (var message in live.SubscribeAsync(ct))
        {
            if (!visible(message)) continue;
            if (input is not null && message.Input != input) continue;
            if (mpid is not null && message.Mpid != mpid) continue;
            if (direction != "both" && message.Direction != direction) continue;
            var data = new JsonObject
            {
                ["direction"] = message.Direction, ["input"] = message.Input, ["mpid"] = StreamKey.For(message.Mpid), // a string: MPIDs are 64-bit, beyond JavaScript's exact integers
                ["batch_id"] = message.BatchId.ToString(), ["output_id"] = message.OutputId, ["error"] = message.Error, ["batch"] = message.Body.DeepClone(),
            };
            if (message.Rejected) data["rejected"] = true;
            if (message.Warnings is { } warnings) data["warnings"] = new JsonArray(warnings.Select(w => (JsonNode?)w).ToArray());
            yield return new SseItem<string>(data.ToJsonString(), message.Direction);
        }
    }
}
