using System.Net.Http.Headers;
using JasperFx.CommandLine;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EventProfiles.Integration.Tests.Fixtures;

/// <summary>
/// The real Host on Kestrel (a real port, real HTTP) against the real PostgreSQL that build/test starts,
/// in a schema of its own per run. Data is not reset between tests: every test uses its own identities,
/// so a failing test's data stays for inspection.
/// </summary>
public sealed class AppFixture : IAsyncLifetime
{
    /// <summary>Input configured for the recordings in Fixtures/real-clients (their fake key and secret).</summary>
    public const string RecordedKey = "test-key";
    public const string RecordedSecret = "test-secret";
    /// <summary>A second server input of workspace 1, to send from two sources.</summary>
    public const string SecondKey = "second-key";
    public const string SecondSecret = "second-secret";

    /// <summary>An input only the forwarding tests send to, so their connections see no other test's batches.</summary>
    public const string ForwardingInput = "forwarding-server";
    public const string ForwardingKey = "fwd-key";
    public const string ForwardingSecret = "fwd-secret";

    /// <summary>A web UI user limited to workspace 2.</summary>
    public const string SupportUser = "support";
    public const string SupportPassword = "support-password";
    /// <summary>A web UI user only the sign-in lock-out test uses (it stays locked out for 15 minutes).</summary>
    public const string LockoutUser = "lockout";
    public const string LockoutPassword = "lockout-password";

    /// <summary>A Profile API client of workspace 1 that may only read (profiles, audiences, calculated attributes).</summary>
    public const string ReadOnlyClient = "readonly-client";
    public const string ReadOnlySecret = "readonly-client-secret";
    /// <summary>A Profile API client of workspace 1 configured without scopes (so: profiles:read only).</summary>
    public const string PlainClient = "plain-client";
    public const string PlainSecret = "plain-client-secret";
    /// <summary>A Profile API client of workspace 3 with every scope, for the per-workspace limit test only.</summary>
    public const string LimitsClient = "limits-client";
    public const string LimitsSecret = "limits-client-secret";

    /// <summary>Input of a third workspace that only the rate-limit test uses, so spending its budget affects nobody else.</summary>
    public const string LimitedKey = "limited-key";
    public const string LimitedSecret = "limited-secret";

    /// <summary>The most events a read of a person's past folds in this run (EventProfiles:Profiles:HistoryMaxEvents).</summary>
    public const int HistoryMaxEvents = 300;
    /// <summary>Inputs of workspaces 4 and 5, which only the catalog's tests use; the catalog keeps <see cref="CatalogLimit"/> names per workspace here.</summary>
    public const string CatalogInput = "catalog-server";
    public const string CatalogKey = "catalog-key";
    public const string CatalogBoundInput = "catalog-bound-server";
    public const string CatalogBoundKey = "catalog-bound-key";
    public const string CatalogSecret = "catalog-secret";
    public const int CatalogLimit = 100;

    private WebApplicationFactory<Program>? _factory;

    public HttpClient Client { get; private set; } = null!;
    public string Schema { get; } = $"test_{DateTime.UtcNow:yyyyMMdd_HHmmss}_{Random.Shared.Next(1000, 9999)}";
    public NpgsqlDataSource Db { get; private set; } = null!;
    public IServiceProvider Services => _factory!.Services;
    public CapturedLogs Logs { get; } = new();
    /// <summary>The Host's <see cref="TimeProvider"/>: real time, movable forward by a test.</summary>
    public TestClock Clock { get; } = new();

    /// <summary>Where files outputs of this run may write (EventProfiles:Forwarding:Files:Root).</summary>
    public string FilesRoot => Path.Combine(Path.GetTempPath(), $"eventprofiles-{Schema}-files");

