using Marten;
using Marten.Services;
using Npgsql;

namespace EventProfiles.Commands.Api;

/// <summary>
/// Where connections go when the connection string names a primary and standbys (<c>Host=primary,standby</c>).
/// <see cref="Primary"/> is the data source everything that writes (and every read that a decision depends on) takes:
/// it is what DI hands out as <see cref="NpgsqlDataSource"/> and what Marten and Wolverine's message store are given.
/// <see cref="MayLag"/> prefers a standby and falls back to the primary when none answers (Npgsql's
/// <c>PreferStandby</c>). With a single host both are the same data source and nothing changes.
/// <see cref="Ingestion"/> is the ingestion writers' own pool on the primary, <see cref="Resolver"/> the resolver's.
/// </summary>
public sealed class Databases : IAsyncDisposable
{
    private readonly NpgsqlDataSource _root;
    private readonly NpgsqlDataSource _ingestionRoot;
    private readonly NpgsqlDataSource _resolverRoot;

    private Databases(NpgsqlDataSource root, NpgsqlDataSource primary, NpgsqlDataSource mayLag, bool hasStandby,
        (NpgsqlDataSource Root, NpgsqlDataSource Primary) ingestion, (NpgsqlDataSource Root, NpgsqlDataSource Primary) resolver) =>
        (_root, Primary, MayLag, HasStandby, _ingestionRoot, Ingestion, _resolverRoot, Resolver) =
        (root, primary, mayLag, hasStandby, ingestion.Root, ingestion.Primary, resolver.Root, resolver.Primary);

    public NpgsqlDataSource Primary { get; }

    /// <summary>
    /// The ingestion hot path's pool (issue 15): the same primary, but its statements are prepared once per connection
    /// and a connection goes back to the pool without a reset. Each group ran ~10 statements that PostgreSQL parsed and
    /// planned every time, behind a <c>DISCARD ALL</c> per checkout: preparing them and skipping the reset cut
    /// PostgreSQL's CPU per batch by ~22 % and raised single-batch ingestion by ~20 % (docs/operations.md, "Prepared
    /// ingestion statements"). Safe without a reset because nothing on this path leaves session state behind: its locks
    /// are transaction-scoped (<c>pg_advisory_xact_lock</c>, <c>for update</c>), it sets no session settings and makes
    /// no temporary tables. Nothing else may take connections from it.
    /// </summary>
    public NpgsqlDataSource Ingestion { get; }

    /// <summary>
    /// The ingestion resolver's pool: <see cref="Ingestion"/>'s settings plus <see cref="LookupPlans"/> in the
    /// connection's startup options (its look-ups join an unnest of the group's keys to tables that grow from empty).
    /// Set per session on a connection of the writers' pool, the settings went back to that pool with the connection (no
    /// reset) when the resolver replaced it after an error; in a pool of its own they cannot.
    /// </summary>
    public NpgsqlDataSource Resolver { get; }

    /// <summary>For reads that may show a slightly older state (the User Activity View, Platform API lists).</summary>
    public NpgsqlDataSource MayLag { get; }

    public bool HasStandby { get; }

    public static bool IsMultiHost(string connectionString) => new NpgsqlConnectionStringBuilder(connectionString).Host?.Contains(',') == true;

