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
    /// The ingestion resolver's pool: <see cref="Ingestion"/>'s settings plus <c>plan_cache_mode=force_custom_plan</c>
    /// in the connection's startup options. Its look-ups join an unnest of the group's keys to tables that grow from
    /// empty, and a generic plan cached while a table was small stays as it grows (docs/operations.md, "Prepared
    /// ingestion statements"). Set per session on a connection of the writers' pool, the setting went back to that pool
    /// with the connection (no reset) when the resolver replaced it after an error; in a pool of its own it cannot.
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

    /// <summary>The ingestion pool's connection string, every statement planned per execution (the operator's own options kept).</summary>
    public static string ResolverConnectionString(string connectionString)
    {
        var settings = new NpgsqlConnectionStringBuilder(IngestionConnectionString(connectionString));
        settings.Options = string.IsNullOrWhiteSpace(settings.Options) ? CustomPlans : $"{settings.Options} {CustomPlans}";
        return settings.ConnectionString;
    }

    private const string CustomPlans = "-c plan_cache_mode=force_custom_plan";

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
