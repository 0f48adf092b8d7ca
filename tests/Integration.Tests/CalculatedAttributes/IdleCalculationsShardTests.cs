using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventProfiles.Commands.CalculatedAttributes;
using EventProfiles.Integration.Tests.Fixtures;
using JasperFx.Events.Daemon;
using Marten;
using Marten.Events;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace EventProfiles.Integration.Tests.CalculatedAttributes;

/// <summary>
/// With nothing calculated, the daemon's calculations shard reads no events but still follows the high-water mark; a
/// calculated attribute activated later counts the earlier events through its initialisation and the later ones live.
/// The shared test host always has some definition active (other tests leave theirs), so this runs a second Host on a
/// schema of its own where nothing is active.
/// </summary>
[Collection(AppCollection.Name)]
public class IdleCalculationsShardTests(AppFixture app)
{
    [Fact]
    public async Task with_nothing_active_the_shard_reads_nothing_yet_keeps_up_and_a_later_activation_counts_every_event()
    {
        var schema = $"{app.Schema}_idle";
        // The Host reads its settings from the environment the fixture set (tests of this collection run one at a time).
        var settings = new Dictionary<string, string?>
        {
            ["EventProfiles__Schema"] = schema,
            ["EventProfiles__Daemon"] = "Solo", // the shared host's daemon holds the HotCold lock
            ["EventProfiles__Calculations__FeedCheckMs"] = "100",
        };
        var saved = settings.Keys.ToDictionary(k => k, Environment.GetEnvironmentVariable);
        await using var host = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b.UseEnvironment("Development"));
        try
        {
            foreach (var (key, value) in settings) Environment.SetEnvironmentVariable(key, value);
            host.UseKestrel(0);
            host.StartServer();
        }
        finally
        {
            foreach (var (key, value) in saved) Environment.SetEnvironmentVariable(key, value);
        }
        using var client = new HttpClient { BaseAddress = host.CreateClient().BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        var store = host.Services.GetRequiredService<IDocumentStore>();
        var keeper = host.Services.GetRequiredService<CalculationsFeedKeeper>();
        var s = Guid.NewGuid().ToString("N")[..8];
        var name = $"Idle{s}";
        var customer = Api.NewId("idle");

        await Ingested(client, Batch(customer, name, DateTimeOffset.UtcNow.AddHours(-2)));
        var daemon = host.Services.GetRequiredService<IProjectionCoordinator>().DaemonForMainDatabase();
        await Waiting.Until(() => Task.FromResult(!keeper.Feed.FetchesEverything),
            $"the shard to stop fetching events (schema {store.Options.DatabaseSchemaName}, agents {string.Join(", ", daemon.CurrentAgents().Select(a => $"{a.Name.Identity} {a.Status}"))})", 30);
        await Ingested(client, Batch(customer, name, DateTimeOffset.UtcNow.AddHours(-1)));
        await store.WaitForNonStaleProjectionDataAsync(TimeSpan.FromSeconds(60));

        // Kept up with every stored event, and read none of them (no state for the person).
        (await ShardPosition(schema)).ShouldBeGreaterThanOrEqualTo(await LastSequence(schema));
        await using (var session = store.QuerySession())
            (await session.Query<Domain.CalculatedAttributes.PersonCalculations>().CountAsync()).ShouldBe(0);

        var token = await Token(client);
        var id = await Created(client, token, $"idle_orders_{s}", name);
        using (var activation = await Platform(client, token, HttpMethod.Post, $"{CalculatedAttributesApi.Path()}/{id}/activation"))
            activation.StatusCode.ShouldBe(HttpStatusCode.NoContent, await activation.Content.ReadAsStringAsync());
        keeper.Feed.FetchesEverything.ShouldBeTrue(); // widened by the activation itself, before its live start was taken
        await Waiting.Until(async () => (await Resource(client, token, id))["status"]!.GetValue<string>() == "ready", "the initialisation", 60);
        await Ingested(client, Batch(customer, name, DateTimeOffset.UtcNow));
        await store.WaitForNonStaleProjectionDataAsync(TimeSpan.FromSeconds(60));

        // Two events before the activation (replayed) and one after (live), each counted once.
        var profile = await Profile(client, token, customer);
        profile["user_attributes"]![$"idle_orders_{s}"]!.GetValue<string>().ShouldBe("3");
        (await ShardPosition(schema)).ShouldBeGreaterThanOrEqualTo(await LastSequence(schema));
        // The live event came through the reshaped page fetch (no join of every stream row: CalculationsFetch).
        ((EventProfiles.Projections.CalculatedAttributes.FetchReshapingLogger)store.Options.Logger()).FetchesReshaped.ShouldBeGreaterThan(0);
    }

    private static string Batch(string customer, string eventName, DateTimeOffset at) =>
        $$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "events": [ { "event_type": "custom_event", "data": { "event_name": "{{eventName}}", "custom_event_type": "other", "timestamp_unixtime_ms": {{at.ToUnixTimeMilliseconds()}} } } ] }""";

    private static async Task Ingested(HttpClient client, string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/events") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
        using var response = await client.SendAsync(request);
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
    }

    private static async Task<string> Token(HttpClient client)
    {
        using var response = await client.PostAsJsonAsync("/oauth/token", new
        {
            client_id = "demo-client", client_secret = "demo-client-secret", audience = "https://api.mparticle.com", grant_type = "client_credentials",
        });
        response.StatusCode.ShouldBe(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString()!;
    }

    private static async Task<HttpResponseMessage> Platform(HttpClient client, string token, HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await client.SendAsync(request);
    }

    private static async Task<int> Created(HttpClient client, string token, string attribute, string eventName)
    {
        var definition = $$"""
            { "recipe_type": "event", "data_point": { "type": "event", "event_type": "custom_event", "event_name": "{{eventName}}", "attribute_name": null },
              "conditions": [], "calculation_type": "count", "time_period": { "type": "within", "within": 30, "within_unit": "days" } }
            """;
        using var response = await Platform(client, token, HttpMethod.Post, CalculatedAttributesApi.Path(), $$"""{ "name": "{{attribute}}", "draft_definition": {{definition}} }""");
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return int.Parse(text);
    }

    private static async Task<JsonObject> Resource(HttpClient client, string token, int id)
    {
        using var response = await Platform(client, token, HttpMethod.Get, $"{CalculatedAttributesApi.Path()}/{id}");
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    private static async Task<JsonObject> Profile(HttpClient client, string token, string customer)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/userprofile/v1/resolve/1/1/1?fields=user_attributes")
        {
            Content = JsonContent.Create(new { environment_type = "development", identity = new { type = "customer_id", value = customer } }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    private async Task<long> ShardPosition(string schema)
    {
        await using var command = app.Db.CreateCommand($"select coalesce((select last_seq_id from {schema}.mt_event_progression where name = '{CalculationsFeedKeeper.ShardName}'), 0)");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task<long> LastSequence(string schema)
    {
        await using var command = app.Db.CreateCommand($"select coalesce(max(seq_id), 0) from {schema}.mt_events");
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
