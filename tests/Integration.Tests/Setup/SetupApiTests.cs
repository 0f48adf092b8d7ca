using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Setup;

/// <summary>
/// The configuration admin API (/api/admin/workspaces, /inputs, /api-clients, /users, /identity-settings): what it
/// refuses (field and reason, nothing written), who may do what, and that what it creates is in effect at once.
/// </summary>
[Collection(AppCollection.Name)]
public class SetupApiTests(AppFixture app)
{
    [Fact]
    public async Task a_new_workspace_and_web_input_ingest_at_once_and_the_secret_is_shown_only_once()
    {
        using var admin = app.AdminClient();
        var workspace = await Created(await admin.PostAsJsonAsync("/api/admin/workspaces", new { name = Api.NewId("Shop") }));
        var workspaceId = workspace["id"]!.GetValue<int>();
        var input = await Created(await admin.PostAsJsonAsync("/api/admin/inputs",
            new { name = Api.NewId("shop-web"), workspace_id = workspaceId, kind = "web", environment = "development" }));
        var (name, key, secret) = (input["name"]!.GetValue<string>(), input["key"]!.GetValue<string>(), input["secret"]!.GetValue<string>());
        key.Length.ShouldBe(32);
        secret.Length.ShouldBeGreaterThanOrEqualTo(40);
        input["allow_key_only"]!.GetValue<bool>().ShouldBeTrue(); // a web input: the SDK sends the key alone

        // The key works on this node as soon as the 201 has arrived: the web SDK's configuration and a batch.
        using (var config = await app.Client.GetAsync($"/JS/v2/{key}/config?env=1"))
            config.StatusCode.ShouldBe(HttpStatusCode.OK, await config.Content.ReadAsStringAsync());
        var customer = Api.NewId("shop");
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" } }""", key: key, secret: secret);

