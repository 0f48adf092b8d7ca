using EventProfiles.Domain.Catalog;
using EventProfiles.Domain.Ingestion;
using Marten;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Weasel.Postgresql.Tables;

namespace EventProfiles.Commands.Catalog;

/// <summary>
/// The catalog's tables: one row per name (first and last seen, total) and one per name and day (the volume), plus the
/// overflow count per workspace. Written only by <see cref="CatalogRecorder"/>, never in an ingestion transaction.
/// </summary>
public static class CatalogStorage
{
    public const string NamesTable = "ep_catalog";
    public const string DaysTable = "ep_catalog_days";
    public const string OverflowTable = "ep_catalog_overflow";
    /// <summary>Daily volumes older than this are deleted (the page shows 7 days; names and totals stay).</summary>
    public const int DaysKept = 35;

    public static StoreOptions AddCatalog(this StoreOptions opts)
    {
        var names = new Table($"{opts.DatabaseSchemaName}.{NamesTable}");
        names.AddColumn<int>("workspace_id").AsPrimaryKey();
        names.AddColumn<string>("kind").AsPrimaryKey();
        names.AddColumn<string>("event_type").AsPrimaryKey();
        names.AddColumn<string>("name").AsPrimaryKey();
        names.AddColumn<DateTimeOffset>("first_seen").NotNull();
        names.AddColumn<DateTimeOffset>("last_seen").NotNull();
        names.AddColumn<long>("total").NotNull();
        opts.Storage.ExtendedSchemaObjects.Add(names);
        var days = new Table($"{opts.DatabaseSchemaName}.{DaysTable}");
        days.AddColumn<int>("workspace_id").AsPrimaryKey();
        days.AddColumn<string>("kind").AsPrimaryKey();
        days.AddColumn<string>("event_type").AsPrimaryKey();
        days.AddColumn<string>("name").AsPrimaryKey();
        days.AddColumn<DateOnly>("day").AsPrimaryKey();
        days.AddColumn<long>("count").NotNull();
        opts.Storage.ExtendedSchemaObjects.Add(days);
        var overflow = new Table($"{opts.DatabaseSchemaName}.{OverflowTable}");
        overflow.AddColumn<int>("workspace_id").AsPrimaryKey();
        overflow.AddColumn<long>("dropped").NotNull();
        opts.Storage.ExtendedSchemaObjects.Add(overflow);
        return opts;
    }

