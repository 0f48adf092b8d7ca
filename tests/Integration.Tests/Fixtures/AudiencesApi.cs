using System.Net;
using System.Text.Json.Nodes;

namespace EventProfiles.Integration.Tests.Fixtures;

/// <summary>The audience API (Platform API v1) as a client uses it.</summary>
public static class AudiencesApi
{
    public static async Task<JsonObject> CreateAudience(this AppFixture app, string name, string criteria, string workspaces = "[1]")
    {
        using var response = await app.Platform(HttpMethod.Post, "/v1/audiences?accountId=1", $$"""{ "name": "{{name}}", "workspaces": {{workspaces}}, "criteria": {{criteria}} }""");
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    public static async Task<JsonObject> Audience(this AppFixture app, int id)
    {
        using var response = await app.Platform(HttpMethod.Get, $"/v1/audiences/{id}?accountId=1");
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>Creates, activates and waits until the audience is evaluated (status active).</summary>
    public static async Task<int> ActiveAudience(this AppFixture app, string name, string criteria)
    {
        var id = (await app.CreateAudience(name, criteria))["id"]!.GetValue<int>();
        using (var activated = await app.Platform(HttpMethod.Post, $"/v1/audiences/{id}/activation?accountId=1"))
            activated.StatusCode.ShouldBe(HttpStatusCode.NoContent, await activated.Content.ReadAsStringAsync());
        await Waiting.Until(async () => (await app.Audience(id))["status"]!.GetValue<string>() == "active", $"audience {id} to be active", 60);
        return id;
    }

    public static async Task<int[]> MembershipsOf(this AppFixture app, string customerId) =>
        (await app.ProfileOf(customerId))["audience_memberships"]!.AsArray().Select(m => m!["audience_id"]!.GetValue<int>()).ToArray();

    public static async Task<JsonObject> Explain(this AppFixture app, int audienceId, long mpid)
    {
        using var response = await app.Platform(HttpMethod.Get, $"/v1/audiences/{audienceId}/explain/{mpid}?accountId=1");
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!.AsObject();
    }
}
