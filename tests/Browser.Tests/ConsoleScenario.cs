using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Browser.Tests;

/// <summary>
/// What a console test sets up before it opens a page (<see cref="BrowserFixture.SignedInAsync"/>): people sent through
/// the demo input, a webhook output, a person's profile — through the public APIs, as a customer's systems would.
/// </summary>
public static class ConsoleScenario
{
    private static AuthenticationHeaderValue Basic(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));

    /// <summary>
    /// A person with a plan who had an event a number of times over the last days (one a day, an hour before now), sent
    /// as one batch through the demo input, with an email when given; answers their MPID once the Profile API finds them.
    /// </summary>
    public static async Task<string> PersonAsync(this BrowserFixture host, string customerId, string plan, string eventName, int times, string? email = null)
    {
        var now = DateTimeOffset.UtcNow;
        var events = string.Join(", ", Enumerable.Range(0, times).Select(i =>
            $$"""{ "event_type": "custom_event", "data": { "event_name": "{{eventName}}", "custom_event_type": "navigation", "timestamp_unixtime_ms": {{now.AddDays(-i).AddHours(-1).ToUnixTimeMilliseconds()}} } }"""));
        var identities = email is null ? $$"""{ "customer_id": "{{customerId}}" }""" : $$"""{ "customer_id": "{{customerId}}", "email": "{{email}}" }""";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/events")
        {
            Content = new StringContent($$"""
                { "environment": "development", "user_identities": {{identities}},
                  "user_attributes": { "plan": "{{plan}}" }, "events": [ {{events}} ] }
                """, Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = Basic("demo-key", "demo-secret");
        using (var response = await host.Client.SendAsync(request))
            response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        string? mpid = null;
        await Waiting.Until(async () => (mpid = (await host.ProfileAsync(customerId))?["mpid"]?.GetValue<long>().ToString()) is not null, "the profile", 30);
        return mpid!;
    }

    /// <summary>A webhook output to a receiver, through the admin API (the Connections page is another page's job); answers its id.</summary>
    public static async Task<string> CreateOutputAsync(this BrowserFixture host, string url, string name)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/admin/outputs")
        {
            Content = JsonContent.Create(new { name, kind = "webhook", webhook = new { url } }),
        };
        request.Headers.Authorization = Basic(BrowserFixture.AdminUser, BrowserFixture.AdminPassword);
        using var response = await host.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.Created, text);
        return JsonNode.Parse(text)!["id"]!.GetValue<string>();
    }

    /// <summary>The person's user attributes by customer id (Profile API resolve, workspace 1); null while they are not there.</summary>
    public static async Task<JsonObject?> ProfileAsync(this BrowserFixture host, string customerId)
    {
        using var token = await host.Client.PostAsJsonAsync("/oauth/token",
            new { client_id = "demo-client", client_secret = "demo-client-secret", grant_type = "client_credentials" });
        var bearer = (await token.Content.ReadFromJsonAsync<JsonObject>())!["access_token"]!.GetValue<string>();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/userprofile/v1/resolve/1/1/1?fields=user_attributes")
        {
            Content = JsonContent.Create(new { environment_type = "development", identity = new { type = "customer_id", value = customerId } }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        using var response = await host.Client.SendAsync(request);
        return response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadFromJsonAsync<JsonObject>() : null;
    }
}
