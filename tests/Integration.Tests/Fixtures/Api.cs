using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EventProfiles.Integration.Tests.Fixtures;

/// <summary>Scenario helpers that use the public API only, as a client would.</summary>
public static class Api
{
    public const string DemoKey = "demo-key";
    public const string DemoSecret = "demo-secret";
    public const string OtherKey = "other-key";
    public const string OtherSecret = "other-secret";
    public const string AllFields = "user_identities,device_identities,user_attributes,audience_memberships,attribution,consent_state,devices";

    public static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    public static async Task<HttpResponseMessage> PostBatch(this AppFixture app, string json, string path = "/v2/events",
        string key = DemoKey, string secret = DemoSecret)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = AppFixture.Basic(key, secret);
        return await app.Client.SendAsync(request);
    }

    /// <summary>Sends a batch and insists on 202.</summary>
    public static async Task Ingested(this AppFixture app, string json, string path = "/v2/events", string key = DemoKey, string secret = DemoSecret)
    {
        using var response = await app.PostBatch(json, path, key, secret);
        if (response.StatusCode != HttpStatusCode.Accepted)
            throw new InvalidOperationException($"Expected 202, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    public static async Task<string> Token(this AppFixture app, string clientId = "demo-client", string secret = "demo-client-secret")
    {
        using var response = await app.Client.PostAsJsonAsync("/oauth/token", new
        {
            client_id = clientId, client_secret = secret, audience = "https://api.mparticle.com", grant_type = "client_credentials",
        });
        response.StatusCode.ShouldBe(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("access_token").GetString()!;
    }

    public static async Task<HttpResponseMessage> ResolveProfile(this AppFixture app, string customerId, int workspace = 1,
        string fields = AllFields, string? token = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/userprofile/v1/resolve/1/1/{workspace}?fields={fields}")
        {
            Content = JsonContent.Create(new { environment_type = "development", identity = new { type = "customer_id", value = customerId } }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token ?? await app.Token());
        return await app.Client.SendAsync(request);
    }

    /// <summary>The profile holding this customer id, as the Profile API returns it for workspace 1.</summary>
    public static async Task<JsonObject> ProfileOf(this AppFixture app, string customerId, int workspace = 1, string? token = null)
    {
        using var response = await app.ResolveProfile(customerId, workspace, token: token);
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    public static async Task<HttpResponseMessage> GetProfile(this AppFixture app, long mpid, string fields = AllFields, int workspace = 1,
        string? token = null, HttpMethod? method = null)
    {
        using var request = new HttpRequestMessage(method ?? HttpMethod.Get, $"/userprofile/v1/1/1/{workspace}/{mpid}?fields={fields}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token ?? await app.Token());
        return await app.Client.SendAsync(request);
    }

    public static string[] Attribute(this JsonObject profile, string name) =>
        profile["user_attributes"]![name] switch
        {
            JsonArray list => list.Select(x => x!.GetValue<string>()).ToArray(),
            JsonValue v => [v.GetValue<string>()],
            _ => [],
        };

    public static string[] Identities(this JsonObject profile, string section = "user_identities") =>
        profile[section]!.AsArray().Select(i => $"{i!["type"]}={i["value"]}").ToArray();

    /// <summary>The errors array of a ProblemDetails body: (field, message) pairs.</summary>
    public static async Task<IReadOnlyList<(string Field, string Message)>> Errors(this HttpResponseMessage response)
    {
        response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json");
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("errors").EnumerateArray()
            .Select(e => (e.GetProperty("field").GetString()!, e.GetProperty("message").GetString()!)).ToList();
    }
}
