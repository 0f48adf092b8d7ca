using System.Text.Json;
using System.Text.Json.Nodes;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;

namespace EventProfiles.Domain.Identity;

// Splits and merges (issue 21 §1). Stored events are immutable, so a move is two facts: the events are decided again on
// the receiving stream (copies, in their original order, with their original stored times), and the giving stream
// records which of its versions no longer count. Every fold of a stream (profile, calculations, rebuilds) folds only
// the visible events (MovedEvents.Visible), so the giving person is what they would be without the moved events.

/// <summary>An event that changes which of its stream's earlier events count: versions hidden from now on, versions visible again.</summary>
public interface IMovesEvents
{
    IReadOnlyList<long> Hidden { get; }
    IReadOnlyList<long> Restored { get; }
}

/// <summary>
/// A person was split (on both streams): the identities (and batches from the inputs) that belonged to someone else
/// went to <paramref name="NewMpid"/> with every stored batch that carried them. On the original, <paramref name="Hidden"/>
/// lists the versions that moved; on the new person it is empty.
/// </summary>
public sealed record PersonSplit(
    string SplitId, long OriginalMpid, long NewMpid, IReadOnlyList<IdentityKey> Identities, IReadOnlyList<string> Inputs,
    IReadOnlyList<Guid> BatchIds, int EventsMoved, IReadOnlyList<long> Hidden, IReadOnlyList<long> Restored,
    string Reason, string By, DateTimeOffset At) : IMovesEvents;

/// <summary>
/// Two people were made one (on both streams): the source's batches and identities were decided again on the
/// destination. On the source, <paramref name="Hidden"/> is everything that moved; when the merge undoes a split
/// (<paramref name="UndoesSplit"/>), the destination is that split's original and <paramref name="Restored"/> gives
/// back the versions the split hid.
/// </summary>
public sealed record PeopleMerged(
    string MergeId, long SourceMpid, long DestinationMpid, string? UndoesSplit, IReadOnlyList<IdentityKey> Identities,
    IReadOnlyList<Guid> BatchIds, int EventsMoved, IReadOnlyList<long> Hidden, IReadOnlyList<long> Restored,
    string Reason, string By, DateTimeOffset At) : IMovesEvents;

/// <summary>One batch as stored on a stream: its record, its captured events and the versions it occupies.</summary>
public sealed record StoredBatch(BatchReceived Received, DateTimeOffset StoredAt, IReadOnlyList<EventCaptured> Events, IReadOnlyList<long> Versions)
{
    private IReadOnlyList<IdentityKey>? _identities;

    /// <summary>The identities the batch carried (user identities and device ids), as ingestion reads them (from its record: they are not in its events).</summary>
    public IReadOnlyList<IdentityKey> Identities() =>
        _identities ??= new ParsedBatch(Received.Batch.Deserialize<Batch>()!, Received.Batch, [], 0).Identities();
}

/// <summary>What moves from a stream: batches, and identity events outside them, in stream order.</summary>
public sealed record MoveSelection(IReadOnlyList<object> Items, IReadOnlyList<long> Hidden, IReadOnlyList<IdentityKey> Identities)
{
    public IEnumerable<StoredBatch> Batches => Items.OfType<StoredBatch>();
    public int EventsMoved => Hidden.Count;
}

public static class MovedEvents
{
    /// <summary>The versions hidden by the stream's moves, as of its end.</summary>
    public static HashSet<long> Hidden(IEnumerable<object> events)
    {
        var hidden = new HashSet<long>();
        foreach (var move in events.OfType<IMovesEvents>())
        {
            hidden.UnionWith(move.Hidden);
            hidden.ExceptWith(move.Restored);
        }
        return hidden;
    }

    /// <summary>
    /// The people a stream's moves gave events to, with the versions of this stream that are hidden because they went to
    /// each (a split's new person, a merge's destination; versions an undo restored are this stream's again). An erasure
    /// of such a receiver deletes these originals too: they are the receiver's data kept hidden here.
    /// </summary>
    public static Dictionary<long, List<long>> GivenTo(IEnumerable<object> events)
    {
        var receiverOf = new Dictionary<long, long>();
        foreach (var move in events.OfType<IMovesEvents>())
        {
            var receiver = move switch { PersonSplit s => s.NewMpid, PeopleMerged m => m.DestinationMpid, _ => 0 };
            foreach (var version in move.Hidden) receiverOf[version] = receiver;
            foreach (var version in move.Restored) receiverOf.Remove(version);
        }
        return receiverOf.GroupBy(x => x.Value).ToDictionary(g => g.Key, g => g.Select(x => x.Key).Order().ToList());
    }

    /// <summary>The people who gave events to the person of this stream (a split's original, a merge's source).</summary>
    public static IReadOnlyList<long> GiversTo(long receiver, IEnumerable<object> events) => events.Select(e => e switch
        {
            PersonSplit s when s.NewMpid == receiver => s.OriginalMpid,
            PeopleMerged m when m.DestinationMpid == receiver => m.SourceMpid,
            _ => 0,
        }).Where(m => m != 0 && m != receiver).Distinct().ToList();

