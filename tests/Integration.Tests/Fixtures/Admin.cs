using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace EventProfiles.Integration.Tests.Fixtures;

/// <summary>The admin API as an operator uses it (development admin user).</summary>
public static class Admin
{
    public static HttpClient AdminClient(this AppFixture app)
    {
        var client = app.NewClient();
        client.DefaultRequestHeaders.Authorization = AppFixture.Basic("admin", "admin-password");
        return client;
    }

    public static async Task<JsonObject> CreateOutput(this AppFixture app, string url, string? secret = null)
    {
        using var response = await app.AdminClient().PostAsJsonAsync("/api/admin/outputs",
            new { name = Api.NewId("out"), kind = "webhook", webhook = new { url, secret } });
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.Created, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    public static async Task<JsonObject> Connect(this AppFixture app, string input, string outputId, object? filter = null, object? consentRules = null)
    {
        using var response = await app.AdminClient().PostAsJsonAsync("/api/admin/connections",
            new { input, output_id = outputId, active = true, filter, consent_rules = consentRules });
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.Created, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    public static async Task<JsonObject> Output(this AppFixture app, string outputId) =>
        (await app.AdminClient().GetFromJsonAsync<JsonObject>($"/api/admin/outputs/{outputId}"))!;
}
