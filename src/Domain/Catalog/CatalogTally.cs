using EventProfiles.Domain.Ingestion;

namespace EventProfiles.Domain.Catalog;

/// <summary>What the catalog lists: event names, screen names, user attributes and event attributes.</summary>
public static class CatalogKinds
{
    public const string Event = "event";
    public const string Screen = "screen";
    public const string UserAttribute = "user_attribute";
    public const string EventAttribute = "event_attribute";
    public static readonly IReadOnlyList<string> All = [Event, Screen, UserAttribute, EventAttribute];
}

/// <summary>One name the catalog lists in a workspace. <see cref="EventType"/> is empty for user attributes.</summary>
public readonly record struct CatalogName(int WorkspaceId, string Kind, string EventType, string Name);

/// <summary>How often a name was seen on one day (UTC), and when first and last.</summary>
public sealed record CatalogCount(CatalogName Name, DateOnly Day, long Count, DateTimeOffset FirstAt, DateTimeOffset LastAt);

/// <summary>
/// The catalog's counts of one node between two writes: names seen in accepted batches, per workspace and day. Pure
/// bookkeeping (no I/O, no clock: the batch's time is passed in). A workspace keeps at most <see cref="Limit"/> distinct
/// names; once full, occurrences of new names are only counted as overflow, so a client sending random names cannot
/// grow it (or this node's memory) without bound. Not thread-safe: the caller serialises.
/// </summary>
public sealed class CatalogTally(int limit)
{
    public const int MaxNameLength = 256;

    private readonly Dictionary<(CatalogName Name, DateOnly Day), (long Count, DateTimeOffset First, DateTimeOffset Last)> _counts = new();
    private readonly Dictionary<int, HashSet<CatalogName>> _known = new();
    private readonly Dictionary<int, long> _overflow = new();

    public int Limit { get; } = limit;

    private readonly HashSet<int> _loaded = [];

    /// <summary>Workspaces counted on this node whose stored names it has not read yet.</summary>
    public IReadOnlyList<int> Unloaded => _known.Keys.Where(ws => !_loaded.Contains(ws)).ToList();

    /// <summary>
    /// The names a workspace has stored (read once per node): new names counted before this are kept while there is
    /// room, the rest become overflow.
    /// </summary>
    public void Reconcile(int workspaceId, IEnumerable<CatalogName> stored)
    {
        var known = new HashSet<CatalogName>(stored);
        foreach (var key in _counts.Keys.Where(k => k.Name.WorkspaceId == workspaceId).OrderBy(k => k.Day).ToList())
        {
            if (known.Contains(key.Name)) continue;
            if (known.Count < Limit) { known.Add(key.Name); continue; }
            _overflow[workspaceId] = _overflow.GetValueOrDefault(workspaceId) + _counts[key].Count;
            _counts.Remove(key);
        }
        _known[workspaceId] = known;
        _loaded.Add(workspaceId);
    }

    /// <summary>Counts what a batch accepted at <paramref name="at"/> names.</summary>
    public void Add(int workspaceId, Batch batch, DateTimeOffset at)
    {
        var day = DateOnly.FromDateTime(at.UtcDateTime);
        foreach (var (kind, eventType, name) in NamesIn(batch))
        {
            var key = new CatalogName(workspaceId, kind, Truncate(eventType), Truncate(name));
            if (_counts.TryGetValue((key, day), out var c)) { _counts[(key, day)] = (c.Count + 1, c.First, at > c.Last ? at : c.Last); continue; }
            var known = Known(workspaceId);
            if (!known.Contains(key))
            {
                if (known.Count >= Limit) { _overflow[workspaceId] = _overflow.GetValueOrDefault(workspaceId) + 1; continue; }
                known.Add(key);
            }
            _counts[(key, day)] = (1, at, at);
        }
    }

    /// <summary>Takes everything counted since the last take (the caller writes it, or gives it back with <see cref="Restore"/>).</summary>
    public (IReadOnlyList<CatalogCount> Counts, IReadOnlyDictionary<int, long> Overflow) Take()
    {
        var counts = _counts.Select(kv => new CatalogCount(kv.Key.Name, kv.Key.Day, kv.Value.Count, kv.Value.First, kv.Value.Last)).ToList();
        var overflow = new Dictionary<int, long>(_overflow);
        _counts.Clear();
        _overflow.Clear();
        return (counts, overflow);
    }

    /// <summary>Puts back what a failed write took, so it is written with the next one.</summary>
    public void Restore(IReadOnlyList<CatalogCount> counts, IReadOnlyDictionary<int, long> overflow)
    {
        foreach (var c in counts)
            _counts[(c.Name, c.Day)] = _counts.TryGetValue((c.Name, c.Day), out var now)
                ? (now.Count + c.Count, c.FirstAt < now.First ? c.FirstAt : now.First, c.LastAt > now.Last ? c.LastAt : now.Last)
                : (c.Count, c.FirstAt, c.LastAt);
        foreach (var (ws, n) in overflow) _overflow[ws] = _overflow.GetValueOrDefault(ws) + n;
    }

    public bool IsEmpty => _counts.Count == 0 && _overflow.Count == 0;

    /// <summary>
    /// The names a batch carries: each event's name with its event type (screen views as screens), the attribute names
    /// of its events, and its user attributes. Events without a name (session start, …) name nothing.
    /// </summary>
    public static IEnumerable<(string Kind, string EventType, string Name)> NamesIn(Batch batch)
    {
        foreach (var e in batch.Events ?? [])
        {
            if (e?.EventType is not { Length: > 0 } type || e.Data is not { } data) continue;
            var screen = type == EventTypes.ScreenView;
            if ((screen ? data.ScreenName ?? data.EventName : data.EventName) is { Length: > 0 } name)
                yield return (screen ? CatalogKinds.Screen : CatalogKinds.Event, type, name);
            foreach (var attribute in data.CustomAttributes?.Keys ?? Enumerable.Empty<string>())
                if (attribute.Length > 0) yield return (CatalogKinds.EventAttribute, type, attribute);
        }
        foreach (var attribute in batch.UserAttributes?.Keys ?? Enumerable.Empty<string>())
            if (attribute.Length > 0) yield return (CatalogKinds.UserAttribute, "", attribute);
    }

    /// <summary>Long names are cut (never inside a surrogate pair): the catalog is for picking names, not storing payloads.</summary>
    public static string Truncate(string name)
    {
        if (name.Length <= MaxNameLength) return name;
        var cut = char.IsHighSurrogate(name[MaxNameLength - 1]) ? MaxNameLength - 1 : MaxNameLength;
        return name[..cut];
    }

    private HashSet<CatalogName> Known(int workspaceId)
    {
        if (!_known.TryGetValue(workspaceId, out var known)) _known[workspaceId] = known = [];
        return known;
    }
}
