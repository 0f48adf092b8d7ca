using System.Text.Json.Nodes;
using EventProfiles.Commands.Ingestion;
using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Forwarding;
using EventProfiles.Projections.CalculatedAttributes;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;
using Marten;
using Wolverine.Marten;
using Wolverine.Runtime;

namespace EventProfiles.Commands.Forwarding;

/// <summary>
/// What one ingestion transaction forwards: for each batch with events, the enriched batch (the profile right after
/// it), through each active connection of its input; the deliveries are written inside the same transaction (one row per
/// batch and output, one durable <see cref="DeliverBatches"/> envelope per output through the Marten outbox), so a batch
/// is never committed without its deliveries, and after the commit the batches
/// show on the Live Stream. Outputs are reached only through <see cref="DeliverBatchHandler"/>: ingestion does not know
/// what kind of output it feeds.
/// </summary>
public sealed class ForwardingPlan
{
    private readonly ILookup<string, Connection> _connections;
    private readonly List<Outbound> _outbound = [];
    private readonly List<DeliverBatch> _deliveries = [];
    private readonly List<Action> _afterCommit = [];
    private readonly LiveStream _live;
    private readonly TimeProvider _clock;
    private readonly EnrichmentDefinitionsCache _definitions;
    private ComputedDocumentsRead? _preloaded;

    /// <summary>An enriched batch waiting for its calculated attributes, then for its connections' filters.</summary>
    /// <param name="Synchronous">The person's synchronous calculated attributes right after this batch (issue 16 §7), when any are active.</param>
    private sealed record Outbound(JsonObject Batch, IReadOnlyList<Connection> Connections, WorkspaceProfile Workspace, int WorkspaceId,
        long Mpid, Guid BatchId, string Input, string Environment, SynchronousCalculations? Synchronous = null);

    private ForwardingPlan(ILookup<string, Connection> connections, LiveStream live, TimeProvider clock, EnrichmentDefinitionsCache definitions)
    {
        _definitions = definitions;
        _connections = connections;
        _live = live;
        _clock = clock;
    }

    public static async Task<ForwardingPlan> StartAsync(IQuerySession session, LiveStream live, TimeProvider clock, EnrichmentDefinitionsCache definitions, CancellationToken ct)
    {
        // From the cache (moved by every commit that changes a connection on this node), not a query per group.
        var active = (await definitions.GetAsync(ct)).Connections;
        return new ForwardingPlan(active.ToLookup(c => c.Input), live, clock, definitions);
    }

    /// <summary>
    /// A plan that forwards to one connection only, whatever its status: a data replay's (Operations). An inactive
    /// connection receives the replay too (a backfill before it is switched on); its filter and consent rules apply as
    /// for an active one. Before, the inactive flag dropped every batch and the job still reported them replayed.
    /// </summary>
    public static ForwardingPlan ForReplay(Connection connection, LiveStream live, TimeProvider clock, EnrichmentDefinitionsCache definitions) =>
        new(new[] { connection with { Active = true } }.ToLookup(c => c.Input), live, clock, definitions);

    /// <summary>
    /// A stored batch replayed (already built by <see cref="OutboundBatch.Replayed"/>): enriched and filtered like a live
    /// one when enlisted, not shown on the Live Stream as inbound (it did not come in now).
    /// </summary>
    public void AddReplayed(JsonObject outbound, Profile now, BatchOrigin origin, string input, string environment) =>
        _outbound.Add(new Outbound(outbound, _connections[input].ToList(), now.Workspace(origin.WorkspaceId), origin.WorkspaceId, now.Mpid, origin.BatchId, input, environment));

    /// <summary>
    /// The read <see cref="EnlistAsync"/> would make for these batches' people (their calculated values and audience
    /// memberships), for the writer to send in its load round trip; null when no batch of theirs is forwarded with
    /// either (no connection on its input, nothing computed in its workspace). <see cref="EnlistAsync"/> then reads nothing.
    /// </summary>
    public async Task<IGroupRead?> ComputedReadAsync(IDocumentStore store, IEnumerable<(string Input, int WorkspaceId, long Mpid)> batches)
    {
        var forwarded = batches.Where(b => _connections[b.Input].Any()).ToList();
        if (forwarded.Count == 0) return null;
        var computed = await _definitions.GetAsync(CancellationToken.None);
        var workspaces = forwarded.Select(b => b.WorkspaceId).ToHashSet();
        if (computed.Audiences.Count == 0 && !computed.Attributes.Any(c => workspaces.Contains(c.WorkspaceId))) return null;
        return _preloaded = new ComputedDocumentsRead(store, forwarded.Select(b => b.Mpid).Distinct().ToArray());
    }

