using EventProfiles.Commands.Security;
using EventProfiles.Domain.Setup;
using EventProfiles.Domain.Workspaces;
using JasperFx;
using Marten;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EventProfiles.Commands.Setup;

/// <summary>What appsettings seeds into an empty database (the Development configuration: today's demo).</summary>
public sealed record SetupSeed(WorkspaceDirectory Directory, IReadOnlyList<(string Name, string Password, IReadOnlyList<int>? Workspaces)> Users);

/// <summary>
/// Start-up: seeds an empty database from appsettings once (under an advisory lock, so several nodes starting at once
/// seed it once), then reads the configuration. Runs before the Host is built, since the identity rules shape the event
/// store's projections.
/// </summary>
public static class SetupStartup
{
    public static async Task<SetupSnapshot> SeedAndLoadAsync(NpgsqlDataSource db, string schema, SetupSeed seed, SetupSecrets secrets,
        TimeProvider clock, ILogger log, CancellationToken ct = default)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using (var lockCommand = new NpgsqlCommand("select pg_advisory_lock(hashtext($1))", connection))
        {
            lockCommand.Parameters.Add(new NpgsqlParameter { Value = $"{schema}.setup" });
            await lockCommand.ExecuteNonQueryAsync(ct);
        }
        try
        {
            // Under the lock: two nodes running "create … if not exists" at once can both miss the table and one fails
            // on PostgreSQL's catalog (duplicate pg_type row), which build/cluster's two nodes starting together hit.
            await using (var ddl = new NpgsqlCommand(SetupStorage.KeyRingDdl(schema), connection)) await ddl.ExecuteNonQueryAsync(ct);
            // The first key of the key ring is made here, under the lock: every node encrypts with the same key from the start.
            secrets.Reveal(secrets.Store("probe", clock.GetUtcNow()).Protected);
            using var store = DocumentStore.For(o =>
            {
                o.Connection(db);
                o.DatabaseSchemaName = schema;
                o.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
                o.AddSetupDocuments();
            });
            await using var session = store.LightweightSession();
            if (await session.LoadAsync<SetupOrg>(SetupOrg.TheId, ct) is null)
            {
                Seed(session, seed, secrets, clock.GetUtcNow());
                await session.SaveChangesAsync(ct);
                log.LogInformation("The configuration was seeded from appsettings: {Workspaces} workspaces, {Inputs} inputs, {Clients} API clients, {Users} admin users.",
                    seed.Directory.Workspaces.Count(), seed.Directory.Inputs.Count(), seed.Directory.Clients.Count(), seed.Users.Count);
            }
            return await LoadAsync(session, ct);
        }
        finally
        {
            await using var unlock = new NpgsqlCommand("select pg_advisory_unlock(hashtext($1))", connection);
            unlock.Parameters.Add(new NpgsqlParameter { Value = $"{schema}.setup" });
            await unlock.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    private static void Seed(IDocumentSession session, SetupSeed seed, SetupSecrets secrets, DateTimeOffset now)
    {
        var directory = seed.Directory;
        session.Insert(new SetupOrg(SetupOrg.TheId, directory.OrgId, 1, SetupIdentity.From(directory.Identity), now));
        foreach (var w in directory.Workspaces) session.Insert(new SetupWorkspace(w.Id, w.Name, w.AccountId, now));
        foreach (var i in directory.Inputs)
            session.Insert(new SetupInput(i.Name, i.Workspace.Id, i.Kind, i.Environment, i.AllowKeyOnly, i.Key,
                [.. i.AcceptedSecrets.Select(s => secrets.Store(s, now))], false, now));
        foreach (var c in directory.Clients)
            session.Insert(new SetupApiClient(c.ClientId, [.. c.WorkspaceIds.Order()], [.. c.Scopes.Order(StringComparer.Ordinal)],
                [secrets.Store(c.ClientSecret, now)], now));
        foreach (var (name, password, workspaces) in seed.Users)
            session.Insert(new SetupAdminUser(name, AdminUsers.Hash(password), workspaces, now));
        session.Insert(new SetupChange(Guid.NewGuid(), 1, now, "appsettings", SetupChanges.ConfigurationSeeded, "org",
            $"{directory.Workspaces.Count()} workspaces, {directory.Inputs.Count()} inputs, {directory.Clients.Count()} API clients, {seed.Users.Count} admin users"));
    }

    public static async Task<SetupSnapshot> LoadAsync(IQuerySession session, CancellationToken ct)
    {
        var org = await session.LoadAsync<SetupOrg>(SetupOrg.TheId, ct)
            ?? throw new InvalidOperationException("The configuration has not been seeded.");
        return new SetupSnapshot(org,
            [.. await session.Query<SetupWorkspace>().ToListAsync(ct)],
            [.. await session.Query<SetupInput>().ToListAsync(ct)],
            [.. await session.Query<SetupApiClient>().ToListAsync(ct)],
            [.. await session.Query<SetupAdminUser>().ToListAsync(ct)]);
    }

    public static WorkspaceDirectory Directory(SetupSnapshot snapshot, SetupSecrets secrets)
    {
        var (workspaces, inputs, clients) = snapshot.DirectoryParts(secrets.Reveal);
        return new WorkspaceDirectory(snapshot.Org.OrgId, snapshot.Org.Identity.Build(), workspaces, inputs, clients);
    }

    public static IEnumerable<AdminUser> Users(SetupSnapshot snapshot) =>
        snapshot.Users.Select(u => new AdminUser(u.Id, u.PasswordHash, u.Workspaces is { Count: > 0 } w ? w : null));
}

/// <summary>
/// Keeps this node's <see cref="WorkspaceDirectory"/> (identity rules included) and <see cref="AdminUsers"/> equal to
/// the stored configuration: it reads the org's version every <c>EventProfiles:Setup:RefreshMs</c> (one small
/// statement, never one per request) and reads everything again when it moved. The node that made a change refreshes
/// at once (<see cref="RefreshAsync"/>).
/// </summary>
public sealed class SetupRefresh(IDocumentStore store, WorkspaceDirectory directory, AdminUsers users, SetupSecrets secrets,
    TimeSpan interval, ILogger<SetupRefresh> log) : BackgroundService
{
    private readonly SemaphoreSlim _one = new(1, 1);
    private long _version = -1;
    /// <summary>The stored identity rules this node runs with (to rebuild them only when they changed).</summary>
    private SetupIdentity? _identityRunning;

    public long Version => Interlocked.Read(ref _version);

    public void Started(SetupSnapshot snapshot)
    {
        _version = snapshot.Org.Version;
        _identityRunning = snapshot.Org.Identity;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(interval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try { await RefreshAsync(stoppingToken); }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The directory stays as it was (a database outage must not empty it); the next tick tries again.
                log.LogWarning(e, "The stored configuration could not be read; this node keeps the configuration of version {Version}.", Version);
            }
        }
    }

