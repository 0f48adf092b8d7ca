using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;

namespace EventProfiles.Domain.Ingestion;

/// <summary>One resolved batch of a writer's group, as the decision sees it.</summary>
public sealed record GroupedBatch(
    ParsedBatch Parsed,
    Input Input,
    InputKind Channel,
    Guid BatchId,
    DateTimeOffset ReceivedAt,
    bool IsHistorical,
    IdentityResolutionResult Resolution)
{
    public string Environment => Parsed.Batch.Environment ?? Input.Environment;
    public (string Input, string Id)? RequestKey =>
        Parsed.Batch.SourceRequestId is { Length: > 0 } id ? (Input.Name, id) : null;
}

/// <summary>
/// One batch decided: the profile before it (after any reactivation) and after it, and the events the batch itself
/// produced (what forwarding sends on).
/// </summary>
public sealed record DecidedBatch(GroupedBatch Batch, Profile? Before, Profile After, IReadOnlyList<object> Events);

/// <summary>A (input, source_request_id) stored with the batch so a repeated request is answered without appending again.</summary>
public readonly record struct RequestRow(string Input, string Id, long Mpid, DateTimeOffset ReceivedAt);

/// <summary>A source_message_id stored in a person's stream, so a client's retry of that event is stored once.</summary>
public readonly record struct MessageRow(long Mpid, string Id);

/// <summary>Everything one group commit writes, decided before anything is written.</summary>
public sealed record GroupOutcome(
    IReadOnlyList<DecidedBatch> Batches,
    IReadOnlyList<(long Mpid, IReadOnlyList<object> Events)> Streams,
    IReadOnlyList<long> Reactivated,
    IReadOnlyList<MessageRow> MessageRows,
    IReadOnlyList<RequestRow> RequestRows);

/// <summary>
/// The writer's decision for a whole group, pure: (stored profiles, stored message ids, resolved batches in order) →
/// the events per stream, the dedupe rows, and per batch its before/after profile. Batches of the same person are
/// applied in order, each on the profile the previous one produced. Aged-out people sending data come back first
/// (Lifetime Profiles, retention-and-privacy.md §3): their reactivation events precede the batch.
/// </summary>
public static class GroupDecision
{
    public static GroupOutcome Decide(
        IReadOnlyList<GroupedBatch> group,
        IReadOnlyDictionary<long, Profile> stored,
        IReadOnlyDictionary<long, IReadOnlySet<string>> storedMessageIds,
        IdentitySettings identity)
    {
        var profiles = new Dictionary<long, Profile?>();
        var streams = new Dictionary<long, List<object>>();
        var seenMessageIds = new Dictionary<long, HashSet<string>>();
        var decided = new List<DecidedBatch>(group.Count);
        var messageRows = new List<MessageRow>();
        var requestRows = new List<RequestRow>();
        var reactivated = stored.Values.Where(p => !p.IsLive).Select(p => p.Mpid).ToList();

        foreach (var batch in group)
        {
            var mpid = batch.Resolution.Mpid;
            var current = profiles.TryGetValue(mpid, out var p) ? p : stored.GetValueOrDefault(mpid);
            if (!streams.TryGetValue(mpid, out var stream)) streams[mpid] = stream = [];
            if (current is { IsLive: false })
                foreach (var e in Reactivation.Events(current, batch.ReceivedAt, batch.Input.Name))
                {
                    stream.Add(e);
                    current = current.Evolve(e);
                }
            if (!seenMessageIds.TryGetValue(mpid, out var seen))
                seenMessageIds[mpid] = seen = storedMessageIds.TryGetValue(mpid, out var known)
                    ? new HashSet<string>(known, StringComparer.Ordinal)
                    : new HashSet<string>(StringComparer.Ordinal);

            var ctx = new IngestionContext(
                mpid, current is null, batch.Input.Workspace.Id, batch.Input.Name, batch.Channel,
                batch.Environment, batch.BatchId, batch.ReceivedAt, batch.IsHistorical,
                batch.Resolution.IdentitiesToLink, seen, identity, batch.Resolution.OtherHolders);
            var (events, next) = BatchDecision.DecideAndFold(current, batch.Parsed, ctx);

            stream.AddRange(events);
            profiles[mpid] = next;
            decided.Add(new DecidedBatch(batch, current, next, events));

            foreach (var captured in events.OfType<EventCaptured>())
                if (captured.SourceMessageId is { } id && seen.Add(id)) messageRows.Add(new MessageRow(mpid, id));
            if (batch.RequestKey is { } key) requestRows.Add(new RequestRow(key.Input, key.Id, mpid, batch.ReceivedAt));
        }

        return new GroupOutcome(
            decided,
            streams.Select(s => (s.Key, (IReadOnlyList<object>)s.Value)).ToList(),
            reactivated, messageRows, requestRows);
    }
}