        // Never shown again, never stored in clear.
        var shown = await admin.GetFromJsonAsync<JsonObject>($"/api/admin/inputs/{name}");
        shown!.ContainsKey("secret").ShouldBeFalse();
        shown["secrets"]!.AsArray().Count.ShouldBe(1);
        (await admin.GetStringAsync("/api/admin/inputs")).ShouldNotContain(secret);
        (await app.Traces(secret)).ShouldBeEmpty();
        // Who did it, recorded.
        var changes = await admin.GetFromJsonAsync<JsonArray>("/api/admin/configuration-changes?limit=1000");
        changes!.Select(c => (c!["what"]!.GetValue<string>(), c["subject"]!.GetValue<string>(), c["by"]!.GetValue<string>()))
            .ShouldContain(("InputCreated", $"input {name}", "admin"));
        changes!.ShouldAllBe(c => !c!.ToJsonString().Contains(secret));
    }

    [Fact]
    public async Task invalid_inputs_name_the_field_and_change_nothing()
    {
        using var admin = app.AdminClient();
        var before = await admin.GetStringAsync("/api/admin/configuration-changes?limit=1");
        await Refused(await admin.PostAsJsonAsync("/api/admin/inputs", new { name = "", workspace_id = 1, kind = "server" }), HttpStatusCode.BadRequest, "name");
        await Refused(await admin.PostAsJsonAsync("/api/admin/inputs", new { name = Api.NewId("x"), workspace_id = 1, kind = "fax" }), HttpStatusCode.BadRequest, "kind");
        await Refused(await admin.PostAsJsonAsync("/api/admin/inputs", new { name = Api.NewId("x"), workspace_id = 1, kind = "server", environment = "staging" }),
            HttpStatusCode.BadRequest, "environment");
        await Refused(await admin.PostAsJsonAsync("/api/admin/inputs", new { name = Api.NewId("x"), workspace_id = 999_999, kind = "server" }), HttpStatusCode.BadRequest, "workspace_id");
        await Refused(await admin.PostAsJsonAsync("/api/admin/inputs", new { name = "demo-server", workspace_id = 1, kind = "server" }), HttpStatusCode.Conflict, "name");
        await Refused(await admin.PostAsJsonAsync("/api/admin/workspaces", new { name = "" }), HttpStatusCode.BadRequest, "name");
        await Refused(await admin.PostAsJsonAsync("/api/admin/workspaces", new { name = Api.NewId("ws"), id = 1 }), HttpStatusCode.Conflict, "id");
        await Refused(await admin.PostAsJsonAsync("/api/admin/api-clients", new { workspaces = Array.Empty<int>() }), HttpStatusCode.BadRequest, "workspaces");
        await Refused(await admin.PostAsJsonAsync("/api/admin/api-clients", new { workspaces = new[] { 1 }, scopes = new[] { "everything" } }), HttpStatusCode.BadRequest, "scopes[0]");
        await Refused(await admin.PostAsJsonAsync("/api/admin/users", new { name = Api.NewId("u"), password = "short" }), HttpStatusCode.BadRequest, "password");
        await Refused(await admin.PostAsJsonAsync("/api/admin/users", new { name = Api.NewId("u"), password = "long-enough-password", workspaces = new[] { 999_999 } }),
            HttpStatusCode.BadRequest, "workspaces[0]");
        await Refused(await admin.PutAsJsonAsync("/api/admin/identity-settings", new { strategy = "profile_merge", immutable = "customer_id" }), HttpStatusCode.BadRequest, "strategy");
        await Refused(await admin.PutAsJsonAsync("/api/admin/identity-settings", new { strategy = "profile_link", immutable = "shoe_size" }), HttpStatusCode.BadRequest, "immutable");
        await Refused(await admin.PatchAsJsonAsync("/api/admin/inputs/demo-server", new { environment = "staging" }), HttpStatusCode.BadRequest, "environment");
        await Refused(await admin.PostAsync("/api/admin/inputs/no-such-input/secrets", null), HttpStatusCode.NotFound, "id");
        await Refused(await admin.DeleteAsync("/api/admin/inputs/no-such-input"), HttpStatusCode.NotFound, "id");
        await Refused(await admin.DeleteAsync("/api/admin/inputs/demo-server/secrets/no-such-secret"), HttpStatusCode.NotFound, "id");
        await Refused(await admin.PutAsJsonAsync("/api/admin/workspaces/1", new { name = "" }), HttpStatusCode.BadRequest, "name");
        await Refused(await admin.PutAsJsonAsync("/api/admin/workspaces/999999", new { name = "Nowhere" }), HttpStatusCode.NotFound, "id");
        await Refused(await admin.GetAsync("/api/admin/workspaces/999999"), HttpStatusCode.NotFound, "id");
        await Refused(await admin.PatchAsJsonAsync("/api/admin/api-clients/demo-client", new { workspaces = Array.Empty<int>() }), HttpStatusCode.BadRequest, "workspaces");
        await Refused(await admin.PatchAsJsonAsync("/api/admin/api-clients/demo-client", new { scopes = new[] { "root" } }), HttpStatusCode.BadRequest, "scopes[0]");
        await Refused(await admin.PatchAsJsonAsync("/api/admin/api-clients/demo-client", new { workspaces = new[] { 999_999 } }), HttpStatusCode.BadRequest, "workspaces[0]");
        await Refused(await admin.PatchAsJsonAsync("/api/admin/users/admin", new { password = "short" }), HttpStatusCode.BadRequest, "password");
        await Refused(await admin.DeleteAsync("/api/admin/users/no-such-user"), HttpStatusCode.NotFound, "id");
        // Nothing was recorded: the newest change is the one from before.
        (await admin.GetStringAsync("/api/admin/configuration-changes?limit=1")).ShouldBe(before);
    }

    [Fact]
    public async Task a_workspace_limited_admin_sees_and_changes_only_their_workspaces_inputs_and_clients()
    {
        using var support = app.NewClient();
        support.DefaultRequestHeaders.Authorization = AppFixture.Basic(AppFixture.SupportUser, AppFixture.SupportPassword);

        var inputs = await support.GetFromJsonAsync<JsonArray>("/api/admin/inputs");
        inputs!.Select(i => i!["workspace_id"]!.GetValue<int>()).Distinct().ShouldBe([2]);
        (await support.GetFromJsonAsync<JsonArray>("/api/admin/workspaces"))!.Select(w => w!["id"]!.GetValue<int>()).ShouldBe([2]);
        (await support.GetFromJsonAsync<JsonArray>("/api/admin/api-clients"))!.Select(c => c!["client_id"]!.GetValue<string>()).ShouldBe(["other-client"]);
        using (var other = await support.GetAsync("/api/admin/inputs/demo-server")) other.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        using (var other = await support.GetAsync("/api/admin/api-clients/demo-client")) other.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        using (var rotate = await support.PostAsync("/api/admin/inputs/demo-server/secrets", null)) rotate.StatusCode.ShouldBe(HttpStatusCode.NotFound);

        await Refused(await support.PostAsJsonAsync("/api/admin/inputs", new { name = Api.NewId("x"), workspace_id = 1, kind = "server" }), HttpStatusCode.Forbidden, "workspace_id");
        await Refused(await support.PostAsJsonAsync("/api/admin/api-clients", new { workspaces = new[] { 2, 1 } }), HttpStatusCode.Forbidden, "workspaces[1]");
        await Refused(await support.PostAsJsonAsync("/api/admin/workspaces", new { name = Api.NewId("mine") }), HttpStatusCode.Forbidden, "workspace_id");
        // No users, no widening of their own rights, no org-wide identity rules.
        await Refused(await support.GetAsync("/api/admin/users"), HttpStatusCode.Forbidden, "workspace_id");
        await Refused(await support.PostAsJsonAsync("/api/admin/users", new { name = Api.NewId("u"), password = "long-enough-password" }), HttpStatusCode.Forbidden, "workspace_id");
        await Refused(await support.PatchAsJsonAsync($"/api/admin/users/{AppFixture.SupportUser}", new { workspaces = Array.Empty<int>() }), HttpStatusCode.Forbidden, "workspace_id");
        await Refused(await support.PutAsJsonAsync("/api/admin/identity-settings", new { strategy = "profile_link", immutable = "customer_id" }), HttpStatusCode.Forbidden, "workspace_id");

        // Within workspace 2 they manage inputs and clients.
        var input = await Created(await support.PostAsJsonAsync("/api/admin/inputs", new { name = Api.NewId("ws2-server"), workspace_id = 2, kind = "server", environment = "development" }));
        var client = await Created(await support.PostAsJsonAsync("/api/admin/api-clients", new { workspaces = new[] { 2 }, scopes = new[] { "profiles:read" } }));
        var customer = Api.NewId("ws2");
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" } }""",
            key: input["key"]!.GetValue<string>(), secret: input["secret"]!.GetValue<string>());
        await app.Token(client["client_id"]!.GetValue<string>(), client["client_secret"]!.GetValue<string>());
        using (var disabled = await support.DeleteAsync($"/api/admin/inputs/{input["name"]}")) disabled.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        using var refused = await app.PostBatch($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" } }""",
            key: input["key"]!.GetValue<string>(), secret: input["secret"]!.GetValue<string>());
        refused.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task admin_users_are_managed_by_org_wide_admins_and_their_passwords_are_stored_hashed()
    {
        using var admin = app.AdminClient();
        var name = Api.NewId("operator");
        const string password = "operator-password-1";
        var user = await Created(await admin.PostAsJsonAsync("/api/admin/users", new { name, password, workspaces = new[] { 2 } }));
        user.ContainsKey("password").ShouldBeFalse();
        user.ContainsKey("password_hash").ShouldBeFalse();

        // The stored document holds a salted hash, not the password; the seeded users' passwords are hashed too.
        await using (var command = app.Db.CreateCommand($"select data::text from {app.Schema}.mt_doc_setup_admin_user"))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            var rows = new List<string>();
            while (await reader.ReadAsync()) rows.Add(reader.GetString(0));
            rows.ShouldContain(r => r.Contains(name));
            rows.ShouldAllBe(r => !r.Contains(password) && !r.Contains("admin-password") && !r.Contains(AppFixture.SupportPassword));
        }

        // The new user signs in at once and sees workspace 2 only.
        using var created = app.NewClient();
        created.DefaultRequestHeaders.Authorization = AppFixture.Basic(name, password);
        (await created.GetFromJsonAsync<JsonArray>("/api/admin/workspaces"))!.Select(w => w!["id"]!.GetValue<int>()).ShouldBe([2]);

        // A new password replaces the old one; a deleted user is refused.
        using (var changed = await admin.PatchAsJsonAsync($"/api/admin/users/{name}", new { password = "operator-password-2" }))
            changed.StatusCode.ShouldBe(HttpStatusCode.OK, await changed.Content.ReadAsStringAsync());
        using (var old = await created.GetAsync("/api/admin/workspaces")) old.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        using (var deleted = await admin.DeleteAsync($"/api/admin/users/{name}")) deleted.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        using var after = app.NewClient();
        after.DefaultRequestHeaders.Authorization = AppFixture.Basic(name, "operator-password-2");
        using (var gone = await after.GetAsync("/api/admin/workspaces")) gone.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        // An admin cannot delete themselves.
        await Refused(await admin.DeleteAsync("/api/admin/users/admin"), HttpStatusCode.Conflict, "name");
    }

    [Fact]
    public async Task identity_settings_are_stored_and_shown_with_the_rules_this_node_runs_with()
    {
        using var admin = app.AdminClient();
        var shown = await admin.GetFromJsonAsync<JsonObject>("/api/admin/identity-settings");
        shown!["running"]!["immutable"]!.GetValue<string>().ShouldBe("customer_id");
        shown["running"]!["strategy"]!.GetValue<string>().ShouldBe("profile_conversion");
        shown["stored"]!.ToJsonString().ShouldBe(shown["running"]!.ToJsonString());
        // Stored again as they are: a recorded change, nothing else moves.
        var stored = shown["stored"]!;
        using var put = await admin.PutAsJsonAsync("/api/admin/identity-settings", stored);
        put.StatusCode.ShouldBe(HttpStatusCode.OK, await put.Content.ReadAsStringAsync());
        (await put.Content.ReadFromJsonAsync<JsonObject>())!["stored"]!.ToJsonString().ShouldBe(stored.ToJsonString());
    }

    [Fact]
    public async Task merge_guards_are_shown_and_changed_with_the_identity_settings_and_kept_when_a_change_omits_them()
    {
        using var admin = app.AdminClient();
        var stored = (await admin.GetFromJsonAsync<JsonObject>("/api/admin/identity-settings"))!["stored"]!.AsObject();
        var guards = stored["merge_guards"]!.AsObject();
        guards["people_per_value"]!.GetValue<int>().ShouldBeGreaterThanOrEqualTo(0);
        guards.Select(g => g.Key).ShouldBe(["people_per_value", "identities_per_type_per_day", "devices_per_hour"]);
        try
        {
            // A limit changed, the others kept.
            var changed = stored.DeepClone().AsObject();
            changed["merge_guards"] = new JsonObject { ["devices_per_hour"] = 0 };
            using (var put = await admin.PutAsJsonAsync("/api/admin/identity-settings", changed))
            {
                put.StatusCode.ShouldBe(HttpStatusCode.OK, await put.Content.ReadAsStringAsync());
                var shown = (await put.Content.ReadFromJsonAsync<JsonObject>())!["stored"]!["merge_guards"]!;
                shown["devices_per_hour"]!.GetValue<int>().ShouldBe(0);
                shown["people_per_value"]!.GetValue<int>().ShouldBe(guards["people_per_value"]!.GetValue<int>());
            }
            // This node runs by the change before it answers (the others within the refresh interval), no restart.
            (await admin.GetFromJsonAsync<JsonObject>("/api/admin/identity-settings"))!["running"]!["merge_guards"]!["devices_per_hour"]!.GetValue<int>().ShouldBe(0);
            // A change that omits them (a client written before the guards existed) does not reset them.
            var without = stored.DeepClone().AsObject();
            without.Remove("merge_guards");
            using (var put = await admin.PutAsJsonAsync("/api/admin/identity-settings", without))
                put.StatusCode.ShouldBe(HttpStatusCode.OK, await put.Content.ReadAsStringAsync());
            (await admin.GetFromJsonAsync<JsonObject>("/api/admin/identity-settings"))!["stored"]!["merge_guards"]!["devices_per_hour"]!.GetValue<int>().ShouldBe(0);

            // A negative limit: 400 naming the limit, nothing recorded.
            var before = await admin.GetStringAsync("/api/admin/configuration-changes?limit=1");
            var negative = stored.DeepClone().AsObject();
            negative["merge_guards"] = new JsonObject { ["people_per_value"] = -1, ["identities_per_type_per_day"] = -2 };
            using (var refused = await admin.PutAsJsonAsync("/api/admin/identity-settings", negative))
            {
                refused.StatusCode.ShouldBe(HttpStatusCode.BadRequest, await refused.Content.ReadAsStringAsync());
                (await refused.Errors()).Select(e => e.Field).ShouldBe(["merge_guards.people_per_value", "merge_guards.identities_per_type_per_day"], ignoreOrder: true);
            }
            (await admin.GetStringAsync("/api/admin/configuration-changes?limit=1")).ShouldBe(before);
        }
        finally
        {
            // The host is shared: the rules go back to what they were (stored and running).
            using var restore = await admin.PutAsJsonAsync("/api/admin/identity-settings", stored);
            restore.StatusCode.ShouldBe(HttpStatusCode.OK);
        }
    }

    // The secret rules inputs and API clients share (at most two at once, shown once, the change recorded without the
    // secret) and those of each kind (a web input may give up its last secret, a server input or a client may not; a
    // disabled input takes no new one).

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

    /// <summary>The refusal's status and field; answers the field's message.</summary>
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