    public async Task InitializeAsync()
    {
        var connection = Environment.GetEnvironmentVariable("EVENTPROFILES_TEST_CONNECTION")
            ?? throw new InvalidOperationException(
                "EVENTPROFILES_TEST_CONNECTION is not set. Run the tests with build/test, which starts a throwaway PostgreSQL and sets it.");

        // Environment variables win over appsettings.Development.json and are read before Program builds the host.
        Set("ConnectionStrings__EventProfiles", connection);
        Set("EventProfiles__Schema", Schema);
        // One node: Marten's daemon runs the shard here at once (the default, Balanced, waits for a leader to place
        // it); the two-node tests start Hosts of their own in Balanced mode.
        Set("EventProfiles__Durability", "Solo");
        AddInput(2, "recorded-sdks", RecordedKey, RecordedSecret);
        Set("EventProfiles__Org__Accounts__0__Workspaces__0__Inputs__2__AllowKeyOnly", "true"); // the web SDK recordings use x-mp-key alone
        AddInput(3, "second-server", SecondKey, SecondSecret);
        AddInput(4, ForwardingInput, ForwardingKey, ForwardingSecret);
        Set("EventProfiles__Dsr__RequestsPerMinute", "300"); // reachable in a test, above what status polling in the others needs
        Set("EventProfiles__Org__Accounts__0__Workspaces__2__Id", "3");
        Set("EventProfiles__Org__Accounts__0__Workspaces__2__Name", "Limited");
        Set("EventProfiles__Org__Accounts__0__Workspaces__2__Inputs__0__Name", "limited-server");
        Set("EventProfiles__Org__Accounts__0__Workspaces__2__Inputs__0__Kind", "Server");
        Set("EventProfiles__Org__Accounts__0__Workspaces__2__Inputs__0__Key", LimitedKey);
        Set("EventProfiles__Org__Accounts__0__Workspaces__2__Inputs__0__Secret", LimitedSecret);
        Set("EventProfiles__Org__Accounts__0__Workspaces__2__Inputs__0__Environment", "development"); // small, so the OpenDSR rate limit can be reached in a test
        // Two workspaces of the catalog's tests only (its names and its bound, small here so a test can reach it).
        Set("EventProfiles__Catalog__NamesPerWorkspace", CatalogLimit.ToString(System.Globalization.CultureInfo.InvariantCulture));
        AddWorkspace(3, 4, "Catalog", CatalogInput, CatalogKey, CatalogSecret);
        AddWorkspace(4, 5, "Catalog bound", CatalogBoundInput, CatalogBoundKey, CatalogSecret);
        Set("EventProfiles__Forwarding__RetryDelaysMs__0", "100"); // retries quickly, so an outage in a test is short
        Set("EventProfiles__Forwarding__RetryDelaysMs__1", "200");
        Set("EventProfiles__Forwarding__RetryDelaysMs__2", "400");
        Set("EventProfiles__Forwarding__RetryDelaysMs__3", "800");
        Set("EventProfiles__Forwarding__RetryDelaysMs__4", "1600");
        Set("EventProfiles__CalculatedAttributes__ReplayChunk", "2"); // a replay saves several chunks, one committing while the next is read
        Set("EventProfiles__Audiences__EvaluationChunk", "50"); // an activation evaluates everyone in several transactions, one committing while the next is read
        Set("EventProfiles__Forwarding__Warehouse__IntervalMs", "1000"); // warehouse micro-batches every second, so a test sees its rows soon
        Set("EventProfiles__Forwarding__Files__IntervalMs", "1000"); // files outputs flush every second too
        Set("EventProfiles__Forwarding__Files__RowGroupRows", "3"); // small row groups, so a test can roll files by size with a few events
        Set("EventProfiles__Forwarding__Files__Root", FilesRoot); // the only place files outputs of this run may write
        Set("EventProfiles__Profiles__HistoryMaxEvents", HistoryMaxEvents.ToString(System.Globalization.CultureInfo.InvariantCulture)); // small, so a test can pass the bound of a read of the past
        Set("EventProfiles__Admin__Users__1__Name", SupportUser); // a web UI user who sees workspace 2 only
        Set("EventProfiles__Admin__Users__1__Password", SupportPassword);
        Set("EventProfiles__Admin__Users__1__Workspaces__0", "2");
        Set("EventProfiles__Admin__Users__2__Name", LockoutUser); // only the sign-in lock-out test uses it
        Set("EventProfiles__Admin__Users__2__Password", LockoutPassword);
        AddClient(2, ReadOnlyClient, ReadOnlySecret, 1, "profiles:read", "audiences:read", "calculated_attributes:read");
        AddClient(3, PlainClient, PlainSecret, 1);
        AddClient(4, LimitsClient, LimitsSecret, 3, "profiles:read", "audiences:read", "audiences:write", "calculated_attributes:read", "calculated_attributes:write");
        Set("EventProfiles__ForwardedHeaders__KnownProxies__0", "127.0.0.1"); // the tests' "proxy": throttle tests guess from forwarded addresses of their own
        Set("EventProfiles__Operations__Folder", Path.Combine(Path.GetTempPath(), $"eventprofiles-{Schema}")); // exports and uploads of this run
        Set("Logging__LogLevel__Default", Environment.GetEnvironmentVariable("EVENTPROFILES_TEST_LOGLEVEL") ?? "Warning");
        Set("ASPNETCORE_URLS", "http://127.0.0.1:0"); // a free port, never a developer's running service

        JasperFxEnvironment.AutoStartHost = true; // Program ends in RunJasperFxCommands
        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b
            .UseEnvironment("Development")
            .ConfigureTestServices(services => services.AddSingleton<TimeProvider>(Clock))
            .ConfigureLogging(logging => logging.AddProvider(Logs).AddFilter<CapturedLogs>(null, LogLevel.Information)));
        _factory.UseKestrel(0);
        _factory.StartServer();
        Client = _factory.CreateClient();
        Client.Timeout = TimeSpan.FromSeconds(60);
        Db = NpgsqlDataSource.Create(connection);
        await Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        if (_factory is not null) await _factory.DisposeAsync();
        if (Db is not null) await Db.DisposeAsync();
    }

    /// <summary>A client of the same server without default headers, for precise header tests.</summary>
    public HttpClient NewClient() => new() { BaseAddress = Client.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

    public static AuthenticationHeaderValue Basic(string key, string secret) =>
        new("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{key}:{secret}")));

    private static void AddWorkspace(int index, int id, string name, string input, string key, string secret)
    {
        var prefix = $"EventProfiles__Org__Accounts__0__Workspaces__{index}__";
        Set(prefix + "Id", id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Set(prefix + "Name", name);
        Set(prefix + "Inputs__0__Name", input);
        Set(prefix + "Inputs__0__Kind", "Server");
        Set(prefix + "Inputs__0__Key", key);
        Set(prefix + "Inputs__0__Secret", secret);
        Set(prefix + "Inputs__0__Environment", "development");
    }

    private static void AddInput(int index, string name, string key, string secret)
    {
        var prefix = $"EventProfiles__Org__Accounts__0__Workspaces__0__Inputs__{index}__";
        Set(prefix + "Name", name);
        Set(prefix + "Kind", "Server");
        Set(prefix + "Key", key);
        Set(prefix + "Secret", secret);
        Set(prefix + "Environment", "development");
    }

    private static void AddClient(int index, string clientId, string secret, int workspace, params string[] scopes)
    {
        var prefix = $"EventProfiles__ProfileApiClients__{index}__";
        Set(prefix + "ClientId", clientId);
        Set(prefix + "ClientSecret", secret);
        Set(prefix + "Workspaces__0", workspace.ToString(System.Globalization.CultureInfo.InvariantCulture));
        for (var i = 0; i < scopes.Length; i++) Set(prefix + $"Scopes__{i}", scopes[i]);
    }

    private static void Set(string name, string value) => Environment.SetEnvironmentVariable(name, value);
}

[CollectionDefinition(Name)]
public sealed class AppCollection : ICollectionFixture<AppFixture>
{
    public const string Name = "app";
}
