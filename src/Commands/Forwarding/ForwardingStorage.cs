using System.Collections.Concurrent;
using EventProfiles.Domain.Forwarding;
using Marten;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Weasel.Postgresql.Tables;

namespace EventProfiles.Commands.Forwarding;

public static class ForwardingStorage
{
    public const string CountersTable = "ep_output_counters";

    /// <summary>Outputs and connections are documents; delivery counters a small table updated in the transactions that change them.</summary>
    public static StoreOptions AddForwarding(this StoreOptions opts)
    {
        opts.Schema.For<Output>().DocumentAlias("output");
        opts.Listeners.Add(new DefinitionChangesListener());
        opts.Schema.For<Connection>().DocumentAlias("connection").Index(c => c.Input);
        var counters = new Table($"{opts.DatabaseSchemaName}.{CountersTable}");
        counters.AddColumn<string>("output_id").AsPrimaryKey();
        counters.AddColumn<long>("enqueued").NotNull().DefaultValueByExpression("0");
        counters.AddColumn<long>("delivered").NotNull().DefaultValueByExpression("0");
        opts.Storage.ExtendedSchemaObjects.Add(counters);
        return opts;
    }

    /// <summary>The upsert that counts deliveries queued for outputs, as part of the ingestion transaction.</summary>
    public static void CountEnqueued(this IDocumentSession session, IReadOnlyDictionary<string, int> perOutput)
    {
        if (perOutput.Count == 0) return;
        session.QueueSqlCommand(
            $"insert into {session.DocumentStore.Options.DatabaseSchemaName}.{CountersTable} as c (output_id, enqueued) " +
            "select * from unnest(?::text[], ?::bigint[]) on conflict (output_id) do update set enqueued = c.enqueued + excluded.enqueued",
            perOutput.Keys.ToArray(), perOutput.Values.Select(v => (long)v).ToArray());
    }
}

/// <summary>
/// Delivered and enqueued counts per output. Deliveries are counted in memory and written every half second, one
/// statement for all outputs, so counting does not cost a round trip per delivery.
/// </summary>
public sealed class OutputCounters(NpgsqlDataSource db, IDocumentStore store) : BackgroundService
{
    private readonly ConcurrentDictionary<string, long> _unflushed = new();
    private string Table => $"{store.Options.DatabaseSchemaName}.{ForwardingStorage.CountersTable}";

    public void Delivered(string outputId) => _unflushed.AddOrUpdate(outputId, 1, (_, n) => n + 1);

    public async Task<(long Enqueued, long Delivered)> ReadAsync(string outputId, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"select enqueued, delivered from {Table} where output_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = outputId });
        await using var reader = await command.ExecuteReaderAsync(ct);
        var (enqueued, delivered) = await reader.ReadAsync(ct) ? (reader.GetInt64(0), reader.GetInt64(1)) : (0, 0);
        return (enqueued, delivered + _unflushed.GetValueOrDefault(outputId));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500));
        try { while (await timer.WaitForNextTickAsync(stoppingToken)) await FlushAsync(); }
        catch (OperationCanceledException) { }
        await FlushAsync(); // what was counted before the stop
    }

    private async Task FlushAsync()
    {
        var taken = new Dictionary<string, long>();
        foreach (var key in _unflushed.Keys)
            if (_unflushed.TryRemove(key, out var n)) taken[key] = n;
        if (taken.Count == 0) return;
        try
        {
            await using var command = db.CreateCommand(
                $"insert into {Table} as c (output_id, delivered) select * from unnest($1::text[], $2::bigint[]) " +
                "on conflict (output_id) do update set delivered = c.delivered + excluded.delivered");
            command.Parameters.Add(new NpgsqlParameter { Value = taken.Keys.ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = taken.Values.ToArray() });
            await command.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
            foreach (var (key, n) in taken) _unflushed.AddOrUpdate(key, n, (_, m) => m + n); // try again at the next tick
        }
    }
}

/// <summary>Outputs as deliveries see them, read at most every two seconds per output (a pause applies within that).</summary>
public sealed class OutputCache(IDocumentStore store, TimeProvider clock)
{
    private readonly ConcurrentDictionary<string, (Output? Output, DateTimeOffset ReadAt)> _outputs = new();
    private static readonly TimeSpan Freshness = TimeSpan.FromSeconds(2);

