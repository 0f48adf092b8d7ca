namespace EventProfiles.Domain.Identity;

/// <summary>A dictionary of lists seen as a read-only dictionary of read-only lists (what the Domain lookup takes).</summary>
public sealed class ListMapView<TKey, TItem>(Dictionary<TKey, List<TItem>> map) : IReadOnlyDictionary<TKey, IReadOnlyList<TItem>>
    where TKey : notnull
{
    public IReadOnlyList<TItem> this[TKey key] => map[key];
    public IEnumerable<TKey> Keys => map.Keys;
    public IEnumerable<IReadOnlyList<TItem>> Values => map.Values;
    public int Count => map.Count;
    public bool ContainsKey(TKey key) => map.ContainsKey(key);
    public bool TryGetValue(TKey key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out IReadOnlyList<TItem> value)
    {
        var found = map.TryGetValue(key, out var list);
        value = list;
        return found;
    }
    public IEnumerator<KeyValuePair<TKey, IReadOnlyList<TItem>>> GetEnumerator() =>
        map.Select(x => KeyValuePair.Create(x.Key, (IReadOnlyList<TItem>)x.Value)).GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
