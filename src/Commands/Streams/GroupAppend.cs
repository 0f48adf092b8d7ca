using EventProfiles.Commands.Api;
using EventProfiles.Domain.Profiles;
using EventProfiles.Projections;
using EventProfiles.Projections.Identity;
using EventProfiles.Projections.Profiles;
using Marten;
using Marten.Services;
using NpgsqlTypes;

namespace EventProfiles.Commands.Streams;

/// <summary>One stream's part of a group append: the version it had when locked (null: no stream yet), the events to
/// append in order, and the profile they fold to.</summary>
public sealed record StreamAppend(long Mpid, long? StoredVersion, IReadOnlyList<object> Events, Profile Profile);

/// <summary>
/// Appends a whole group of streams with a fixed number of set-based statements, queued in the caller's session so
/// they travel in its one SaveChanges round trip and commit with everything else the group writes: new streams'
/// <c>mt_streams</c> rows, existing streams' versions, ALL event rows in one multi-row insert, the profile documents
/// (one upsert) and the identity-index rows (one delete, one insert). The statement count does not grow with the
/// number of batches or streams.
/// <para>
/// A deliberate exception to "Marten's tables through Marten's API": Marten (9.62) appends one stream per call
/// (<c>mt_quick_append_events</c>, a plpgsql loop inserting the events row by row) and then runs the inline
/// projections per stream, which was half of the database's time under single-batch load. We write the same rows Marten's
/// quick append writes (sequence, ids, versions, type names and .NET type names from Marten's event mappings, data
/// from Marten's serializer, tenant, server timestamps) and the same documents and index rows the inline projections
/// would produce (<see cref="Projections.Profiles.ProfileProjection"/> folds with the same Domain code the decision
/// used; <see cref="IdentityIndexProjection.Changes"/> is the projection's own rule). The inline projections stay
/// registered for rebuilds and for every other writer; they do not run on these events because nothing is appended
/// through the session's event store. Callers must hold the streams' locks (<see cref="StreamLocks"/>), which is what
/// makes the versions read under them safe to continue from.
/// </para>
/// </summary>
public sealed class GroupAppend
{
    private readonly DocumentStore _store;
    private readonly ISerializer _serializer;
    private readonly string _schema;
    private readonly TypedSql _insertStreams;
    private readonly TypedSql _updateStreams;
    private readonly TypedSql _upsertProfiles;
    private readonly string _profileDotNetType;
    private readonly IdentityIndexWriter _index;

    public GroupAppend(IDocumentStore store)
    {
        _store = (DocumentStore)store;
        var schema = store.Options.DatabaseSchemaName;
        _serializer = store.Options.Serializer();
        _schema = schema;
        var streams = $"{schema}.mt_streams";
        var profiles = store.Options.FindOrResolveDocumentType(typeof(Profile)).TableName.QualifiedName;
        _profileDotNetType = typeof(Profile).FullName!;
        // Streams first: the events' foreign key needs them. Same values as mt_quick_append_events (type null for
        // Append, the default tenant, now()).
        _insertStreams = new TypedSql(
            $"insert into {streams} (id, type, version, timestamp, tenant_id) " +
            "select k, null, v, now(), '*DEFAULT*' from unnest(?::varchar[], ?::bigint[]) s(k, v)");
        _updateStreams = new TypedSql(
            $"update {streams} s set version = greatest(s.version, u.v), timestamp = now() " +
            "from unnest(?::varchar[], ?::bigint[]) u(k, v) where s.id = u.k");
        // The profile documents as the inline projection stores them: the revision is the stream's version, and the
        // duplicated LastStoredAt column beside the document.
        const string storedAt = ProfileProjection.LastStoredAtColumn;
        _upsertProfiles = new TypedSql(
            $"insert into {profiles} (id, data, mt_version, mt_dotnet_type, mt_last_modified, {storedAt}) " +
            "select k, d, v, ?, transaction_timestamp(), l from unnest(?::varchar[], ?::jsonb[], ?::bigint[], ?::timestamptz[]) p(k, d, v, l) " +
            "on conflict (id) do update set data = excluded.data, mt_version = excluded.mt_version, " +
            $"mt_dotnet_type = excluded.mt_dotnet_type, mt_last_modified = excluded.mt_last_modified, {storedAt} = excluded.{storedAt}");
        _index = new IdentityIndexWriter(schema);
    }

    /// <summary>Queues the group's writes in the session (nothing is sent until SaveChanges); the index rows by the group's rules.</summary>
    public void Queue(IDocumentSession session, IReadOnlyList<StreamAppend> streams, Domain.Identity.IdentitySettings identity)
    {
        var newKeys = new List<string>();
        var newVersions = new List<long>();
        var oldKeys = new List<string>();
        var oldVersions = new List<long>();
        var events = new EventRows(_store, _serializer);
        var profileKeys = new List<string>();
        var profileData = new JsonbRows(_serializer);
        var profileVersions = new List<long>();
        var profileStoredAt = new List<DateTimeOffset>();
        var index = new IdentityIndexWriter.Rows();

        foreach (var stream in streams)
        {
            if (stream.Events.Count == 0) continue;
            var key = StreamKey.For(stream.Mpid);
            var version = stream.StoredVersion ?? 0;
            foreach (var e in stream.Events)
            {
                events.Add(key, ++version, e);
                index.Add(stream.Mpid, e);
            }
            (stream.StoredVersion is null ? newKeys : oldKeys).Add(key);
            (stream.StoredVersion is null ? newVersions : oldVersions).Add(version);
            profileKeys.Add(key);
            profileData.Add(stream.Profile);
            profileVersions.Add(version);
            profileStoredAt.Add(stream.Profile.LastStoredAt.ToUniversalTime());
        }
        if (events.Count == 0) return;

        const NpgsqlDbType keys = NpgsqlDbType.Array | NpgsqlDbType.Varchar, versions = NpgsqlDbType.Array | NpgsqlDbType.Bigint;
        if (newKeys.Count > 0) _insertStreams.Queue(session, TypedSql.Of(newKeys, keys), TypedSql.Of(newVersions, versions));
        if (oldKeys.Count > 0)
        {
            // Planned as the writer's look-ups (LookupPlans): a generic plan cached while mt_streams was small (a hash join
            // over a sequential scan) stayed cached as the table grew. Measured in h2 at 100,000 streams: 3.4–3.5 ms per
            // call instead of 0.045 ms, 36 % fewer events/s, in 2 of 4 runs. The inserts after it have no other plan.
            foreach (var set in LookupPlans.Set) session.QueueSqlCommand(set);
            _updateStreams.Queue(session, TypedSql.Of(oldKeys, keys), TypedSql.Of(oldVersions, versions));
            foreach (var reset in LookupPlans.Reset) session.QueueSqlCommand(reset);
        }
        // One insert for every event of the group, in each stream's version order.
        events.QueueInsert(session, _schema);
        _upsertProfiles.Queue(session, TypedSql.Of(_profileDotNetType, NpgsqlDbType.Varchar), TypedSql.Of(profileKeys, keys),
            TypedSql.Of(profileData.Rows, NpgsqlDbType.Array | NpgsqlDbType.Jsonb), TypedSql.Of(profileVersions, versions),
            TypedSql.Of(profileStoredAt, NpgsqlDbType.Array | NpgsqlDbType.TimestampTz));
        _index.Queue(session, index, identity);
    }
}
