using EventProfiles.Commands.Ingestion;
using EventProfiles.Domain.Identity;
using System.Text.Json;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Profiles;
using EventProfiles.Projections.CalculatedAttributes;
using Marten;
using Npgsql;
using Weasel.Postgresql.Tables;

namespace EventProfiles.Commands.CalculatedAttributes;

/// <summary>
/// Where the synchronous calculated attributes live (issue 16 §7): one row per person, <see cref="SynchronousCalculations"/>,
/// written only by the ingestion writer in the transaction that appends the person's events, under the stream lock.
/// Our own table, created with the rest of the schema; the state is stored with Marten's serializer.
/// </summary>
public sealed class SynchronousCalculationsStorage
{
    public const string Table = "ep_sync_calculations";

    private readonly string _table;
    private readonly string _events;
    private readonly ISerializer _serializer;
    /// <summary>Marten's type names of the events the projection reads, and their .NET types.</summary>
    private readonly Dictionary<string, Type> _folded;

    public SynchronousCalculationsStorage(IDocumentStore store)
    {
        var schema = store.Options.DatabaseSchemaName;
        _table = $"{schema}.{Table}";
        _events = $"{schema}.mt_events";
        _serializer = store.Options.Serializer();
        var events = ((DocumentStore)store).Events;
        _folded = PersonCalculationsProjection.EverythingCalculated.ToDictionary(t => events.EventMappingFor(t).EventTypeName, t => t);
    }

    public static StoreOptions AddSynchronousCalculationTables(StoreOptions opts)
    {
        var table = new Table($"{opts.DatabaseSchemaName}.{Table}");
        table.AddColumn<long>("mpid").AsPrimaryKey();
        table.AddColumn<long>("stream_version").NotNull();
        // The activations the state was folded for (a JSON array of strings), compared with @> by the load.
        table.AddColumn("activations", "jsonb").NotNull();
        table.AddColumn("data", "jsonb").NotNull();
        opts.Storage.ExtendedSchemaObjects.Add(table);
        return opts;
    }

    /// <summary>Whether the event is one the projection folds (the synchronous part folds the same ones).</summary>
    public static bool IsFolded(object data) => PersonCalculationsProjection.EverythingCalculated.Contains(data.GetType());

    /// <summary>
    /// The group's read, sent in the writer's load round trip (<see cref="IGroupRead"/>), under the streams' locks: the time
    /// the group's events will be stored with (the transaction's, as GroupAppend writes it), and for each of the people
    /// their state caught up with the stream — the stored row when it was folded for every current definition, then the
    /// stream's events after it of the types the projection reads (events other writers appended: seeds, ageing out,
    /// imports, identities), folded with their own positions and stored times. A row folded for other activations is
    /// ignored and the state folded again from the stream (from the earliest activation's position). A person the group
    /// creates has no row and no events: nothing is read for them.
    /// </summary>
    public GroupStates Read(IReadOnlyCollection<long> mpids, IReadOnlyList<ActiveDefinition> definitions) => new(this, mpids.ToArray(), definitions);

    /// <summary>The states read for one group: <see cref="StoredAt"/> and <see cref="States"/> once the load has run.</summary>
    public sealed class GroupStates(SynchronousCalculationsStorage storage, long[] mpids, IReadOnlyList<ActiveDefinition> definitions) : IGroupRead
    {
        private readonly string _activations = JsonSerializer.Serialize(definitions.Select(d => d.Activation.ToString()).ToArray());

        public IReadOnlyList<ActiveDefinition> Definitions => definitions;
        public DateTimeOffset StoredAt { get; private set; }
        public Dictionary<long, SynchronousCalculations> States { get; } = new();

        // Planned with the rest of the load (LookupPlans): a generic plan made while mt_events was small hashed a
        // sequential scan of ALL of mt_events against the group's people (auto_explain in h4: 4–40 ms per group, growing
        // with the table), where the (stream_id, version) index reads only their events.
        public IEnumerable<NpgsqlBatchCommand> Commands() =>
        [
            new NpgsqlBatchCommand("select (now() at time zone 'utc')::timestamptz"),
            Command($"select data from {storage._table} where mpid = any($1) and activations @> $2::jsonb", mpids, _activations),
            Command(
                $"select k.mpid, e.version, e.seq_id, e.type, e.data, e.timestamp from unnest($1::bigint[]) k(mpid) " +
                $"join {storage._events} e on e.stream_id = k.mpid::text " +
                $"left join {storage._table} s on s.mpid = k.mpid and s.activations @> $2::jsonb " +
                "where e.version > coalesce(s.stream_version, 0) and e.seq_id > $3 and e.type = any($4) order by k.mpid, e.version",
                mpids, _activations, definitions.Min(d => d.LiveAfterSequence), storage._folded.Keys.ToArray()),
        ];

        public async Task ReadAsync(NpgsqlDataReader reader)
        {
            await reader.ReadAsync();
            StoredAt = reader.GetFieldValue<DateTimeOffset>(0);
            await reader.NextResultAsync();
            while (await reader.ReadAsync())
            {
                var state = storage._serializer.FromJson<SynchronousCalculations>(reader, 0);
                States[state.Mpid] = state;
            }
            await reader.NextResultAsync();
            var caughtUp = new List<(long Mpid, long Version, long Sequence, object Data, DateTimeOffset StoredAt)>();
            while (await reader.ReadAsync())
                caughtUp.Add((reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), storage._serializer.FromJson(storage._folded[reader.GetString(3)], reader, 4),
                    reader.GetFieldValue<DateTimeOffset>(5)));
            // Rows come per person in version order; a person whose range holds a split or merge folds only what it left
            // visible (issue 21 §1), as every other fold of the stream does.
            foreach (var person in caughtUp.GroupBy(r => r.Mpid))
            {
                if (!States.TryGetValue(person.Key, out var state)) States[person.Key] = state = SynchronousCalculations.Start(person.Key, definitions);
                foreach (var row in MovedEvents.Visible(person.ToList(), r => r.Version, r => r.Data))
                    state.Fold(row.Data, row.Version, row.Sequence, row.StoredAt, definitions);
            }
        }
    }

    /// <summary>Queues the states' upsert in the writer's session: one statement, committed with the events.</summary>
    public void Queue(IDocumentSession session, IReadOnlyCollection<SynchronousCalculations> states)
    {
        if (states.Count == 0) return;
        session.QueueSqlCommand(
            $"insert into {_table} (mpid, stream_version, activations, data) " +
            "select * from unnest(?::bigint[], ?::bigint[], ?::jsonb[], ?::jsonb[]) " +
            "on conflict (mpid) do update set stream_version = excluded.stream_version, activations = excluded.activations, data = excluded.data",
            states.Select(s => s.Mpid).ToArray(), states.Select(s => s.StreamVersion).ToArray(),
            states.Select(s => JsonSerializer.Serialize(s.Activations.Select(a => a.ToString()).ToArray())).ToArray(),
            states.Select(s => _serializer.ToJson(s)).ToArray());
    }

    /// <summary>SQL deleting the rows of these people (an erasure, a rebuild): their next batch folds them again from the stream.</summary>
    public static string DeleteSql(string schema) => $"delete from {schema}.{Table} where mpid = any(?)";

    private static NpgsqlBatchCommand Command(string sql, params object[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var p in parameters) command.Parameters.Add(new NpgsqlParameter { Value = p });
        return command;
    }
}