    /// <summary>How many deliveries the last <see cref="EnlistAsync"/> put into the transaction.</summary>
    public int Deliveries => _deliveries.Count;

    public void Add(ParsedBatch batch, string input, string environment, Profile? before, Profile after, IReadOnlyList<object> decided, BatchOrigin origin,
        SynchronousCalculations? synchronous = null)
    {
        _afterCommit.Add(() => _live.Inbound(input, after.Mpid, origin.BatchId, environment, () => AsReceived(batch), batch.Warnings));

        var connections = _connections[input].ToList();
        if (connections.Count == 0) return;
        if (OutboundBatch.Build(batch, before, after, decided, origin) is not { } outbound) return;
        _outbound.Add(new Outbound(outbound, connections, after.Workspace(origin.WorkspaceId), origin.WorkspaceId, after.Mpid, origin.BatchId, input, environment, synchronous));
    }

    /// <summary>
    /// Adds the people's calculated attributes to their outbound batches (a calculated attribute replaces a user
    /// attribute of the same name, §A7), then puts the deliveries, filtered per connection, into the session's transaction
    /// (durable queue rows and counters). Synchronous calculated attributes come from the writer's own fold, right after
    /// this batch (its own events counted, issue 16 §7); the others from the async projection: they reflect events the
    /// daemon has applied, so this batch's own events show up from the next batch on (mParticle's "async" behaviour).
    /// </summary>
    public async Task EnlistAsync(IDocumentSession session, IWolverineRuntime runtime)
    {
        if (_outbound.Count == 0) return;
        await AddCalculatedAttributesAsync(session);
        // One group per output: its batches in the order they were accepted, one envelope for all of them.
        var groups = new Dictionary<string, Guid>();
        var rows = new List<(Guid GroupId, int Position, DeliverBatch Delivery, int WorkspaceId)>();
        foreach (var o in _outbound)
        {
            string? unfiltered = null; // serialised once for all the connections that block nothing
            foreach (var connection in o.Connections)
                if (ConnectionFilter.Apply(o.Batch, connection, o.Workspace) is { } payload)
                {
                    var json = ReferenceEquals(payload, o.Batch) ? unfiltered ??= payload.ToJsonString() : payload.ToJsonString();
                    var delivery = new DeliverBatch(connection.OutputId, connection.Id, Guid.CreateVersion7(), o.BatchId, o.Mpid,
                        o.Input, o.Environment, json);
                    _deliveries.Add(delivery);
                    if (!groups.TryGetValue(delivery.OutputId, out var groupId)) groups[delivery.OutputId] = groupId = Guid.CreateVersion7();
                    rows.Add((groupId, rows.Count, delivery, o.WorkspaceId)); // the person and workspace: what an erasure deletes it by
                }
        }
        if (_deliveries.Count == 0) return;
        session.QueueDeliveries(rows);
        var outbox = new MartenOutbox(runtime, session);
        foreach (var (outputId, groupId) in groups) await outbox.SendAsync(new DeliverBatches(groupId, outputId));
        session.CountEnqueued(_deliveries.GroupBy(d => d.OutputId).ToDictionary(g => g.Key, g => g.Count()));
    }

