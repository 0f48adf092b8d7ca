using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;
using Npgsql;

namespace EventProfiles.Integration.Tests.Operability;

/// <summary>
/// A Host started with a multi-host connection string over the test cluster and a streaming-replication standby of it
/// (made by build/test with <c>pg_basebackup -R</c>), the standby listed first. Writes still go to the primary (a writer
/// that took the first host would fail on the read-only standby); the Profile API reads its own write at once; the User
/// Activity View and the Platform API list are served by the standby, which is shown by pausing its WAL replay: they
/// lag while the primary has the data. With the standby stopped, those reads fall back to the primary.
/// </summary>
[Collection(AppCollection.Name)]
public class ReadReplicaTests(AppFixture app)
{
    private const string CalculatedAttributes = "/platform/v2/workspaces/1/calculatedattributes";

    [Fact]
    public async Task writes_go_to_the_primary_the_profile_api_reads_its_own_write_and_lagging_reads_come_from_the_standby_until_it_stops()
    {
        var standbyPort = Environment.GetEnvironmentVariable("EVENTPROFILES_TEST_STANDBY_PORT")
            ?? throw new InvalidOperationException("No standby: build/test makes one (EVENTPROFILES_TEST_STANDBY_PORT) for this test.");
        var primary = new NpgsqlConnectionStringBuilder(Environment.GetEnvironmentVariable("ConnectionStrings__EventProfiles"));
        await using var standby = NpgsqlDataSource.Create($"Host=127.0.0.1;Port={standbyPort};Username={primary.Username};Database={primary.Database};Pooling=false");
        await Waiting.Until(async () =>
        {
            try { return await ScalarAsync<bool>(standby, "select pg_is_in_recovery()"); }
            catch (NpgsqlException) { return false; } // still being copied or starting
        }, "the standby to answer, in recovery", 180);

        var multiHost = new NpgsqlConnectionStringBuilder(primary.ConnectionString) { Host = $"127.0.0.1:{standbyPort},{primary.Host}:{primary.Port}" };
        var port = HostProcess.FreePort();
        using var client = HostProcessApi.Client(port);
        var settings = HostProcessApi.Settings(multiHost.ConnectionString, $"{app.Schema}_replica", port);
        settings["EventProfiles__Reads__ProfileApiFromStandby"] = "false"; // the default, said here: read-after-write
        await using var host = HostProcess.Start("Development", settings);
        await host.WaitUntilLiveAsync(client);
        var browser = await SignedInAsync(port);
        var token = await client.TokenAsync();

        // Replicating: a person ingested through the Host (written on the primary) reaches the UAV through the standby.
        var first = Api.NewId("replica");
        await IngestAsync(client, first);
        (await ResolveAsync(client, token, first)).ShouldNotBeNull();
        await Waiting.Until(async () => (await SearchAsync(browser, first)).Count == 1, "the standby to show the first person in the UAV", 60);

        // Replay paused: the standby stops at what it has.
        await ExecuteAsync(standby, "select pg_wal_replay_pause()");
        await Waiting.Until(async () => await ScalarAsync<string>(standby, "select pg_get_wal_replay_pause_state()") == "paused", "replay to pause", 30);
        try
        {
            var second = Api.NewId("replica");
            await IngestAsync(client, second);
            var mpid = await ResolveAsync(client, token, second);
            mpid.ShouldNotBeNull("the Profile API reads its own write at once (primary)");
            using (var profile = await client.BearerAsync(token, HttpMethod.Get, $"/userprofile/v1/1/1/1/{mpid}?fields=user_identities"))
                profile.StatusCode.ShouldBe(HttpStatusCode.OK, await profile.Content.ReadAsStringAsync());
            (await SearchAsync(browser, second)).ShouldBeEmpty("the UAV reads the paused standby");
            using (var page = await browser.GetAsync($"/ui/api/people/{mpid}"))
                page.StatusCode.ShouldBe(HttpStatusCode.NotFound, "the person's UAV page is read from the paused standby");

            // A Platform API write goes to the primary; the single read is on the primary, the list on the standby.
            var attribute = await CreateCalculatedAttributeAsync(client, token);
            using (var one = await client.BearerAsync(token, HttpMethod.Get, $"{CalculatedAttributes}/{attribute}"))
                one.StatusCode.ShouldBe(HttpStatusCode.OK, await one.Content.ReadAsStringAsync());
            (await ListedAttributesAsync(client, token)).ShouldNotContain(attribute);

            // Replay resumed: the standby catches up and the lagging reads show both.
            await ExecuteAsync(standby, "select pg_wal_replay_resume()");
            await Waiting.Until(async () => (await SearchAsync(browser, second)).Count == 1, "the UAV to show the second person after replay resumed", 60);
            await Waiting.Until(async () => (await ListedAttributesAsync(client, token)).Contains(attribute), "the list to show the attribute after replay resumed", 60);
            using (var page = await browser.GetAsync($"/ui/api/people/{mpid}"))
                page.StatusCode.ShouldBe(HttpStatusCode.OK, await page.Content.ReadAsStringAsync());
        }
        finally
        {
            try { await ExecuteAsync(standby, "select pg_wal_replay_resume()"); } catch (NpgsqlException) { } // already resumed
        }

        // Standby stopped: the reads that preferred it are served by the primary (Npgsql's PreferStandby).
        await StopStandbyAsync();
        (await AnswersAsync(standby)).ShouldBeFalse("the standby is stopped");
        var third = Api.NewId("replica");
        await IngestAsync(client, third);
        (await ResolveAsync(client, token, third)).ShouldNotBeNull();
        // A pooled connection to the stopped standby fails the read it was given once; the next ones go to the primary.
        await Waiting.Until(async () =>
        {
            using var response = await browser.GetAsync($"/ui/api/search?q={Uri.EscapeDataString(third)}&type=customer_id");
            return response.StatusCode == HttpStatusCode.OK && JsonNode.Parse(await response.Content.ReadAsStringAsync())!["results"]!.AsArray().Count == 1;
        }, "the UAV to read from the primary with the standby stopped", 60);
        var later = await CreateCalculatedAttributeAsync(client, token);
        (await ListedAttributesAsync(client, token)).ShouldContain(later);
    }

