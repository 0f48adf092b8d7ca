using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace EventProfiles.Integration.Tests.Fixtures;

/// <summary>IDSync calls as the web SDK makes them (x-mp-key alone, the recorded input), or as a server (Basic with the secret).</summary>
public static class IdSync
{
    public static async Task<HttpResponseMessage> Call(this AppFixture app, string path, object body, string key = AppFixture.RecordedKey, string? secret = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        if (secret is null) request.Headers.Add("x-mp-key", key);
        else request.Headers.Authorization = AppFixture.Basic(key, secret);
        return await app.NewClient().SendAsync(request);
    }

    /// <summary>identify/login/logout/search with these known identities; returns the parsed 200 answer.</summary>
    public static async Task<JsonObject> Identity(this AppFixture app, string call, object knownIdentities, string? previousMpid = null)
    {
        using var response = await app.Call($"/v1/{call}", new
        {
            client_sdk = new { platform = "web", sdk_vendor = "mparticle", sdk_version = "2.68.0" },
            environment = "development",
            request_id = Guid.NewGuid().ToString(),
            request_timestamp_ms = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            context = (string?)null,
            previous_mpid = previousMpid,
            known_identities = knownIdentities,
        });
        var text = await response.Content.ReadAsStringAsync();
        ((int)response.StatusCode).ShouldBe(200, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    public static async Task<HttpResponseMessage> Modify(this AppFixture app, string mpid, params object[] changes) =>
        await app.Call($"/v1/{mpid}/modify", new { environment = "development", request_id = Guid.NewGuid().ToString(), identity_changes = changes });

    /// <summary>Modify with one change, key-only with this input's key (the web input's, say).</summary>
    public static async Task<HttpResponseMessage> ModifyWithKey(this AppFixture app, string mpid, object change, string key) =>
        await app.Call($"/v1/{mpid}/modify", new { environment = "development", request_id = Guid.NewGuid().ToString(), identity_changes = new[] { change } }, key);

    /// <summary>Modify as a server does it (Basic with the recorded input's secret): it may take identities from known people.</summary>
    public static async Task<HttpResponseMessage> ModifyAsServer(this AppFixture app, string mpid, params object[] changes) =>
        await app.Call($"/v1/{mpid}/modify", new { environment = "development", request_id = Guid.NewGuid().ToString(), identity_changes = changes },
            AppFixture.RecordedKey, AppFixture.RecordedSecret);

    public static string Mpid(this JsonObject answer) => answer["mpid"]!.GetValue<string>();
}
