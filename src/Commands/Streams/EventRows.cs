using EventProfiles.Projections;
using Marten;
using NpgsqlTypes;

namespace EventProfiles.Commands.Streams;

/// <summary>
/// Event rows as Marten's quick append writes them to <c>mt_events</c> (a new id, the stream's key and next version, the
/// data from Marten's serializer, the type and .NET type names from its event mappings), gathered for one set-based
/// insert. <see cref="GroupAppend"/> appends new events with it; a split or a merge (<c>PeopleRepair</c>) appends copies
/// that keep their original stored time (<paramref name="keepTimes"/>).
/// </summary>
public sealed class EventRows(DocumentStore store, ISerializer serializer, bool keepTimes = false)
{
    private readonly List<Guid> _ids = [];
    private readonly List<string> _streamIds = [];
    private readonly List<long> _versions = [];
    private readonly JsonbRows _data = new(serializer);
    private readonly List<string> _types = [];
    private readonly List<string> _dotnetTypes = [];
    private readonly List<DateTimeOffset?> _storedAt = [];

    public int Count => _ids.Count;

    /// <param name="storedAt">With keepTimes, the time to keep (null: the server's time at commit); otherwise ignored.</param>
    public void Add(string streamKey, long version, object e, DateTimeOffset? storedAt = null)
    {
        var mapping = store.Events.EventMappingFor(e.GetType());
        _ids.Add(Guid.CreateVersion7());
        _streamIds.Add(streamKey);
        _versions.Add(version);
        _data.Add(e);
        _types.Add(mapping.EventTypeName);
        _dotnetTypes.Add(mapping.DotNetTypeName);
        if (keepTimes) _storedAt.Add(storedAt?.ToUniversalTime());
    }

    /// <summary>
    /// Queues one insert of every row. Sequence numbers are drawn after the sort (PostgreSQL evaluates volatile output
    /// expressions after ORDER BY), so they follow the order the rows were added in. The unique (stream_id, version) key
    /// refuses the append if anyone wrote to a stream without its lock.
    /// </summary>
    public void QueueInsert(IDocumentSession session, string schema)
    {
        var statement = Inserts.GetOrAdd((schema, keepTimes), k => Insert(k.Schema, k.KeepTimes));
        TypedSql.Value[] rows =
        [
            TypedSql.Of(_ids, NpgsqlDbType.Array | NpgsqlDbType.Uuid), TypedSql.Of(_streamIds, NpgsqlDbType.Array | NpgsqlDbType.Varchar),
            TypedSql.Of(_versions, NpgsqlDbType.Array | NpgsqlDbType.Bigint), TypedSql.Of(_data.Rows, NpgsqlDbType.Array | NpgsqlDbType.Jsonb),
            TypedSql.Of(_types, NpgsqlDbType.Array | NpgsqlDbType.Varchar), TypedSql.Of(_dotnetTypes, NpgsqlDbType.Array | NpgsqlDbType.Varchar),
        ];
        statement.Queue(session, keepTimes ? [.. rows, TypedSql.Of(_storedAt, NpgsqlDbType.Array | NpgsqlDbType.TimestampTz)] : rows);
    }

    // The statement's text depends only on the schema and the mode: made once, not per group.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string Schema, bool KeepTimes), TypedSql> Inserts = new();

    private static TypedSql Insert(string schema, bool keepTimes)
    {
        var (time, timeArray, timeColumn) = keepTimes ? ("coalesce(ts, now())", ", ?::timestamptz[]", "ts, ") : ("(now() at time zone 'utc')", "", "");
        return new TypedSql(
            $"insert into {schema}.mt_events (seq_id, id, stream_id, version, data, type, tenant_id, timestamp, mt_dotnet_type, is_archived) " +
            $"select nextval('{schema}.mt_events_sequence'), i, s, v, d, t, '*DEFAULT*', {time}, n, false " +
            $"from unnest(?::uuid[], ?::varchar[], ?::bigint[], ?::jsonb[], ?::varchar[], ?::varchar[]{timeArray}) with ordinality e(i, s, v, d, t, n, {timeColumn}o) order by o");
    }
}
