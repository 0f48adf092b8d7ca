using Npgsql;

namespace EventProfiles.Integration.Tests.Fixtures;

/// <summary>
/// Two Host processes (Balanced, the default) over one schema of their own, for the tests of what nodes must share.
/// Started once per test class (the boot is the expensive part on a small box); the nodes are killed at the end.
/// </summary>
public sealed class NodePair : IAsyncLifetime
{
    /// <summary>The OpenDSR rate limit the nodes run with: small, so a test reaches it in a few requests.</summary>
    public const int DsrRequestsPerMinute = 20;

    private readonly List<HostProcess> _hosts = [];

    public string Schema { get; } = $"nodes_{DateTime.UtcNow:yyyyMMdd_HHmmss}_{Random.Shared.Next(1000, 9999)}";
    public HttpClient A { get; private set; } = null!;
    public HttpClient B { get; private set; } = null!;
    public IReadOnlyList<HostProcess> Hosts => _hosts;
    public NpgsqlDataSource Db { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var connection = Environment.GetEnvironmentVariable("EVENTPROFILES_TEST_CONNECTION")
            ?? throw new InvalidOperationException("EVENTPROFILES_TEST_CONNECTION is not set. Run the tests with build/test.");
        Db = NpgsqlDataSource.Create(connection);
        var clients = new List<HttpClient>();
        // One after the other: the first creates the schema, the second finds it.
        for (var i = 0; i < 2; i++)
        {
            var port = HostProcess.FreePort();
            var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
            var host = HostProcess.Start("Development", new Dictionary<string, string>
            {
                ["ConnectionStrings__EventProfiles"] = connection,
                ["EventProfiles__Schema"] = Schema,
                ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
                ["EventProfiles__Dsr__RequestsPerMinute"] = DsrRequestsPerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture),
            });
            _hosts.Add(host);
            clients.Add(client);
            await host.WaitUntilLiveAsync(client);
        }
        (A, B) = (clients[0], clients[1]);
    }

    public string Output => string.Join("\n---\n", _hosts.Select(h => h.Output));

    public async Task DisposeAsync()
    {
        A?.Dispose();
        B?.Dispose();
        foreach (var host in _hosts) await host.DisposeAsync();
        if (Db is not null) await Db.DisposeAsync();
    }
}