    /// <summary>Everything one node counted since its last write, in ONE statement (unnest arrays, data-modifying CTEs).</summary>
    public static async Task WriteAsync(NpgsqlDataSource db, string schema, IReadOnlyList<CatalogCount> counts, IReadOnlyDictionary<int, long> overflow, CancellationToken ct)
    {
        await using var command = db.CreateCommand(
            $"with u as (select * from unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::date[], $6::bigint[], $7::timestamptz[], $8::timestamptz[]) " +
            "  as u(ws, kind, et, name, day, n, first_at, last_at)), " +
            $"names as (insert into {schema}.{NamesTable} as c (workspace_id, kind, event_type, name, first_seen, last_seen, total) " +
            "  select ws, kind, et, name, min(first_at), max(last_at), sum(n) from u group by ws, kind, et, name " +
            "  on conflict (workspace_id, kind, event_type, name) do update set last_seen = greatest(c.last_seen, excluded.last_seen), " +
            "    first_seen = least(c.first_seen, excluded.first_seen), total = c.total + excluded.total), " +
            $"days as (insert into {schema}.{DaysTable} as d (workspace_id, kind, event_type, name, day, count) select ws, kind, et, name, day, n from u " +
            "  on conflict (workspace_id, kind, event_type, name, day) do update set count = d.count + excluded.count) " +
            $"insert into {schema}.{OverflowTable} as o (workspace_id, dropped) select * from unnest($9::int[], $10::bigint[]) " +
            "on conflict (workspace_id) do update set dropped = o.dropped + excluded.dropped");
        command.Parameters.Add(new NpgsqlParameter { Value = counts.Select(c => c.Name.WorkspaceId).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = counts.Select(c => c.Name.Kind).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = counts.Select(c => c.Name.EventType).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = counts.Select(c => c.Name.Name).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = counts.Select(c => c.Day).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = counts.Select(c => c.Count).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = counts.Select(c => c.FirstAt.UtcDateTime).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = counts.Select(c => c.LastAt.UtcDateTime).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = overflow.Keys.ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = overflow.Values.ToArray() });
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>A workspace's stored names (at most the limit exist), read once per node to apply the bound.</summary>
    public static async Task<List<CatalogName>> StoredNamesAsync(NpgsqlDataSource db, string schema, int workspaceId, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"select kind, event_type, name from {schema}.{NamesTable} where workspace_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = workspaceId });
        var names = new List<CatalogName>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) names.Add(new CatalogName(workspaceId, reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        return names;
    }

    public static async Task PruneDaysAsync(NpgsqlDataSource db, string schema, DateOnly before, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"delete from {schema}.{DaysTable} where day < $1");
        command.Parameters.Add(new NpgsqlParameter { Value = before });
        await command.ExecuteNonQueryAsync(ct);
    }
}

/// <summary>
/// Counts the catalog's names on the ingestion path in memory (a few dictionary updates per batch, no SQL), and writes
/// this node's counts every second in one statement, like the delivered counters (<c>OutputCounters</c>).
/// Setting: <c>EventProfiles:Catalog:NamesPerWorkspace</c> (default 10,000).
/// </summary>
public sealed class CatalogRecorder(NpgsqlDataSource db, IDocumentStore store, TimeProvider clock, IConfiguration configuration, ILogger<CatalogRecorder> logger)
    : BackgroundService
{
    public const string LimitSetting = "EventProfiles:Catalog:NamesPerWorkspace";
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private readonly CatalogTally _tally = new(Math.Max(1, configuration.GetValue(LimitSetting, 10_000)));
    private readonly string _schema = store.Options.DatabaseSchemaName;
    private DateOnly _prunedOn;

    public int Limit => _tally.Limit;

    /// <summary>A committed batch's names (called after the commit, never fails the batch).</summary>
    public void Record(int workspaceId, Batch batch, DateTimeOffset receivedAt)
    {
        lock (_lock) _tally.Add(workspaceId, batch, receivedAt);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        try { while (await timer.WaitForNextTickAsync(stoppingToken)) await FlushAsync(stoppingToken); }
        catch (OperationCanceledException) { }
        await FlushAsync(CancellationToken.None); // what was counted before the stop
    }

    /// <summary>Writes what was counted; on a database error it is kept for the next tick.</summary>
    public async Task FlushAsync(CancellationToken ct)
    {
        try
        {
            List<int> unloaded;
            lock (_lock) unloaded = [.. _tally.Unloaded];
            foreach (var ws in unloaded)
            {
                var stored = await CatalogStorage.StoredNamesAsync(db, _schema, ws, ct);
                lock (_lock) _tally.Reconcile(ws, stored);
            }
            IReadOnlyList<CatalogCount> counts;
            IReadOnlyDictionary<int, long> overflow;
            lock (_lock) (counts, overflow) = _tally.Take();
            if (counts.Count > 0 || overflow.Count > 0)
            {
                try { await CatalogStorage.WriteAsync(db, _schema, counts, overflow, ct); }
                catch (Exception e) when (e is NpgsqlException or OperationCanceledException)
                {
                    lock (_lock) _tally.Restore(counts, overflow);
                    throw;
                }
            }
            var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
            if (_prunedOn != today)
            {
                await CatalogStorage.PruneDaysAsync(db, _schema, today.AddDays(-CatalogStorage.DaysKept), ct);
                _prunedOn = today;
            }
        }
        catch (NpgsqlException e)
        {
            logger.LogWarning(e, "The catalog's counts were not written; they are written with the next ones");
        }
    }
}
