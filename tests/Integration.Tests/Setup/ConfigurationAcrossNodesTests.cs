using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Setup;

/// <summary>
/// Host processes over one database (a schema of their own): two starting at once on the empty database seed it once
/// from appsettings, a later start seeds nothing (its own appsettings are ignored: the database is the truth), and a
/// change made through one node is in effect on the other within seconds, without a restart (the identity settings too).
/// </summary>
[Collection(AppCollection.Name)]
public class ConfigurationAcrossNodesTests(AppFixture app)
{
    private string Schema => $"{app.Schema}_setup";

    [Fact]
    public async Task two_nodes_starting_at_once_seed_once_a_later_start_changes_nothing_and_a_change_reaches_the_other_node_without_restart()
    {
        // Two nodes start at once on the empty database: one of them seeds it, once.
        var (portA, portFirstB, portB) = (HostProcess.FreePort(), HostProcess.FreePort(), HostProcess.FreePort());
        using var clientA = Client(portA);
        using var clientFirstB = Client(portFirstB);
        using var clientB = Client(portB);
        await using var nodeA = HostProcess.Start("Development", Settings(portA));
        await using (var firstB = HostProcess.Start("Development", Settings(portFirstB)))
        {
            await nodeA.WaitUntilLiveAsync(clientA);
            await firstB.WaitUntilLiveAsync(clientFirstB);
        }
        using var adminA = Admin(portA);
        var seeded = await adminA.GetFromJsonAsync<JsonArray>("/api/admin/configuration-changes?limit=1000");
        seeded!.Select(c => c!["what"]!.GetValue<string>()).ShouldBe(["ConfigurationSeeded"]);

        // B starts again, with an input of its own in appsettings: ignored, the database is seeded already.
        var settingsB = Settings(portB);
        const string extra = "EventProfiles__Org__Accounts__0__Workspaces__0__Inputs__4__";
        settingsB[extra + "Name"] = "only-in-b";
        settingsB[extra + "Key"] = "only-in-b-key";
        settingsB[extra + "Secret"] = "only-in-b-secret";
        await using var nodeB = HostProcess.Start("Development", settingsB);
        await nodeB.WaitUntilLiveAsync(clientB);
        using var adminB = Admin(portB);
        var afterSecondStart = await adminB.GetFromJsonAsync<JsonArray>("/api/admin/configuration-changes?limit=1000");
        afterSecondStart!.Select(c => c!["version"]!.GetValue<long>()).ShouldBe([1], "a second start changes nothing");
        (await Send(clientB, "only-in-b-key", "only-in-b-secret")).ShouldBe(HttpStatusCode.Forbidden);
        (await Send(clientB, "demo-key", "demo-secret")).ShouldBe(HttpStatusCode.Accepted);

        // An input created through A ingests on B within seconds (the refresh reads every second; the waits allow 30 s
        // because two Host processes share 2 cores with the rest of the suite); its revoked secret is refused there too.
        using var created = await adminA.PostAsJsonAsync("/api/admin/inputs", new { name = Api.NewId("cross"), workspace_id = 1, kind = "server", environment = "development" });
        created.StatusCode.ShouldBe(HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var input = (await created.Content.ReadFromJsonAsync<JsonObject>())!;
        var (name, key, secret, secretId) = (input["name"]!.GetValue<string>(), input["key"]!.GetValue<string>(),
            input["secret"]!.GetValue<string>(), input["secret_id"]!.GetValue<string>());
        await Waiting.Until(async () => await Send(clientB, key, secret) == HttpStatusCode.Accepted, "the new input on the other node", 30);

        using var added = await adminA.PostAsync($"/api/admin/inputs/{name}/secrets", null);
        var newSecret = (await added.Content.ReadFromJsonAsync<JsonObject>())!["secret"]!.GetValue<string>();
        await Waiting.Until(async () => await Send(clientB, key, newSecret) == HttpStatusCode.Accepted, "the second secret on the other node", 30);
        (await Send(clientB, key, secret)).ShouldBe(HttpStatusCode.Accepted); // both during the overlap
        using (var revoked = await adminA.DeleteAsync($"/api/admin/inputs/{name}/secrets/{secretId}")) revoked.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        await Waiting.Until(async () => await Send(clientB, key, secret) == HttpStatusCode.Forbidden, "the revoked secret refused on the other node", 30);
        (await Send(clientB, key, newSecret)).ShouldBe(HttpStatusCode.Accepted);

        // An admin user created through B signs in on A.
        using var user = await adminB.PostAsJsonAsync("/api/admin/users", new { name = Api.NewId("ops"), password = "cross-node-password" });
        var userName = (await user.Content.ReadFromJsonAsync<JsonObject>())!["name"]!.GetValue<string>();
        // Polling the sign-in itself would record each refusal with the credential throttle (shared by the nodes) until
        // the name is throttled; so wait for A to take a later change (an input made after the user), then sign in once.
        user.StatusCode.ShouldBe(HttpStatusCode.Created);
        using var marker = await adminB.PostAsJsonAsync("/api/admin/inputs", new { name = Api.NewId("marker"), workspace_id = 1, kind = "server", environment = "development" });
        var markerInput = (await marker.Content.ReadFromJsonAsync<JsonObject>())!;
        await Waiting.Until(async () => await Send(clientA, markerInput["key"]!.GetValue<string>(), markerInput["secret"]!.GetValue<string>()) == HttpStatusCode.Accepted,
            "a change made after the user, on the other node", 30);
        using var asUser = Client(portA);
        asUser.DefaultRequestHeaders.Authorization = AppFixture.Basic(userName, "cross-node-password");
        using (var signedIn = await asUser.GetAsync("/api/admin/workspaces")) signedIn.StatusCode.ShouldBe(HttpStatusCode.OK, "the new user signs in on the other node");
    }

    [Fact]
    public async Task a_placeholder_value_added_through_one_node_stops_matching_people_on_the_other_node_without_restart()
    {
        var schema = $"{app.Schema}_identity";
        var (portA, portB) = (HostProcess.FreePort(), HostProcess.FreePort());
        using var clientA = Client(portA);
        using var clientB = Client(portB);
        await using var nodeA = HostProcess.Start("Development", Settings(portA, schema));
        await nodeA.WaitUntilLiveAsync(clientA);
        await using var nodeB = HostProcess.Start("Development", Settings(portB, schema));
        await nodeB.WaitUntilLiveAsync(clientB);
        using var adminA = Admin(portA);
        using var adminB = Admin(portB);

        // Before: on B, an anonymous visitor's batch carries the value; IDSync finds them by it and joins a new device to them.
        var value = Api.NewId("shared-kiosk");
        (await Ingest(clientB, null, value)).ShouldBe(HttpStatusCode.Accepted);
        var holder = await IdSyncAsync(clientB, "search", new() { ["other"] = value });
        (await IdSyncAsync(clientB, "identify", new() { ["other"] = value, ["device_application_stamp"] = Api.NewId("das") })).ShouldBe(holder);
        (await ProfileOf(clientB, $"{holder}?fields=user_identities")).ShouldContain(value);

        // The value becomes a placeholder through A (stored and running there at once; B's refresh reads it within seconds).
        var stored = (await adminA.GetFromJsonAsync<JsonObject>("/api/admin/identity-settings"))!["stored"]!.AsObject();
        var changed = stored.DeepClone().AsObject();
        changed["ignored_values"] = new JsonArray([.. stored["ignored_values"]!.AsArray().Select(v => (JsonNode?)v!.GetValue<string>()), value]);
        using (var put = await adminA.PutAsJsonAsync("/api/admin/identity-settings", changed))
        {
            put.StatusCode.ShouldBe(HttpStatusCode.OK, await put.Content.ReadAsStringAsync());
            (await put.Content.ReadFromJsonAsync<JsonObject>())!["applies"]!.GetValue<string>().ShouldNotContain("restart");
        }
        RunningPlaceholders(await adminA.GetFromJsonAsync<JsonObject>("/api/admin/identity-settings")).ShouldContain(value.ToLowerInvariant());
        await Waiting.Until(async () => RunningPlaceholders(await adminB.GetFromJsonAsync<JsonObject>("/api/admin/identity-settings")).Contains(value.ToLowerInvariant()),
            "the changed placeholder list running on the other node", 30);

        // After, on B, no restart: IDSync makes a new person instead of joining the holder, and a customer's batch with the
        // value (which would have joined the anonymous holder) makes a person of its own without it.
        (await IdSyncAsync(clientB, "identify", new() { ["other"] = value, ["device_application_stamp"] = Api.NewId("das") })).ShouldNotBe(holder);
        var customer = Api.NewId("c");
        (await Ingest(clientB, customer, value)).ShouldBe(HttpStatusCode.Accepted);
        var customers = await ProfileOf(clientB, null, customer);
        customers.ShouldNotContain(value);
        customers.ShouldNotContain(holder);
        // The person resolved before keeps what they were given (settings apply to new resolutions).
        (await ProfileOf(clientB, $"{holder}?fields=user_identities")).ShouldContain(value);
    }

    /// <summary>The running placeholder values of a GET /api/admin/identity-settings answer, lower-cased (the rule compares them case-insensitively).</summary>
    private static List<string> RunningPlaceholders(JsonObject? shown) =>
        [.. shown!["running"]!["ignored_values"]!.AsArray().Select(v => v!.GetValue<string>().ToLowerInvariant())];

    /// <summary>A batch to the demo server input with this customer id (none: an anonymous visitor) and this <c>other</c> identity.</summary>
    private static async Task<HttpStatusCode> Ingest(HttpClient client, string? customer, string other)
    {
        var identities = customer is null ? $$"""{ "other": "{{other}}" }""" : $$"""{ "customer_id": "{{customer}}", "other": "{{other}}" }""";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/events")
        {
            Content = new StringContent($$"""{ "environment": "development", "user_identities": {{identities}} }""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = AppFixture.Basic("demo-key", "demo-secret");
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    /// <summary>An IDSync call as a server makes it (Basic with the demo input's secret); the MPID it answers.</summary>
    private static async Task<string> IdSyncAsync(HttpClient client, string call, Dictionary<string, string> known)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/{call}")
        {
            Content = JsonContent.Create(new { environment = "development", request_id = Guid.NewGuid().ToString(), known_identities = known }),
        };
        request.Headers.Authorization = AppFixture.Basic("demo-key", "demo-secret");
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!["mpid"]!.GetValue<string>();
    }

    /// <summary>A profile as that node's Profile API answers it, as JSON text: by MPID (path and query), or resolved by customer id.</summary>
    private static async Task<string> ProfileOf(HttpClient client, string? byMpid, string? customer = null)
    {
        var token = await client.TokenAsync();
        using var response = byMpid is not null
            ? await client.BearerAsync(token, HttpMethod.Get, $"/userprofile/v1/1/1/1/{byMpid}")
            : await client.BearerAsync(token, HttpMethod.Post, "/userprofile/v1/resolve/1/1/1?fields=user_identities",
                $$"""{ "environment_type": "development", "identity": { "type": "customer_id", "value": "{{customer}}" } }""");
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return text;
    }

    private static async Task<HttpStatusCode> Send(HttpClient client, string key, string secret)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/events")
        {
            Content = new StringContent($$"""{ "environment": "development", "user_identities": { "customer_id": "{{Api.NewId("node")}}" } }""",
                System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = AppFixture.Basic(key, secret);
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    private Dictionary<string, string> Settings(int port, string? schema = null) => new()
    {
        ["ConnectionStrings__EventProfiles"] = Environment.GetEnvironmentVariable("ConnectionStrings__EventProfiles")!,
        ["EventProfiles__Schema"] = schema ?? Schema,
        ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
        ["EventProfiles__Durability"] = "Balanced",
        ["EventProfiles__Nodes__HeartbeatMs"] = "1000",
        ["EventProfiles__Nodes__StaleNodeMs"] = "3000",
        ["EventProfiles__Nodes__CheckAssignmentMs"] = "1000",
    };

    private static HttpClient Client(int port) => new() { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };

    private static HttpClient Admin(int port)
    {
        var client = Client(port);
        client.DefaultRequestHeaders.Authorization = AppFixture.Basic("admin", "admin-password");
        return client;
    }
}