    private static async Task StopStandbyAsync()
    {
        var stop = Environment.GetEnvironmentVariable("EVENTPROFILES_TEST_STANDBY_STOP")
            ?? throw new InvalidOperationException("build/test says how to stop the standby (EVENTPROFILES_TEST_STANDBY_STOP).");
        using var process = Process.Start(new ProcessStartInfo("bash") { ArgumentList = { "-c", stop }, UseShellExecute = false })!;
        await process.WaitForExitAsync();
        process.ExitCode.ShouldBe(0);
    }

    private static async Task<bool> AnswersAsync(NpgsqlDataSource db)
    {
        try { await ExecuteAsync(db, "select 1"); return true; }
        catch (NpgsqlException) { return false; }
    }

    private static async Task<HttpClient> SignedInAsync(int port)
    {
        var browser = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false })
            { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        using var response = await browser.SignIn("admin", "admin-password");
        response.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        return browser;
    }

    private static async Task<JsonArray> SearchAsync(HttpClient browser, string customer) =>
        (await browser.UiJson($"/ui/api/search?q={Uri.EscapeDataString(customer)}&type=customer_id"))["results"]!.AsArray();

    private static async Task IngestAsync(HttpClient client, string customer)
    {
        using var request = HostProcessApi.Batch(customer, "Replica test");
        using var response = await client.SendAsync(request);
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
    }

    /// <summary>The MPID the Profile API resolves the customer id to, or null when it finds no one.</summary>
    private static async Task<string?> ResolveAsync(HttpClient client, string token, string customer)
    {
        using var response = await client.BearerAsync(token, HttpMethod.Post, "/userprofile/v1/resolve/1/1/1?fields=user_identities",
            $$"""{ "environment_type": "development", "identity": { "type": "customer_id", "value": "{{customer}}" } }""");
        var text = await response.Content.ReadAsStringAsync();
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!["mpid"]!.ToString();
    }

    private static async Task<string> CreateCalculatedAttributeAsync(HttpClient client, string token)
    {
        var definition = """
            { "recipe_type": "event", "data_point": { "type": "event", "event_type": "custom_event", "event_name": "Replica test", "attribute_name": null },
              "conditions": [], "calculation_type": "count", "time_period": { "type": "within", "within": 30, "within_unit": "days" } }
            """;
        var name = $"replica_{Guid.NewGuid():N}"[..24];
        using var created = await client.BearerAsync(token, HttpMethod.Post, CalculatedAttributes, $$"""{ "name": "{{name}}", "draft_definition": {{definition}} }""");
        var id = await created.Content.ReadAsStringAsync();
        created.StatusCode.ShouldBe(HttpStatusCode.OK, id);
        return id;
    }

    private static async Task<List<string>> ListedAttributesAsync(HttpClient client, string token)
    {
        using var response = await client.BearerAsync(token, HttpMethod.Get, CalculatedAttributes);
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!.AsArray().Select(a => a!["id"]!.ToString()).ToList();
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlDataSource db, string sql)
    {
        await using var command = db.CreateCommand(sql);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static async Task ExecuteAsync(NpgsqlDataSource db, string sql)
    {
        await using var command = db.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}
