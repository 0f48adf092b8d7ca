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
/// </summary>
public sealed class Databases : IAsyncDisposable
{
    private readonly NpgsqlDataSource _root;

    private Databases(NpgsqlDataSource root, NpgsqlDataSource primary, NpgsqlDataSource mayLag, bool hasStandby) =>
        (_root, Primary, MayLag, HasStandby) = (root, primary, mayLag, hasStandby);

    public NpgsqlDataSource Primary { get; }

    /// <summary>For reads that may show a slightly older state (the User Activity View, Platform API lists).</summary>
    public NpgsqlDataSource MayLag { get; }

    public bool HasStandby { get; }

    public static bool IsMultiHost(string connectionString) => new NpgsqlConnectionStringBuilder(connectionString).Host?.Contains(',') == true;

    public static Databases For(string connectionString, string name)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString) { Name = name };
        if (!IsMultiHost(connectionString))
        {
            var single = builder.Build();
            return new(single, single, single, false);
        }
        var multiHost = builder.BuildMultiHost();
        return new(multiHost, multiHost.WithTargetSession(TargetSessionAttributes.Primary),
            multiHost.WithTargetSession(TargetSessionAttributes.PreferStandby), true);
    }

    public ValueTask DisposeAsync() => _root.DisposeAsync();
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
