using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace EventProfiles.Integration.Tests.Security;

/// <summary>
/// Profile API clients do what their scopes allow and nothing more: a read-only integration cannot create, activate,
/// send or delete audiences and calculated attributes; a client without scopes reads profiles only; a token can be
/// narrowed, never widened; a removed client's tokens stop working at once; a short signing key stops the Host.
/// </summary>
[Collection(AppCollection.Name)]
public class ApiClientScopeTests(AppFixture app)
{
    private const string Criteria = """[ { "kind": "identity", "identity_type": "email", "operator": "exists" } ]""";
    private const string Definition = """
        { "data_point": { "type": "event", "event_type": "custom_event", "event_name": "Purchase", "attribute_name": null },
          "conditions": [], "calculation_type": "count", "time_period": { "type": "within", "within": 30, "within_unit": "days" } }
        """;

    private static async Task ShouldBeMissingScope(HttpResponseMessage response, string scope)
    {
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.Forbidden, text);
        (await response.Errors()).ShouldContain(e => e.Field == "scope" && e.Message.Contains($"\"{scope}\""), text);
    }

    private async Task<(HttpStatusCode Status, JsonObject Body)> RequestToken(string clientId, string secret, string? scope = null)
    {
        using var response = await app.Client.PostAsJsonAsync("/oauth/token", new { client_id = clientId, client_secret = secret, grant_type = "client_credentials", scope });
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject());
    }

    [Fact]
    public async Task a_read_only_client_reads_audiences_and_calculated_attributes_but_cannot_change_them()
    {
        var token = await app.Token(AppFixture.ReadOnlyClient, AppFixture.ReadOnlySecret);
        // What it will try to change, made by a client that may write.
        var audience = (await app.CreateAudience(Api.NewId("ro-target"), Criteria))["id"]!.GetValue<int>();
        var attribute = await app.CreateCalculatedAttribute(Api.NewId("ro-target"), Definition);

        using (var list = await app.Platform(HttpMethod.Get, "/v1/audiences?accountId=1", token: token)) list.StatusCode.ShouldBe(HttpStatusCode.OK);
        using (var one = await app.Platform(HttpMethod.Get, $"{CalculatedAttributesApi.Path()}/{attribute}", token: token)) one.StatusCode.ShouldBe(HttpStatusCode.OK);

        var name = Api.NewId("ro-new");
        using (var create = await app.Platform(HttpMethod.Post, "/v1/audiences?accountId=1", $$"""{ "name": "{{name}}", "workspaces": [1], "criteria": {{Criteria}} }""", token))
            await ShouldBeMissingScope(create, "audiences:write");
        foreach (var (method, path) in new[]
        {
            (HttpMethod.Put, $"/v1/audiences/{audience}?accountId=1"), (HttpMethod.Post, $"/v1/audiences/{audience}/activation?accountId=1"),
            (HttpMethod.Post, $"/v1/audiences/{audience}/deactivation?accountId=1"), (HttpMethod.Post, $"/v1/audiences/{audience}/send?accountId=1"),
            (HttpMethod.Delete, $"/v1/audiences/{audience}?accountId=1"),
        })
        {
            using var response = await app.Platform(method, path, method == HttpMethod.Put ? """{ "name": "renamed" }""" : null, token);
            await ShouldBeMissingScope(response, "audiences:write");
        }
        using (var create = await app.Platform(HttpMethod.Post, CalculatedAttributesApi.Path(), $$"""{ "name": "{{name}}", "draft_definition": {{Definition}} }""", token))
            await ShouldBeMissingScope(create, "calculated_attributes:write");
        foreach (var (method, path) in new[]
        {
            (HttpMethod.Put, $"{CalculatedAttributesApi.Path()}/{attribute}"), (HttpMethod.Post, $"{CalculatedAttributesApi.Path()}/{attribute}/activation"),
            (HttpMethod.Post, $"{CalculatedAttributesApi.Path()}/{attribute}/deactivation"), (HttpMethod.Delete, $"{CalculatedAttributesApi.Path()}/{attribute}"),
        })
        {
            using var response = await app.Platform(method, path, method == HttpMethod.Put ? """{ "description": "changed" }""" : null, token);
            await ShouldBeMissingScope(response, "calculated_attributes:write");
        }

        // Nothing changed: the audience is still a draft of the same name, the attribute a draft without description.
        var audienceNow = await app.Audience(audience);
        audienceNow["status"]!.GetValue<string>().ShouldBe("draft");
        audienceNow["name"]!.GetValue<string>().ShouldStartWith("ro-target");
        var attributeNow = await app.CalculatedAttribute(attribute);
        attributeNow["status"]!.GetValue<string>().ShouldBe("draft");
        attributeNow["description"].ShouldBeNull();
        using var created = await app.Platform(HttpMethod.Get, $"{CalculatedAttributesApi.Path()}?name={name}");
        (await created.Content.ReadFromJsonAsync<JsonArray>())!.Count.ShouldBe(0);
        using var audiences = await app.Platform(HttpMethod.Get, "/v1/audiences?accountId=1");
        (await audiences.Content.ReadAsStringAsync()).ShouldNotContain(name);
    }

    [Fact]
    public async Task a_client_configured_without_scopes_may_read_profiles_and_nothing_else()
    {
        var customer = Api.NewId("plain");
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" } }""");
        var (status, body) = await RequestToken(AppFixture.PlainClient, AppFixture.PlainSecret);
        status.ShouldBe(HttpStatusCode.OK, body.ToJsonString());
        body["scope"]!.GetValue<string>().ShouldBe("profiles:read");
        var token = body["access_token"]!.GetValue<string>();

        (await app.ProfileOf(customer, token: token))["mpid"].ShouldNotBeNull();
        using (var audiences = await app.Platform(HttpMethod.Get, "/v1/audiences?accountId=1", token: token)) await ShouldBeMissingScope(audiences, "audiences:read");
        using (var attributes = await app.Platform(HttpMethod.Get, CalculatedAttributesApi.Path(), token: token)) await ShouldBeMissingScope(attributes, "calculated_attributes:read");
    }

    [Fact]
    public async Task a_token_request_may_narrow_the_scopes_but_never_widen_them()
    {
        var (status, body) = await RequestToken("demo-client", "demo-client-secret", "profiles:read");
        status.ShouldBe(HttpStatusCode.OK, body.ToJsonString());
        body["scope"]!.GetValue<string>().ShouldBe("profiles:read");
        // The scope travels in the signed token itself.
        var token = body["access_token"]!.GetValue<string>();
        var payload = token.Split('.')[1];
        var claims = JsonNode.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(payload.PadRight(payload.Length + (4 - payload.Length % 4) % 4, '=').Replace('-', '+').Replace('_', '/'))))!;
        claims["scope"]!.GetValue<string>().ShouldBe("profiles:read");
        using (var audiences = await app.Platform(HttpMethod.Get, "/v1/audiences?accountId=1", token: token)) await ShouldBeMissingScope(audiences, "audiences:read");

        var (wider, refusal) = await RequestToken(AppFixture.ReadOnlyClient, AppFixture.ReadOnlySecret, "profiles:read audiences:write");
        wider.ShouldBe(HttpStatusCode.BadRequest);
        refusal["error"]!.GetValue<string>().ShouldBe("invalid_scope");
        refusal["errors"]![0]!["field"]!.GetValue<string>().ShouldBe("scope");
        refusal["errors"]![0]!["message"]!.GetValue<string>().ShouldContain("audiences:write");
    }

    [Fact]
    public async Task a_removed_client_s_tokens_stop_working_at_once()
    {
        // An operator adds a client (the admin API: the configuration lives in the database) …
        using var admin = app.AdminClient();
        using var created = await admin.PostAsJsonAsync("/api/admin/api-clients", new { client_id = Api.NewId("revocable"), workspaces = new[] { 1 } });
        created.StatusCode.ShouldBe(HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var client = (await created.Content.ReadFromJsonAsync<JsonObject>())!;
        var (clientId, secret) = (client["client_id"]!.GetValue<string>(), client["client_secret"]!.GetValue<string>());
        var token = await app.Token(clientId, secret);
        using (var before = await app.Platform(HttpMethod.Get, CalculatedAttributesApi.Path(), token: token)) before.StatusCode.ShouldBe(HttpStatusCode.Forbidden); // profiles:read only
        var customer = Api.NewId("revoked");
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" } }""");
        using (var allowed = await app.ResolveProfile(customer, token: token)) allowed.StatusCode.ShouldBe(HttpStatusCode.OK);

        // … and removes it: its unexpired token is refused from the next request on.
        using (var deleted = await admin.DeleteAsync($"/api/admin/api-clients/{clientId}")) deleted.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        using var refused = await app.ResolveProfile(customer, token: token);
        var text = await refused.Content.ReadAsStringAsync();
        refused.StatusCode.ShouldBe(HttpStatusCode.Unauthorized, text);
        text.ShouldContain("no longer exists");
        using var newToken = await app.Client.PostAsJsonAsync("/oauth/token", new { client_id = clientId, client_secret = secret, grant_type = "client_credentials" });
        newToken.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task the_host_refuses_to_start_with_a_signing_key_shorter_than_32_bytes()
    {
        const string setting = "EventProfiles__ProfileApiTokens__SigningKey";
        var previous = Environment.GetEnvironmentVariable(setting);
        Environment.SetEnvironmentVariable(setting, "only-31-bytes-long-signing-key!");
        try
        {
            await using var host = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b.UseEnvironment("Development"));
            host.UseKestrel(0);
            var failure = Should.Throw<Exception>(() => host.StartServer());
            var messages = string.Join(" | ", Flatten(failure).Select(e => e.Message));
            messages.ShouldContain("EventProfiles:ProfileApiTokens:SigningKey is 31 bytes long; it must be at least 32 bytes");
        }
        finally
        {
            Environment.SetEnvironmentVariable(setting, previous);
        }
    }

    private static IEnumerable<Exception> Flatten(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            yield return x;
            if (x is AggregateException aggregate) foreach (var inner in aggregate.InnerExceptions.SelectMany(Flatten)) yield return inner;
        }
    }
}
