using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace EventProfiles.Integration.Tests.Fixtures;

/// <summary>
/// The public API of a Host started as a process of its own (<see cref="HostProcess"/>), as <see cref="Api"/> is for the
/// shared in-process one: a client for its port, a Profile API token, bearer calls and single batches. Shared by the
/// tests that start their own Hosts (two nodes, a read replica).
/// </summary>
public static class HostProcessApi
{
    /// <summary>The settings every such Host needs: the database, its schema (a test's own) and its port.</summary>
    public static Dictionary<string, string> Settings(string connectionString, string schema, int port) => new()
    {
        ["ConnectionStrings__EventProfiles"] = connectionString,
        ["EventProfiles__Schema"] = schema,
        ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
    };

    public static HttpClient Client(int port) => new() { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>A Profile API token of the demo client.</summary>
    public static async Task<string> TokenAsync(this HttpClient client)
    {
        using var response = await client.PostAsJsonAsync("/oauth/token", new
        {
            client_id = "demo-client", client_secret = "demo-client-secret", audience = "https://api.mparticle.com", grant_type = "client_credentials",
        });
        response.StatusCode.ShouldBe(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString()!;
    }

    /// <summary>A call with the bearer token (Profile API, Platform API), with a JSON body when one is given.</summary>
    public static async Task<HttpResponseMessage> BearerAsync(this HttpClient client, string token, HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await client.SendAsync(request);
    }

    /// <summary>A single batch of one custom event for one customer to the demo server input (POST /v2/events).</summary>
    public static HttpRequestMessage Batch(string customer, string eventName)
    {
        var json = $$"""
            { "environment": "development", "user_identities": { "customer_id": "{{customer}}" },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "{{eventName}}", "custom_event_type": "other" } } ] }
            """;
        var request = new HttpRequestMessage(HttpMethod.Post, "/v2/events") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
        return request;
    }
}