    /// <summary>Reads the configuration when its version moved; true when this node's directory changed.</summary>
    public async Task<bool> RefreshAsync(CancellationToken ct)
    {
        await _one.WaitAsync(ct);
        try
        {
            await using var session = store.QuerySession();
            var org = await session.LoadAsync<SetupOrg>(SetupOrg.TheId, ct);
            if (org is null || org.Version == Version) return false;
            var snapshot = await SetupStartup.LoadAsync(session, ct);
            var (workspaces, inputs, clients) = snapshot.DirectoryParts(secrets.Reveal);
            directory.Replace(workspaces, inputs, clients);
            users.Replace(SetupStartup.Users(snapshot));
            if (_identityRunning is null || !IdentityEquals(_identityRunning, snapshot.Org.Identity))
            {
                // One object swapped in: the ingestion resolver, the writers and IDSync take it once per group or call
                // (docs/identity.md, "Changing the identity settings"); people already resolved stay as they are.
                var rules = snapshot.Org.Identity.Build();
                directory.ReplaceIdentity(rules);
                Operability.Metrics.UseMergeGuards(rules.MergeGuards);
                _identityRunning = snapshot.Org.Identity;
                log.LogInformation("The identity settings changed (configuration version {Version}); this node resolves by them from now on.", snapshot.Org.Version);
            }
            Interlocked.Exchange(ref _version, snapshot.Org.Version);
            return true;
        }
        finally { _one.Release(); }
    }

    private static bool IdentityEquals(SetupIdentity a, SetupIdentity b) =>
        System.Text.Json.JsonSerializer.Serialize(a) == System.Text.Json.JsonSerializer.Serialize(b);
}
