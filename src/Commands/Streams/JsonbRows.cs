using System.Buffers;
using Marten;

namespace EventProfiles.Commands.Streams;

/// <summary>
/// Values for a <c>jsonb[]</c> parameter, serialised straight to UTF-8 by Marten's serializer
/// (<see cref="Weasel.Storage.IStorageSerializer.WriteTo"/>: the same System.Text.Json options as its <c>ToJson</c>, so the
/// stored jsonb is what Marten stores), each kept as an exact-size <c>byte[]</c>, which Npgsql writes as jsonb as it is.
/// <c>ToJson</c> made a UTF-16 string per event and profile (twice the bytes), which Npgsql then encoded again: ~8 % of
/// the Host's allocations per ingested batch. Each value is written into a per-thread scratch buffer and copied out, so
/// nothing grows by doubling and no group's rows land on the large-object heap (one contiguous buffer for a group of
/// 50 batches would).
/// </summary>
public sealed class JsonbRows(ISerializer serializer)
{
    [ThreadStatic] private static ArrayBufferWriter<byte>? _scratch;
    private readonly List<byte[]> _rows = [];

    public int Count => _rows.Count;

    /// <summary>The rows, in the order added (Npgsql takes the list as the array).</summary>
    public List<byte[]> Rows => _rows;

    public void Add(object value)
    {
        var scratch = _scratch ??= new ArrayBufferWriter<byte>(4096);
        scratch.ResetWrittenCount();
        serializer.WriteTo(scratch, value);
        _rows.Add(scratch.WrittenSpan.ToArray());
        if (scratch.Capacity > 1 << 20) _scratch = null; // an exceptional document: do not keep its buffer
    }
}
