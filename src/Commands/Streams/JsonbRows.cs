using System.Buffers;
using Marten;

namespace EventProfiles.Commands.Streams;

/// <summary>
/// Values for a <c>jsonb[]</c> parameter, serialised once, straight to UTF-8, by Marten's serializer
/// (<see cref="Weasel.Storage.IStorageSerializer.WriteTo"/>: the same System.Text.Json options as its <c>ToJson</c>, so the
/// stored jsonb is what Marten stores) into one growing buffer, and handed to Npgsql as slices of it
/// (<c>ReadOnlyMemory&lt;byte&gt;[]</c>, which Npgsql writes as jsonb without a copy). <c>ToJson</c> made a UTF-16 string per
/// event and profile, which Npgsql then encoded again: ~8 % of the Host's allocations per ingested batch.
/// </summary>
public sealed class JsonbRows(ISerializer serializer)
{
    private readonly ArrayBufferWriter<byte> _buffer = new(4096);
    private readonly List<(int Start, int Length)> _rows = [];

    public int Count => _rows.Count;

    public void Add(object value)
    {
        var start = _buffer.WrittenCount;
        serializer.WriteTo(_buffer, value);
        _rows.Add((start, _buffer.WrittenCount - start));
    }

    /// <summary>The rows, in the order added. Slices are taken once everything is written (the buffer moves as it grows).</summary>
    public ReadOnlyMemory<byte>[] ToArray()
    {
        var written = _buffer.WrittenMemory;
        var rows = new ReadOnlyMemory<byte>[_rows.Count];
        for (var i = 0; i < rows.Length; i++) rows[i] = written.Slice(_rows[i].Start, _rows[i].Length);
        return rows;
    }
}
