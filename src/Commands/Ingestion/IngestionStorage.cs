using EventProfiles.Commands.Api;
using EventProfiles.Commands.Identity;
using EventProfiles.Commands.Streams;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;
using Marten;
using Npgsql;
using Weasel.Postgresql.Tables;

namespace EventProfiles.Commands.Ingestion;

/// <summary>
/// Write-side bookkeeping tables of ingestion, created and migrated by Marten with the rest of the schema.
/// They are dedupe keys, not read models: written by the ingestion writer in the same transaction as the append.
/// The ingestion pipeline's own SQL is here too: what it reads before deciding and the dedupe rows it writes.
/// </summary>
public static class IngestionStorage
{
    /// <summary>(input, source_request_id) of accepted batches: a repeated request id is answered 202 and not appended again.</summary>
    public const string RequestsTable = "ep_ingest_requests";

    /// <summary>(mpid, source_message_id) of stored events: a repeated message id in the same stream is stored once.</summary>
    public const string MessagesTable = "ep_event_message_ids";

    public static StoreOptions AddIngestionTables(this StoreOptions opts)
    {
        var schema = opts.DatabaseSchemaName;

        var requests = new Table($"{schema}.{RequestsTable}");
        requests.AddColumn<string>("input").AsPrimaryKey();
        requests.AddColumn<string>("source_request_id").AsPrimaryKey();
        requests.AddColumn<long>("mpid").NotNull();
        requests.AddColumn<DateTimeOffset>("received_at").NotNull();
        opts.Storage.ExtendedSchemaObjects.Add(requests);

        var messages = new Table($"{schema}.{MessagesTable}");
        messages.AddColumn<long>("mpid").AsPrimaryKey();
        messages.AddColumn<string>("source_message_id").AsPrimaryKey();
        opts.Storage.ExtendedSchemaObjects.Add(messages);
        return opts;
    }

    /// <summary>Which of these request ids are stored, and for which MPID (read by the resolver with the identity lookup).</summary>
    public static NpgsqlBatchCommand StoredRequests(string schema, IReadOnlyCollection<(string Input, string Id)> requests) => Command(
        $"select r.input, r.source_request_id, r.mpid from {schema}.{RequestsTable} r " +
        "join unnest($1::text[], $2::text[]) q(i, s) on r.input = q.i and r.source_request_id = q.s",
        [requests.Select(r => r.Input).ToArray(), requests.Select(r => r.Id).ToArray()]);

    public static async Task ReadStoredRequestsAsync(NpgsqlDataReader reader, Dictionary<(string, string), long> stored)
    {
        while (await reader.ReadAsync()) stored[(reader.GetString(0), reader.GetString(1))] = reader.GetInt64(2);
    }

    /// <summary>What a writer reads before deciding, under the streams' locks.</summary>
    /// <param name="Streams">Each existing stream's version and archived flag, read under its lock.</param>
    /// <param name="ContestedOwners">Holders of the contested identities, read under their cross-node locks.</param>
    public sealed record GroupLoad(Dictionary<long, Profile> Profiles, Dictionary<long, IReadOnlySet<string>> MessageIds,
        Dictionary<long, (long Version, bool IsArchived)> Streams, Dictionary<IdentityKey, List<IdentityOwner>> ContestedOwners);