    /// <summary>The events every fold of the stream takes: all but the hidden ones (a stream without moves is returned as it is).</summary>
    public static IReadOnlyList<T> Visible<T>(IReadOnlyList<T> events, Func<T, long> version, Func<T, object> data)
    {
        if (!events.Any(e => data(e) is IMovesEvents)) return events;
        var hidden = Hidden(events.Select(data));
        return hidden.Count == 0 ? events : events.Where(e => !hidden.Contains(version(e))).ToList();
    }
}

/// <summary>The pure part of splits and merges: which stored events move, and what they become on the receiving stream.</summary>
public static class PersonMoves
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.General);

    /// <summary>
    /// The stream's visible events grouped the way ingestion wrote them: a batch is its <see cref="BatchReceived"/> and
    /// the events its decision emitted right after it (its captured events, identities, attributes, consent, devices);
    /// anything else (IDSync identity changes, aliases, seeds, ageing out, moves) stands alone.
    /// </summary>
    public static IReadOnlyList<object> Segments(IReadOnlyList<StoredEvent> stream)
    {
        var visible = MovedEvents.Visible(stream, e => e.Version, e => e.Data);
        var items = new List<object>();
        BatchReceived? open = null;
        var storedAt = default(DateTimeOffset);
        var captured = new List<EventCaptured>();
        var versions = new List<long>();
        void Close()
        {
            if (open is not null) items.Add(new StoredBatch(open, storedAt, captured.ToList(), versions.ToList()));
            open = null;
            captured.Clear();
            versions.Clear();
        }
        foreach (var e in visible)
        {
            if (e.Data is BatchReceived received)
            {
                Close();
                (open, storedAt) = (received, e.StoredAt);
                versions.Add(e.Version);
                continue;
            }
            if (open is not null && FromBatch(open, e.Data))
            {
                if (e.Data is EventCaptured c) captured.Add(c);
                versions.Add(e.Version);
                continue;
            }
            Close();
            items.Add(e);
        }
        Close();
        return items;
    }

    /// <summary>Whether an event right after a batch record was emitted by that batch's decision.</summary>
    private static bool FromBatch(BatchReceived batch, object data) => data switch
    {
        EventCaptured e => e.BatchId == batch.BatchId,
        UserIdentityAdded e => e.Input == batch.Input && e.At == batch.ReceivedAt && e.RequestId is null,
        UserIdentityChanged e => e.Input == batch.Input && e.At == batch.ReceivedAt && e.RequestId is null,
        UserIdentityRemoved e => e.Input == batch.Input && e.At == batch.ReceivedAt && e.RequestId is null,
        UserIdentityIgnored e => e.Input == batch.Input && e.At == batch.ReceivedAt && e.RequestId is null,
        UserAttributeSet e => e.Input == batch.Input,
        UserAttributeRemoved e => e.Input == batch.Input,
        Consent.ConsentStateChanged e => e.Input == batch.Input,
        DeviceSeen or InstallAttributed or OptOutChanged or LimitAdTrackingChanged => true,
        _ => false,
    };

    /// <summary>
    /// A split: every batch that carried one of <paramref name="identities"/> or came from one of <paramref name="inputs"/>
    /// moves, and so does every identity event outside those batches that gave the person one of the identities (an
    /// IDSync login, say). Versions of what moves are hidden on the original. Null with the reason when nothing would move.
    /// </summary>
    public static (MoveSelection? Selection, string? Problem) SelectForSplit(
        IReadOnlyList<StoredEvent> stream, IReadOnlyCollection<IdentityKey> identities, IReadOnlyCollection<string> inputs)
    {
        var items = new List<object>();
        var hidden = new List<long>();
        var segments = Segments(stream);
        foreach (var item in segments)
        {
            switch (item)
            {
                case StoredBatch batch when inputs.Contains(batch.Received.Input) || batch.Identities().Any(identities.Contains):
                    items.Add(batch);
                    hidden.AddRange(batch.Versions);
                    break;
                case StoredEvent { Data: UserIdentityAdded a } e when identities.Contains(new IdentityKey(a.IdentityType, a.Value)):
                    items.Add(e);
                    hidden.Add(e.Version);
                    break;
                case StoredEvent { Data: UserIdentityChanged c } e when identities.Contains(new IdentityKey(c.IdentityType, c.NewValue)):
                    items.Add(e);
                    hidden.Add(e.Version);
                    break;
            }
        }
        if (items.Count == 0) return (null, "no stored batch or identity change of this person carries these identities or inputs");
        // Everything moving is not a split but a new MPID for the same person.
        var moved = items.OfType<StoredBatch>().Select(b => b.Received.BatchId).ToHashSet();
        if (segments.OfType<StoredBatch>().All(b => moved.Contains(b.Received.BatchId)))
            return (null, "every stored batch of this person would move: nothing would be left to the original");
        return (new MoveSelection(items, hidden, identities.ToList()), null);
    }

    /// <summary>
    /// A merge (or the undo of a split): everything of the source's that makes a person moves — its batches, its identity
    /// changes and seeds, in order; <paramref name="after"/> limits it to what came after that version (the undo takes only
    /// what the split's new person received since the split: the rest is given back by restoring the original's versions).
    /// </summary>
    public static MoveSelection SelectForMerge(IReadOnlyList<StoredEvent> stream, long after = 0)
    {
        var items = new List<object>();
        var hidden = new List<long>();
        foreach (var item in Segments(stream))
        {
            switch (item)
            {
                case StoredBatch batch:
                    if (batch.Versions[0] > after) items.Add(batch);
                    hidden.AddRange(batch.Versions);
                    break;
                case StoredEvent { Data: UserIdentityAdded or UserIdentityChanged or UserIdentityIgnored or CalculatedAttributeSeeded } e:
                    if (e.Version > after) items.Add(e);
                    hidden.Add(e.Version);
                    break;
            }
        }
        var identities = Segments(stream).OfType<StoredBatch>().SelectMany(b => b.Identities())
            .Concat(items.OfType<StoredEvent>().Select(e => e.Data).OfType<UserIdentityAdded>().Select(a => new IdentityKey(a.IdentityType, a.Value)))
            .Distinct().ToList();
        return new MoveSelection(items, hidden, identities);
    }

    /// <summary>What the receiving side knows besides the selection: the org's identity rules and inputs, and unique identities others hold.</summary>
    public sealed record Receiving(long Mpid, Profile? Profile, IdentitySettings Identity, Func<string, InputKind> InputKindOf, IReadOnlySet<IdentityKey> HeldByOthers);

    /// <summary>
    /// Decides the selection again on the receiving person, in order, with the ingestion decision itself
    /// (<see cref="BatchDecision"/>: each batch at its own receive time, linking the identities it carried that nobody else
    /// holds), so the receiving person becomes what ingesting those batches would have made of them. Identity events
    /// outside batches are taken as they are. Each result carries the stored time of what it came from.
    /// </summary>
    public static (List<(object Event, DateTimeOffset StoredAt)> Events, Profile? Profile) Redecide(MoveSelection selection, Receiving to)
    {
        var result = new List<(object, DateTimeOffset)>();
        var profile = to.Profile;
        void Emit(object e, DateTimeOffset at)
        {
            result.Add((e, at));
            profile = profile is null ? Profile.Create((ProfileCreated)e) : profile.Evolve(e);
        }
        foreach (var item in selection.Items)
        {
            switch (item)
            {
                case StoredBatch batch:
                    var parsed = Parse(batch);
                    var r = batch.Received;
                    var immutable = profile?.Identities.Where(i => i.Type == to.Identity.ImmutableType).Select(i => i.Value).ToList() ?? [];
                    var link = parsed.Identities()
                        .Where(i => !to.Identity.IsUnique(i.Type) || !to.HeldByOthers.Contains(i))
                        .Where(i => i.Type != to.Identity.ImmutableType || immutable.Count == 0 || immutable.Contains(i.Value))
                        .ToList();
                    var ctx = new IngestionContext(to.Mpid, profile is null, r.WorkspaceId, r.Input, to.InputKindOf(r.Input), r.Environment, r.BatchId,
                        r.ReceivedAt, r.IsHistorical, link, new HashSet<string>(), to.Identity);
                    foreach (var e in BatchDecision.Decide(profile, parsed, ctx)) Emit(e, batch.StoredAt);
                    break;
                case StoredEvent e:
                    if (profile is null) Emit(new ProfileCreated(to.Mpid, e.StoredAt), e.StoredAt);
                    Emit(e.Data, e.StoredAt);
                    break;
            }
        }
        return (result, profile);
    }

    /// <summary>The batch as ingestion parsed it, put together again from its stored record and captured events.</summary>
    public static ParsedBatch Parse(StoredBatch batch)
    {
        var envelope = batch.Received.Batch;
        var whole = JsonNode.Parse(envelope.GetRawText())!.AsObject();
        whole["events"] = new JsonArray(batch.Events
            .Select(e => (JsonNode?)new JsonObject { ["event_type"] = e.EventType, ["data"] = JsonNode.Parse(e.Data.GetRawText()) }).ToArray());
        var typed = whole.Deserialize<Batch>(Json)!;
        return new ParsedBatch(typed, envelope, batch.Events.Select(e => e.Data).ToList(), 0);
    }

    /// <summary>The profile a stream folds to: its visible events, with the one Domain fold (null: no first event).</summary>
    public static Profile? Fold(IReadOnlyList<StoredEvent> stream)
    {
        Profile? profile = null;
        foreach (var e in MovedEvents.Visible(stream, x => x.Version, x => x.Data))
            profile = e.Data is ProfileCreated created ? Profile.Create(created) : profile?.Evolve(e.Data);
        return profile;
    }
}
