using System.Text.Json.Nodes;
using EventProfiles.Domain.Forwarding;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;
using Marten;
using Wolverine.Marten;
using Wolverine.Runtime;

namespace EventProfiles.Commands.Forwarding;

/// <summary>
/// What one ingestion transaction forwards: for each batch with events, the enriched batch (the profile right after
/// it), through each active connection of its input; the deliveries go into Wolverine's durable queue inside the same
/// transaction (Marten outbox), so a batch is never committed without its deliveries, and after the commit the batches
/// show on the Live Stream. Outputs are reached only through <see cref="DeliverBatchHandler"/>: ingestion does not know
/// what kind of output it feeds.
/// </summary>
public sealed class ForwardingPlan
{
    private readonly ILookup<string, Connection> _connections;
    private readonly List<DeliverBatch> _deliveries = [];
    private readonly List<Action> _afterCommit = [];
    private readonly LiveStream _live;

    private ForwardingPlan(ILookup<string, Connection> connections, LiveStream live)
    {
        _connections = connections;
        _live = live;
    }

    public static async Task<ForwardingPlan> StartAsync(IQuerySession session, LiveStream live, CancellationToken ct)
    {
        var active = await session.Query<Connection>().Where(c => c.Active).ToListAsync(ct);
        return new ForwardingPlan(active.ToLookup(c => c.Input), live);
    }

    public void Add(ParsedBatch batch, string input, string environment, Profile? before, Profile after, IReadOnlyList<object> decided, BatchOrigin origin)
    {
        _afterCommit.Add(() => _live.Inbound(input, after.Mpid, origin.BatchId, environment, () => AsReceived(batch)));

        var connections = _connections[input].ToList();
        if (connections.Count == 0) return;
        if (OutboundBatch.Build(batch, before, after, decided, origin) is not { } outbound) return;
        var workspace = after.Workspace(origin.WorkspaceId);
        foreach (var connection in connections)
            if (ConnectionFilter.Apply(outbound, connection, workspace) is { } payload)
                _deliveries.Add(new DeliverBatch(connection.OutputId, connection.Id, Guid.CreateVersion7(), origin.BatchId, after.Mpid,
                    input, environment, payload.ToJsonString()));
    }

    /// <summary>Puts the deliveries into the session's transaction (durable queue rows and counters).</summary>
    public async Task EnlistAsync(IDocumentSession session, IWolverineRuntime runtime)
    {
        if (_deliveries.Count == 0) return;
        var outbox = new MartenOutbox(runtime, session);
        foreach (var delivery in _deliveries) await outbox.SendAsync(delivery);
        session.CountEnqueued(_deliveries.GroupBy(d => d.OutputId).ToDictionary(g => g.Key, g => g.Count()));
    }

    public void Committed()
    {
        foreach (var action in _afterCommit) action();
    }

    /// <summary>The batch as it arrived (envelope and events), for the Live Stream.</summary>
    private static JsonObject AsReceived(ParsedBatch batch)
    {
        var json = JsonNode.Parse(batch.Envelope.GetRawText())!.AsObject();
        json["events"] = new JsonArray(batch.Events.Select((e, i) => (JsonNode?)new JsonObject
        {
            ["event_type"] = e.EventType, ["data"] = JsonNode.Parse(batch.EventData[i].GetRawText()),
        }).ToArray());
        return json;
    }
}