    /// <summary>
    /// The writer's load, ONE round trip in the group's transaction: lock the group's streams (see <see cref="StreamLocks"/>),
    /// then, under those locks, read their versions, their profile documents and which of the group's source_message_ids they already hold.
    /// The profiles are read here rather than with a Marten LoadMany (a second round trip): the table is named through
    /// Marten's mapping and the documents read with Marten's serializer, as the Profile API reads them.
    /// Only when the group gives a new person identities nobody held at lookup (<see cref="IdentityClaim.Contested"/>) do
    /// two statements go first: their cross-node locks (<see cref="IdentityLocks"/>) and, under them, their holders now.
    /// Other features' reads for the group (<paramref name="parts"/>) go last, in the same round trip.
    /// </summary>
    public static async Task<GroupLoad> LoadGroupAsync(NpgsqlConnection connection, IDocumentStore store, string[] keysInLockOrder,
        IReadOnlyCollection<MessageRow> wanted, IReadOnlyCollection<IdentityKey> contested, IReadOnlyList<IGroupRead>? parts = null)
    {
        var schema = store.Options.DatabaseSchemaName;
        await using var batch = connection.CreateBatch();
        // The look-ups below keep one plan per connection with index paths only (LookupPlans says why); the writes after
        // them go back to the session's settings with the last look-up.
        foreach (var set in LookupPlans.Set) batch.BatchCommands.Add(new NpgsqlBatchCommand(set));
        if (contested.Count > 0)
        {
            batch.BatchCommands.Add(IdentityLocks.Command(contested));
            batch.BatchCommands.Add(IdentityIndexQueries.Owners(schema, contested));
        }
        batch.BatchCommands.Add(StreamLocks.Command(schema, keysInLockOrder));
        batch.BatchCommands.Add(Command(
            $"select data from {store.Options.FindOrResolveDocumentType(typeof(Profile)).TableName.QualifiedName} where id = any($1)",
            [keysInLockOrder]));
        batch.BatchCommands.Add(Command(
            $"select m.mpid, m.source_message_id from {schema}.{MessagesTable} m " +
            "join unnest($1::bigint[], $2::text[]) q(mpid, id) on m.mpid = q.mpid and m.source_message_id = q.id",
            [wanted.Select(p => p.Mpid).ToArray(), wanted.Select(p => p.Id).ToArray()]));
        foreach (var part in parts ?? [])
            foreach (var command in part.Commands()) batch.BatchCommands.Add(command);
        foreach (var reset in LookupPlans.Reset) batch.BatchCommands.Add(new NpgsqlBatchCommand(reset));

        var serializer = store.Options.Serializer();
        var profiles = new Dictionary<long, Profile>();
        var messageIds = new Dictionary<long, HashSet<string>>();
        await using var reader = await batch.ExecuteReaderAsync();
        var contestedOwners = new Dictionary<IdentityKey, List<IdentityOwner>>();
        if (contested.Count > 0)
        {
            await reader.NextResultAsync(); // past the locks' count
            await IdentityIndexQueries.ReadOwnersAsync(reader, contestedOwners);
            await reader.NextResultAsync();
        }
        var streams = new Dictionary<long, (long, bool)>();
        while (await reader.ReadAsync())
            if (StreamKey.TryParse(reader.GetString(0), out var locked))
                streams[locked] = (reader.IsDBNull(1) ? 0 : reader.GetInt64(1), !reader.IsDBNull(2) && reader.GetBoolean(2));
        await reader.NextResultAsync();
        while (await reader.ReadAsync())
        {
            var profile = serializer.FromJson<Profile>(reader, 0);
            profiles[profile.Mpid] = profile;
        }
        await reader.NextResultAsync();
        while (await reader.ReadAsync())
        {
            var mpid = reader.GetInt64(0);
            if (!messageIds.TryGetValue(mpid, out var set)) messageIds[mpid] = set = new HashSet<string>(StringComparer.Ordinal);
            set.Add(reader.GetString(1));
        }
        foreach (var part in parts ?? [])
        {
            await reader.NextResultAsync();
            await part.ReadAsync(reader);
        }
        return new GroupLoad(profiles, messageIds.ToDictionary(x => x.Key, x => (IReadOnlySet<string>)x.Value), streams, contestedOwners);
    }

    /// <summary>Queues the group's dedupe rows in the session, so they commit with the append in one transaction.</summary>
    public static void QueueDedupeRows(IDocumentSession session, string schema, GroupOutcome outcome)
    {
        var requests = outcome.RequestRows;
        if (requests.Count > 0)
            session.QueueSqlCommand(
                $"insert into {schema}.{RequestsTable} (input, source_request_id, mpid, received_at) " +
                "select * from unnest(?::text[], ?::text[], ?::bigint[], ?::timestamptz[])",
                requests.Select(r => r.Input).ToArray(), requests.Select(r => r.Id).ToArray(),
                requests.Select(r => r.Mpid).ToArray(), requests.Select(r => r.ReceivedAt.ToUniversalTime()).ToArray());
        var messages = outcome.MessageRows;
        if (messages.Count > 0)
            session.QueueSqlCommand(
                $"insert into {schema}.{MessagesTable} (mpid, source_message_id) " +
                "select * from unnest(?::bigint[], ?::text[]) on conflict do nothing",
                messages.Select(r => r.Mpid).ToArray(), messages.Select(r => r.Id).ToArray());
    }

    // Not `params object[]`: a single string[] argument would be taken as the parameter list itself.
    private static NpgsqlBatchCommand Command(string sql, IReadOnlyList<object> parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var p in parameters) command.Parameters.Add(new NpgsqlParameter { Value = p });
        return command;
    }
}