    /// <summary>
    /// Adds calculated attributes (as user attributes) and current real-time audience memberships
    /// (<c>audience_memberships</c>, shaped as in the Profile API; mParticle documents no outbound field for them).
    /// </summary>
    private async Task AddCalculatedAttributesAsync(IQuerySession session)
    {
        var workspaces = _outbound.Select(o => o.WorkspaceId).ToHashSet();
        var computed = await _definitions.GetAsync(CancellationToken.None);
        var definitions = computed.Attributes.Where(c => workspaces.Contains(c.WorkspaceId)).ToList();
        var audiences = computed.Audiences;
        if (definitions.Count == 0 && audiences.Count == 0) return;
        var mpids = _outbound.Select(o => o.Mpid).Distinct().ToArray();
        Dictionary<long, PersonCalculations> liveByMpid;
        ILookup<long, InitialisedCalculation> initialisedByMpid;
        if (_preloaded is { } read && mpids.All(read.Asked.Contains))
            (liveByMpid, initialisedByMpid) = (read.Live, read.Initialised);
        else
        {
            var batch = session.CreateBatchQuery();
            var live = batch.LoadMany<PersonCalculations>().ById(mpids.Select(StreamKey.For).ToArray());
            var initialised = batch.Query<InitialisedCalculation>().Where(c => mpids.Contains(c.Mpid)).ToList();
            await batch.Execute();
            liveByMpid = (await live).ToDictionary(l => l.Mpid);
            initialisedByMpid = (await initialised).ToLookup(i => i.Mpid);
        }
        var now = _clock.GetUtcNow();
        foreach (var o in _outbound)
        {
            var person = liveByMpid.GetValueOrDefault(o.Mpid);
            var values = VisibleCalculatedValues.Combine(definitions.Where(d => d.WorkspaceId == o.WorkspaceId), person, initialisedByMpid[o.Mpid], now, o.Synchronous);
            if (values.Count > 0)
            {
                var attributes = o.Batch["user_attributes"] as JsonObject ?? [];
                foreach (var (name, value) in values)
                    attributes[name] = value.List is { } list ? new JsonArray(list.Select(v => (JsonNode?)v).ToArray()) : value.Text;
                o.Batch["user_attributes"] = attributes;
            }
            if (audiences.Count > 0)
                o.Batch["audience_memberships"] = new JsonArray(audiences
                    .Where(a => AudienceMemberships.IsMember(person, initialisedByMpid[o.Mpid], a.Id, a.Activation))
                    .Select(a => (JsonNode?)new JsonObject { ["audience_id"] = a.Id, ["audience_name"] = a.Name }).ToArray());
        }
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

/// <summary>
/// People's documents that forwarding adds to their outbound batches (the async projection's <see cref="PersonCalculations"/>
/// and the replayed <see cref="InitialisedCalculation"/> parts), read in the writer's load round trip. Plain SQL on
/// Marten's tables, named through Marten's mappings, the documents read with Marten's serializer and the <c>Mpid</c>
/// look-up written as the index expression Marten creates (as <see cref="Profiles.ProfileReader"/> reads them).
/// </summary>
public sealed class ComputedDocumentsRead(IDocumentStore store, long[] mpids) : IGroupRead
{
    public IReadOnlySet<long> Asked { get; } = mpids.ToHashSet();
    public Dictionary<long, PersonCalculations> Live { get; } = new();
    public ILookup<long, InitialisedCalculation> Initialised { get; private set; } = Array.Empty<InitialisedCalculation>().ToLookup(i => i.Mpid);

    public IEnumerable<Npgsql.NpgsqlBatchCommand> Commands()
    {
        var live = new Npgsql.NpgsqlBatchCommand($"select data from {TableOf<PersonCalculations>()} where id = any($1)");
        live.Parameters.Add(new Npgsql.NpgsqlParameter { Value = mpids.Select(StreamKey.For).ToArray() });
        var initialised = new Npgsql.NpgsqlBatchCommand($"select data from {TableOf<InitialisedCalculation>()} where CAST(data ->> 'Mpid' as bigint) = any($1)");
        initialised.Parameters.Add(new Npgsql.NpgsqlParameter { Value = mpids });
        return [live, initialised];
    }

    public async Task ReadAsync(Npgsql.NpgsqlDataReader reader)
    {
        var serializer = store.Options.Serializer();
        while (await reader.ReadAsync())
        {
            var person = serializer.FromJson<PersonCalculations>(reader, 0);
            Live[person.Mpid] = person;
        }
        await reader.NextResultAsync();
        var parts = new List<InitialisedCalculation>();
        while (await reader.ReadAsync()) parts.Add(serializer.FromJson<InitialisedCalculation>(reader, 0));
        Initialised = parts.ToLookup(i => i.Mpid);
    }

    private string TableOf<T>() => store.Options.FindOrResolveDocumentType(typeof(T)).TableName.QualifiedName;
}