    public static Databases For(string connectionString, string name)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString) { Name = name };
        var ingestion = new NpgsqlDataSourceBuilder(IngestionConnectionString(connectionString)) { Name = name + "-ingestion" };
        var resolver = new NpgsqlDataSourceBuilder(ResolverConnectionString(connectionString)) { Name = name + "-resolver" };
        if (!IsMultiHost(connectionString))
        {
            var single = builder.Build();
            var ingestionSingle = ingestion.Build();
            var resolverSingle = resolver.Build();
            return new(single, single, single, false, (ingestionSingle, ingestionSingle), (resolverSingle, resolverSingle));
        }
        var multiHost = builder.BuildMultiHost();
        var ingestionMultiHost = ingestion.BuildMultiHost();
        var resolverMultiHost = resolver.BuildMultiHost();
        return new(multiHost, multiHost.WithTargetSession(TargetSessionAttributes.Primary),
            multiHost.WithTargetSession(TargetSessionAttributes.PreferStandby), true,
            (ingestionMultiHost, ingestionMultiHost.WithTargetSession(TargetSessionAttributes.Primary)),
            (resolverMultiHost, resolverMultiHost.WithTargetSession(TargetSessionAttributes.Primary)));
    }

    /// <summary>The ingestion pool's connection string with <see cref="LookupPlans"/> for every statement (the operator's own options kept).</summary>
    public static string ResolverConnectionString(string connectionString)
    {
        var settings = new NpgsqlConnectionStringBuilder(IngestionConnectionString(connectionString));
        settings.Options = string.IsNullOrWhiteSpace(settings.Options) ? LookupPlans.StartupOptions : $"{settings.Options} {LookupPlans.StartupOptions}";
        return settings.ConnectionString;
    }

    /// <summary>The operator's connection string with the hot path's settings, unless the operator chose them.</summary>
    public static string IngestionConnectionString(string connectionString)
    {
        var settings = new NpgsqlConnectionStringBuilder(connectionString);
        // The group's statements (GroupAppend, IngestionStorage, the identity look-ups, Wolverine's outbox insert) are
        // about 12 texts; 32 leaves room for the rare ones (reactivation, synchronous calculations).
        if (!connectionString.Contains("Auto Prepare", StringComparison.OrdinalIgnoreCase) && !connectionString.Contains("AutoPrepare", StringComparison.OrdinalIgnoreCase))
            (settings.MaxAutoPrepare, settings.AutoPrepareMinUsages) = (32, 2);
        if (!connectionString.Contains("Reset", StringComparison.OrdinalIgnoreCase)) settings.NoResetOnClose = true;
        return settings.ConnectionString;
    }

    public async ValueTask DisposeAsync()
    {
        await _resolverRoot.DisposeAsync();
        await _ingestionRoot.DisposeAsync();
        await _root.DisposeAsync();
    }
}

/// <summary>
/// A Marten query session for reads that may lag: on a standby when there is one. Marten's own
/// <c>MultiHostSettings.ReadSessionPreference</c> would send every query session of the store to the standby (the
/// loads before a decision, the Profile API's explanations, the name checks of Platform API writes), so the store keeps
/// the primary and only the endpoints that take this open their session on the standby.
/// </summary>
public sealed class LaggingReads(IDocumentStore store, Databases databases)
{
    public NpgsqlDataSource DataSource => databases.MayLag;

    public async Task<IQuerySession> QuerySessionAsync(CancellationToken ct)
    {
        if (!databases.HasStandby) return store.QuerySession();
        // An open connection makes Marten use it (and dispose it with the session) rather than take one of its own.
        var connection = await databases.MayLag.OpenConnectionAsync(ct);
        try { return store.QuerySession(SessionOptions.ForConnection(connection)); }
        catch { await connection.DisposeAsync(); throw; }
    }
}

/// <summary>
/// How the hot path plans its look-ups by key (the resolver's, the writer's load, the streams' version update): once per
/// connection (a generic plan, kept with the prepared statement), with index paths and nested loops only. They join an
/// unnest of the group's keys to tables that grow from empty, and a generic plan made while a table was small (a hash
/// join over a sequential scan) stayed cached as the table grew, until the next ANALYZE: 1.8–3.4 ms instead of 0.05 ms a
/// look-up (docs/operations.md, "Prepared ingestion statements"). Planning each execution instead cost 19 % of
/// PostgreSQL's statement time in the full pipeline (stop 31). Without the scan and hash paths the plan made on an empty
/// table is the one a large table wants, so it can be kept.
/// </summary>
public static class LookupPlans
{
    private static readonly (string Name, string Value)[] Settings =
        [("plan_cache_mode", "force_generic_plan"), ("enable_seqscan", "off"), ("enable_hashjoin", "off"), ("enable_mergejoin", "off")];

    /// <summary>For a connection's startup packet (<c>Options</c>): every statement of the session.</summary>
    public static string StartupOptions { get; } = string.Join(' ', Settings.Select(s => $"-c {s.Name}={s.Value}"));

    /// <summary>From here to <see cref="Reset"/> (or the end of the transaction); no result sets.</summary>
    public static IReadOnlyList<string> Set { get; } = Settings.Select(s => $"set local {s.Name} = {s.Value}").ToArray();

    /// <summary>Back to the session's settings for the statements after the look-ups (the group's writes).</summary>
    public static IReadOnlyList<string> Reset { get; } = Settings.Select(s => $"set local {s.Name} to default").ToArray();
}