    public async Task<Output?> GetAsync(string id, CancellationToken ct)
    {
        if (_outputs.TryGetValue(id, out var cached) && clock.GetUtcNow() - cached.ReadAt < Freshness) return cached.Output;
        await using var session = store.QuerySession();
        var output = await session.LoadAsync<Output>(id, ct);
        _outputs[id] = (output, clock.GetUtcNow());
        return output;
    }

    /// <summary>An admin change on this node applies at once.</summary>
    public void Forget(string id) => _outputs.TryRemove(id, out _);
}

/// <summary>
/// The active calculated attributes and audiences, read at most every 2 seconds per node instead of once per ingestion
/// transaction or Profile API read. A change committed on this node applies at once (<see cref="DefinitionChanges"/>);
/// one committed on another node reaches this one within the 2 seconds.
/// </summary>
public sealed class EnrichmentDefinitionsCache(IDocumentStore store, TimeProvider clock)
{
    private static readonly TimeSpan Freshness = TimeSpan.FromSeconds(2);
    private volatile Snapshot? _snapshot;

    /// <param name="Audiences">Active real-time audiences: what enrichment adds.</param>
    /// <param name="Listed">Active or ready audiences of every kind: what the Profile API lists memberships of.</param>
    public sealed record Snapshot(IReadOnlyList<Domain.CalculatedAttributes.CalculatedAttribute> Attributes, IReadOnlyList<Domain.Audiences.Audience> Audiences,
        DateTimeOffset ReadAt, IReadOnlyList<Domain.Audiences.Audience> Listed, long Version);

    public async Task<Snapshot> GetAsync(CancellationToken ct)
    {
        // Taken before reading: a change committed while we read leaves the snapshot already outdated, so it is read again.
        var version = DefinitionChanges.Version;
        if (_snapshot is { } cached && cached.Version == version && clock.GetUtcNow() - cached.ReadAt < Freshness) return cached;
        await using var session = store.QuerySession();
        var batch = session.CreateBatchQuery();
        var attributes = batch.Query<Domain.CalculatedAttributes.CalculatedAttribute>()
            .Where(c => c.Status == Domain.CalculatedAttributes.CalculatedAttributeStatus.Active).ToList();
        var audiences = batch.Query<Domain.Audiences.Audience>()
            .Where(a => a.Status == Domain.Audiences.AudienceStatus.Active || a.Status == Domain.Audiences.AudienceStatus.Ready).ToList();
        await batch.Execute(ct);
        var listed = await audiences;
        var realTime = listed.Where(a => a.Status == Domain.Audiences.AudienceStatus.Active && a.Kind == Domain.Audiences.AudienceKinds.RealTime).ToList();
        return _snapshot = new Snapshot(await attributes, realTime, clock.GetUtcNow(), listed, version);
    }

    /// <summary>A definition or audience changed on this node: the next enrichment reads them again.</summary>
    public void Forget() => _snapshot = null;
}

/// <summary>
/// Counts commits that stored or deleted a calculated attribute or an audience in this process. <see cref="Forget"/>
/// calls inside a handler run before its transaction commits, so a read in between could cache the old definitions
/// again; this count moves after the commit, whichever code path made the change (activation, a standard audience
/// becoming ready, deletion).
/// </summary>
public static class DefinitionChanges
{
    private static long _version;
    public static long Version => Interlocked.Read(ref _version);
    public static void Committed() => Interlocked.Increment(ref _version);
}

/// <summary>Moves <see cref="DefinitionChanges"/> after every commit that touched a definition.</summary>
public sealed class DefinitionChangesListener : DocumentSessionListenerBase
{
    public override Task AfterCommitAsync(IDocumentSession session, Marten.Services.IChangeSet commit, CancellationToken token)
    {
        if (commit.Updated.Concat(commit.Inserted).Any(IsDefinition) || commit.Deleted.Any(d => IsDefinitionType(d.DocumentType)))
            DefinitionChanges.Committed();
        return Task.CompletedTask;
    }

    private static bool IsDefinition(object document) => IsDefinitionType(document.GetType());
    private static bool IsDefinitionType(Type type) =>
        type == typeof(Domain.CalculatedAttributes.CalculatedAttribute) || type == typeof(Domain.Audiences.Audience);
}
