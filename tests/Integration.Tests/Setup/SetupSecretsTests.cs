using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Setup;

/// <summary>
/// The secret rules inputs and API clients share (at most two at once, shown once, the change recorded without the
/// secret) and those of each kind (a web input may give up its last secret, a server input or a client may not; a
/// disabled input takes no new one).
/// </summary>
[Collection(AppCollection.Name)]
public class SetupSecretsTests(AppFixture app)
{
    [Fact]
    public async Task a_server_input_and_an_api_client_hold_at_most_two_secrets_and_keep_their_last_one()
    {
        using var admin = app.AdminClient();
        var input = await Created(await admin.PostAsJsonAsync("/api/admin/inputs", new { name = Api.NewId("two-secrets"), workspace_id = 1, kind = "server" }));
        var client = await Created(await admin.PostAsJsonAsync("/api/admin/api-clients", new { workspaces = new[] { 1 } }));
        foreach (var (path, first, noun) in new[]
                 {
                     ($"/api/admin/inputs/{input["name"]}", input["secret_id"]!.GetValue<string>(), "input"),
                     ($"/api/admin/api-clients/{client["client_id"]}", client["secret_id"]!.GetValue<string>(), "client"),
                 })
        {
            using var added = await admin.PostAsync($"{path}/secrets", null);
            added.StatusCode.ShouldBe(HttpStatusCode.Created, await added.Content.ReadAsStringAsync());
            var second = (await added.Content.ReadFromJsonAsync<JsonObject>())!;
            var secondId = second["id"]!.GetValue<string>();
            added.Headers.Location!.ToString().ShouldBe($"{path}/secrets/{secondId}");
            second["secret"]!.GetValue<string>().Length.ShouldBe(48);

            var third = await Refused(await admin.PostAsync($"{path}/secrets", null), HttpStatusCode.Conflict, "secrets");
            third.ShouldContain("at most 2 secrets");
            using (var revoked = await admin.DeleteAsync($"{path}/secrets/{first}")) revoked.StatusCode.ShouldBe(HttpStatusCode.NoContent);
            (await Refused(await admin.DeleteAsync($"{path}/secrets/{first}"), HttpStatusCode.NotFound, "id")).ShouldContain(first);
            (await Refused(await admin.DeleteAsync($"{path}/secrets/{secondId}"), HttpStatusCode.Conflict, "secretId")).ShouldContain($"the {noun}'s only secret");

            var shown = await admin.GetFromJsonAsync<JsonObject>(path);
            shown!["secrets"]!.AsArray().Select(s => s!["id"]!.GetValue<string>()).ShouldBe([secondId]);
        }

        // Both kinds' additions and revocations are recorded by secret id, never with the secret.
        var changes = (await admin.GetFromJsonAsync<JsonArray>("/api/admin/configuration-changes?limit=20"))!
            .Select(c => (c!["what"]!.GetValue<string>(), c["subject"]!.GetValue<string>(), c["details"]!.GetValue<string>())).ToList();
        changes.ShouldContain(("InputSecretRevoked", $"input {input["name"]}", $"secret {input["secret_id"]}"));
        changes.ShouldContain(("ApiClientSecretRevoked", $"api client {client["client_id"]}", $"secret {client["secret_id"]}"));
        changes.Count(c => c.Item1 is "InputSecretAdded" or "ApiClientSecretAdded" && c.Item3.StartsWith("secret ")).ShouldBeGreaterThanOrEqualTo(2);
    }

    [Fact]
    public async Task a_web_input_may_give_up_its_last_secret_and_a_disabled_input_takes_no_new_one()
    {
        using var admin = app.AdminClient();
        var web = await Created(await admin.PostAsJsonAsync("/api/admin/inputs", new { name = Api.NewId("keyless-web"), workspace_id = 1, kind = "web", environment = "development" }));
        var name = web["name"]!.GetValue<string>();
        // The web SDK sends the key alone: without a secret the input still ingests.
        using (var revoked = await admin.DeleteAsync($"/api/admin/inputs/{name}/secrets/{web["secret_id"]}")) revoked.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await admin.GetFromJsonAsync<JsonObject>($"/api/admin/inputs/{name}"))!["secrets"]!.AsArray().ShouldBeEmpty();
        using (var config = await app.Client.GetAsync($"/JS/v2/{web["key"]}/config?env=1"))
            config.StatusCode.ShouldBe(HttpStatusCode.OK, await config.Content.ReadAsStringAsync());

        using (var disabled = await admin.DeleteAsync($"/api/admin/inputs/{name}")) disabled.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        var before = await admin.GetStringAsync("/api/admin/configuration-changes?limit=1");
        (await Refused(await admin.PostAsync($"/api/admin/inputs/{name}/secrets", null), HttpStatusCode.Conflict, "name")).ShouldContain("is disabled");
        (await admin.GetFromJsonAsync<JsonObject>($"/api/admin/inputs/{name}"))!["secrets"]!.AsArray().ShouldBeEmpty();
        (await admin.GetStringAsync("/api/admin/configuration-changes?limit=1")).ShouldBe(before);
    }

    private static async Task<JsonObject> Created(HttpResponseMessage response)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            response.StatusCode.ShouldBe(HttpStatusCode.Created, text);
            return JsonNode.Parse(text)!.AsObject();
        }
    }

    /// <summary>The refusal's status and field; answers its message.</summary>
    private static async Task<string> Refused(HttpResponseMessage response, HttpStatusCode status, string field)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            response.StatusCode.ShouldBe(status, text);
            var errors = await response.Errors();
            errors.Select(e => e.Field).ShouldContain(field, text);
            return errors.First(e => e.Field == field).Message;
        }
    }
}
