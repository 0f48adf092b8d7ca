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
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
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
/// to the subscribers of every node. A slow subscriber loses its oldest lines, never slows ingestion down.
/// Across nodes (issue 18): every node LISTENs on one PostgreSQL channel per schema on a dedicated connection. A node
/// with subscribers says so on the channel (at once, then every <see cref="Heartbeat"/>, and when its last one leaves);
/// a node relays its lines as NOTIFYs only while another node's announcement is fresh, so while nobody subscribes
/// anywhere nothing is sent. A NOTIFY holds 8,000 bytes: a larger line is relayed cut (<see cref="ForRelay"/>, with a
/// warning saying so); the node that received the batch shows it whole.
/// </summary>
public sealed class LiveStream(NpgsqlDataSource db, IDocumentStore store, ILogger<LiveStream> logger) : BackgroundService
{
    /// <summary>How often a node with subscribers renews its announcement; other nodes forget it after three missed.</summary>
    public static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(5);
    private const int MaxPayloadBytes = 7_900; // PostgreSQL's limit is 8,000 bytes, with room for the envelope

    private readonly Lock _lock = new();
    private readonly List<Channel<LiveMessage>> _subscribers = [];
    private readonly string _node = Guid.NewGuid().ToString("N")[..12];
    /// <summary>Other nodes with subscribers: node → when its announcement expires (Environment.TickCount64).</summary>
    private readonly Dictionary<string, long> _remote = [];
    private long _remoteUntil;
    private readonly Channel<string> _outgoing = Channel.CreateBounded<string>(new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropOldest });

    private bool HasLocalSubscribers { get { lock (_lock) return _subscribers.Count > 0; } }
    private bool HasRemoteSubscribers => Environment.TickCount64 < Volatile.Read(ref _remoteUntil);

    /// <summary>Someone, on this node or another, watches the Live Stream.</summary>
    public bool HasSubscribers => HasRemoteSubscribers || HasLocalSubscribers;

    /// <summary>The channel of this schema (NOTIFY reaches every schema of the database, so the schema is in the name).</summary>
    private string ChannelName
    {
        get
        {
            var schema = store.Options.DatabaseSchemaName;
            return schema.Length <= 50 ? $"ep_live_{schema}" : $"ep_live_{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(schema)))[..40]}";
        }
    }

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
        // Serialised before the local subscribers read the body on their threads.
        if (HasRemoteSubscribers)
            _outgoing.Writer.TryWrite(JsonSerializer.Serialize(new Relayed(_node, "line", ForRelay(message))));
        PublishHere(message);
    }

    private void PublishHere(LiveMessage message)
    {
        lock (_lock)
            foreach (var subscriber in _subscribers) subscriber.Writer.TryWrite(message);
    }

    public async IAsyncEnumerable<LiveMessage> SubscribeAsync([EnumeratorCancellation] CancellationToken ct)
    {
        var channel = Channel.CreateBounded<LiveMessage>(new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropOldest });
        bool first;
        lock (_lock)
        {
            _subscribers.Add(channel);
            first = _subscribers.Count == 1;
        }
        if (first) Announce("subscribed");
        try
        {
            await foreach (var message in channel.Reader.ReadAllAsync(ct)) yield return message;
        }
        finally
        {
            bool last;
            lock (_lock)
            {
                _subscribers.Remove(channel);
                last = _subscribers.Count == 0;
            }
            if (last) Announce("unsubscribed");
        }
    }

    private void Announce(string kind) => _outgoing.Writer.TryWrite(JsonSerializer.Serialize(new Relayed(_node, kind, null)));

    /// <summary>A line as another node's subscribers get it: whole when it fits in a NOTIFY, else cut, with a warning saying so.</summary>
    public static LiveMessage ForRelay(LiveMessage message)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(message).Length;
        if (bytes <= MaxPayloadBytes) return message;
        var body = new JsonObject();
        foreach (var (name, value) in message.Body)
            if (value is JsonValue) body[name] = value.DeepClone();
        var warning = $"live_stream: the batch ({bytes} bytes) was received by another node and is shown here without its lists and objects " +
                      "(PostgreSQL NOTIFY holds 8,000 bytes); the Live Stream of the node that received it shows it whole.";
        var cut = message with { Body = body, Warnings = [.. message.Warnings ?? [], warning] };
        if (JsonSerializer.SerializeToUtf8Bytes(cut).Length <= MaxPayloadBytes) return cut;
        // Even the scalars and warnings are too long (a huge error text, say): only the identifying fields remain.
        return message with { Body = new JsonObject(), Error = message.Error is null ? null : "(cut)", Warnings = [warning] };
    }

    private sealed record Relayed(string Node, string Kind, LiveMessage? Line);

    /// <summary>Listens on the channel, and sends what this node announces and relays; reconnects after a failure.</summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var listening = await db.OpenConnectionAsync(stoppingToken);
                listening.Notification += (_, e) => Received(e.Payload);
                await using (var listen = listening.CreateCommand())
                {
                    listen.CommandText = $"listen \"{ChannelName}\"";
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }
                Announce("hello"); // nodes with subscribers answer at once, so a node that starts late relays from its first line
                using var failed = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                // A failed send ends the listening too, so both start again on fresh connections.
                var sending = Task.Run(async () =>
                {
                    try { await SendAsync(failed.Token); }
                    catch (Exception ex) when (!failed.IsCancellationRequested)
                    {
                        logger.LogWarning(ex, "Live Stream: relaying to other nodes failed; reconnecting");
                        await failed.CancelAsync();
                    }
                }, CancellationToken.None);
                try
                {
                    while (!stoppingToken.IsCancellationRequested) await listening.WaitAsync(failed.Token);
                }
                finally
                {
                    await failed.CancelAsync();
                    try { await sending; } catch (OperationCanceledException) { }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Live Stream: the connection that relays between nodes failed; reconnecting");
                try { await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken); } catch (OperationCanceledException) { return; }
            }
        }
    }

    /// <summary>Sends waiting NOTIFYs (several per round trip), and the heartbeat while this node has subscribers.</summary>
    private async Task SendAsync(CancellationToken ct)
    {
        var nextHeartbeat = Environment.TickCount64;
        while (!ct.IsCancellationRequested)
        {
            using (var wait = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                wait.CancelAfter(Heartbeat);
                try { await _outgoing.Reader.WaitToReadAsync(wait.Token); }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested) { }
            }
            var payloads = new List<string>();
            while (payloads.Count < 100 && _outgoing.Reader.TryRead(out var payload)) payloads.Add(payload);
            if (Environment.TickCount64 >= nextHeartbeat)
            {
                nextHeartbeat = Environment.TickCount64 + (long)Heartbeat.TotalMilliseconds;
                if (HasLocalSubscribers) payloads.Add(JsonSerializer.Serialize(new Relayed(_node, "subscribed", null)));
            }
            if (payloads.Count == 0) continue;
            await using var batch = db.CreateBatch();
            foreach (var payload in payloads)
            {
                var notify = new NpgsqlBatchCommand("select pg_notify($1, $2)");
                notify.Parameters.Add(new NpgsqlParameter { Value = ChannelName });
                notify.Parameters.Add(new NpgsqlParameter { Value = payload });
                batch.BatchCommands.Add(notify);
            }
            await batch.ExecuteNonQueryAsync(ct);
        }
    }

    private void Received(string payload)
    {
        Relayed? relayed;
        try { relayed = JsonSerializer.Deserialize<Relayed>(payload); }
        catch (JsonException) { return; }
        if (relayed is null || relayed.Node == _node) return;
        switch (relayed.Kind)
        {
            case "line" when relayed.Line is { } line:
                PublishHere(line);
                break;
            case "subscribed":
                Remember(relayed.Node, Environment.TickCount64 + 3 * (long)Heartbeat.TotalMilliseconds);
                break;
            case "unsubscribed":
                Remember(relayed.Node, null);
                break;
            case "hello" when HasLocalSubscribers:
                Announce("subscribed");
                break;
        }
    }

    private void Remember(string node, long? until)
    {
        lock (_lock)
        {
            if (until is { } u) _remote[node] = u;
            else _remote.Remove(node);
            var now = Environment.TickCount64;
            foreach (var expired in _remote.Where(r => r.Value <= now).Select(r => r.Key).ToList()) _remote.Remove(expired);
            Volatile.Write(ref _remoteUntil, _remote.Count == 0 ? 0 : _remote.Values.Max());
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
