using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Setup;

/// <summary>
/// Zero-downtime rotation: a second secret works alongside the first until the first is revoked. A server client keeps
/// sending the whole time and switches secrets in the middle; no request is refused, and the old secret is refused after.
/// </summary>
[Collection(AppCollection.Name)]
public class SecretRotationTests(AppFixture app)
{
    [Fact]
    public async Task an_input_s_secret_is_rotated_while_a_client_keeps_sending()
    {
        using var admin = app.AdminClient();
        JsonObject input;
        using (var created = await admin.PostAsJsonAsync("/api/admin/inputs", new { name = Api.NewId("rotating"), workspace_id = 1, kind = "server", environment = "development" }))
        {
            created.StatusCode.ShouldBe(HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
            input = (await created.Content.ReadFromJsonAsync<JsonObject>())!;
        }
        var (name, key, oldSecret, oldId) = (input["name"]!.GetValue<string>(), input["key"]!.GetValue<string>(),
            input["secret"]!.GetValue<string>(), input["secret_id"]!.GetValue<string>());

        var secret = oldSecret;
        var statuses = new ConcurrentBag<(int Status, bool New)>();
        using var stop = new CancellationTokenSource();
        var sender = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var current = Volatile.Read(ref secret);
                using var response = await app.PostBatch($$"""{ "environment": "development", "user_identities": { "customer_id": "{{Api.NewId("rot")}}" } }""",
                    key: key, secret: current);
                statuses.Add(((int)response.StatusCode, current != oldSecret));
            }
        });
        await Waiting.Until(() => Task.FromResult(statuses.Count >= 5), "batches with the first secret");

        // Step one: a second secret; the client moves to it while the first still works.
        string newSecret;
        using (var added = await admin.PostAsync($"/api/admin/inputs/{name}/secrets", null))
        {
            added.StatusCode.ShouldBe(HttpStatusCode.Created, await added.Content.ReadAsStringAsync());
            newSecret = (await added.Content.ReadFromJsonAsync<JsonObject>())!["secret"]!.GetValue<string>();
        }
        using (var both = await app.PostBatch($$"""{ "environment": "development", "user_identities": { "customer_id": "{{Api.NewId("rot")}}" } }""", key: key, secret: oldSecret))
            both.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        Volatile.Write(ref secret, newSecret);
        await Waiting.Until(() => Task.FromResult(statuses.Count(s => s.New) >= 5), "batches with the new secret");

        // Step two: the old secret is revoked; the client never noticed.
        using (var revoked = await admin.DeleteAsync($"/api/admin/inputs/{name}/secrets/{oldId}"))
            revoked.StatusCode.ShouldBe(HttpStatusCode.NoContent, await revoked.Content.ReadAsStringAsync());
        var afterRevocation = statuses.Count;
        await Waiting.Until(() => Task.FromResult(statuses.Count >= afterRevocation + 5), "batches after the revocation");
        await stop.CancelAsync();
        await sender;

        statuses.Where(s => s.Status != 202).ShouldBeEmpty();
        using (var old = await app.PostBatch("""{ "environment": "development", "user_identities": { "customer_id": "old-secret" } }""", key: key, secret: oldSecret))
            old.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        var shown = await admin.GetFromJsonAsync<JsonObject>($"/api/admin/inputs/{name}");
        shown!["secrets"]!.AsArray().Select(s => s!["id"]!.GetValue<string>()).ShouldNotContain(oldId);
        // The last secret of a server input cannot be revoked (it could not authenticate at all).
        var lastId = shown["secrets"]![0]!["id"]!.GetValue<string>();
        using (var last = await admin.DeleteAsync($"/api/admin/inputs/{name}/secrets/{lastId}")) last.StatusCode.ShouldBe(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task an_api_client_s_secret_is_rotated_without_a_refused_token_request()
    {
        using var admin = app.AdminClient();
        JsonObject client;
        using (var created = await admin.PostAsJsonAsync("/api/admin/api-clients", new { workspaces = new[] { 1 } }))
        {
            created.StatusCode.ShouldBe(HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
            client = (await created.Content.ReadFromJsonAsync<JsonObject>())!;
        }
        var (id, oldSecret, oldId) = (client["client_id"]!.GetValue<string>(), client["client_secret"]!.GetValue<string>(), client["secret_id"]!.GetValue<string>());
        client["scopes"]!.AsArray().Select(s => s!.GetValue<string>()).ShouldBe(["profiles:read"]);
        var customer = Api.NewId("client-rot");
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" } }""");
        using (var read = await app.ResolveProfile(customer, token: await app.Token(id, oldSecret))) read.StatusCode.ShouldBe(HttpStatusCode.OK);

        string newSecret;
        using (var added = await admin.PostAsync($"/api/admin/api-clients/{id}/secrets", null))
        {
            added.StatusCode.ShouldBe(HttpStatusCode.Created);
            newSecret = (await added.Content.ReadFromJsonAsync<JsonObject>())!["secret"]!.GetValue<string>();
        }
        await app.Token(id, oldSecret); // both work during the overlap
        await app.Token(id, newSecret);
        using (var revoked = await admin.DeleteAsync($"/api/admin/api-clients/{id}/secrets/{oldId}")) revoked.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        using (var old = await app.Client.PostAsJsonAsync("/oauth/token", new { client_id = id, client_secret = oldSecret, grant_type = "client_credentials" }))
            old.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        using (var read = await app.ResolveProfile(customer, token: await app.Token(id, newSecret))) read.StatusCode.ShouldBe(HttpStatusCode.OK);

        // A deleted client's unexpired token is refused from its next request on.
        var token = await app.Token(id, newSecret);
        using (var deleted = await admin.DeleteAsync($"/api/admin/api-clients/{id}")) deleted.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        using var refused = await app.ResolveProfile(customer, token: token);
        refused.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }
}
