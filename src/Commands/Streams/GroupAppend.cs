using EventProfiles.Domain.Profiles;
using EventProfiles.Projections.Identity;
using EventProfiles.Projections.Profiles;
using Marten;
using Marten.Services;

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
    private readonly string _streams;
    private readonly string _profiles;
    private readonly string _profileDotNetType;
    private readonly IdentityIndexWriter _index;

    public GroupAppend(IDocumentStore store)
    {
        _store = (DocumentStore)store;
        var schema = store.Options.DatabaseSchemaName;
        _serializer = store.Options.Serializer();
        _schema = schema;
        _streams = $"{schema}.mt_streams";
        _profiles = store.Options.FindOrResolveDocumentType(typeof(Profile)).TableName.QualifiedName;
        _profileDotNetType = typeof(Profile).FullName!;
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
        var profileData = new List<string>();
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
            profileData.Add(_serializer.ToJson(stream.Profile));
            profileVersions.Add(version);
            profileStoredAt.Add(stream.Profile.LastStoredAt.ToUniversalTime());
        }
        if (events.Count == 0) return;

        // Streams first: the events' foreign key needs them. Same values as mt_quick_append_events (type null for
        // Append, the default tenant, now()).
        if (newKeys.Count > 0)
            session.QueueSqlCommand(
                $"insert into {_streams} (id, type, version, timestamp, tenant_id) " +
                "select k, null, v, now(), '*DEFAULT*' from unnest(?::varchar[], ?::bigint[]) s(k, v)",
                newKeys.ToArray(), newVersions.ToArray());
        if (oldKeys.Count > 0)
            session.QueueSqlCommand(
                $"update {_streams} s set version = greatest(s.version, u.v), timestamp = now() " +
                "from unnest(?::varchar[], ?::bigint[]) u(k, v) where s.id = u.k",
                oldKeys.ToArray(), oldVersions.ToArray());
        // One insert for every event of the group, in each stream's version order.
        events.QueueInsert(session, _schema);
        // The profile documents as the inline projection stores them: the revision is the stream's version, and the
        // duplicated LastStoredAt column beside the document.
        session.QueueSqlCommand(
            $"insert into {_profiles} (id, data, mt_version, mt_dotnet_type, mt_last_modified, {ProfileProjection.LastStoredAtColumn}) " +
            "select k, d, v, ?, transaction_timestamp(), l from unnest(?::varchar[], ?::jsonb[], ?::bigint[], ?::timestamptz[]) p(k, d, v, l) " +
            "on conflict (id) do update set data = excluded.data, mt_version = excluded.mt_version, " +
            $"mt_dotnet_type = excluded.mt_dotnet_type, mt_last_modified = excluded.mt_last_modified, {ProfileProjection.LastStoredAtColumn} = excluded.{ProfileProjection.LastStoredAtColumn}",
            _profileDotNetType, profileKeys.ToArray(), profileData.ToArray(), profileVersions.ToArray(), profileStoredAt.ToArray());
        _index.Queue(session, index, identity);
    }
}
