using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Identity;

/// <summary>
/// Issue 14 item 15: placeholder identities (the all-zero advertising id of a device that does not share it, "unknown",
/// "null", …) never match or link people — not in ingestion, IDSync or data-subject requests — but stay where they were
/// sent, and the identity history says why they were ignored.
/// </summary>
[Collection(AppCollection.Name)]
public class PlaceholderIdentityTests(AppFixture app)
{
    private const string Zero = "00000000-0000-0000-0000-000000000000";

    private async Task<string> Search(string type, string value)
    {
        using var response = await app.Call("/v1/search", new { environment = "development", known_identities = new Dictionary<string, string> { [type] = value } });
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!["mpid"]!.GetValue<string>();
    }

    private Task<JsonObject> Identify(Dictionary<string, string> known) => app.Identity("identify", known);

    /// <summary>An anonymous app user: no user identities, their own device id and a placeholder advertising id.</summary>
    private async Task<string> Stranger(string placeholderType, string deviceType)
    {
        var device = Api.NewId("dev");
        await app.Ingested($$"""
            { "environment": "development", "device_info": { "{{placeholderType}}": "{{Zero}}", "{{deviceType}}": "{{device}}" },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "Opened", "custom_event_type": "other" } } ] }
            """);
        return await Search(deviceType, device);
    }

    [Theory]
    [InlineData("android_advertising_id", "android_uuid")]
    [InlineData("ios_advertising_id", "ios_idfv")]
    public async Task two_strangers_batches_with_the_all_zero_advertising_id_stay_two_people(string placeholderType, string deviceType)
    {
        var first = await Stranger(placeholderType, deviceType);
        var second = await Stranger(placeholderType, deviceType);

        second.ShouldNotBe(first);
        // kept on the device record as sent
        using var devices = await app.GetProfile(long.Parse(second), "devices");
        (await devices.Content.ReadAsStringAsync()).ShouldContain(Zero);
    }

    [Theory]
    [InlineData("android_aaid")]
    [InlineData("ios_idfa")]
    public async Task two_strangers_identifying_with_the_all_zero_advertising_id_stay_two_people(string idSyncType)
    {
        var first = await Identify(new() { [idSyncType] = Zero, ["device_application_stamp"] = Api.NewId("das") });
        var second = await Identify(new() { [idSyncType] = Zero, ["device_application_stamp"] = Api.NewId("das") });

        second.Mpid().ShouldNotBe(first.Mpid());
        second["matched_identities"]!.AsObject().ShouldBeEmpty();
        using var search = await app.Call("/v1/search", new { environment = "development", known_identities = new Dictionary<string, string> { [idSyncType] = Zero } });
        search.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("other", "unknown")]
    [InlineData("other", "Unknown ")]
    [InlineData("email", "null")]
    [InlineData("email", "NULL")]
    [InlineData("other", "undefined")]
    [InlineData("customerid", "0")]
    [InlineData("other", "-1")]
    [InlineData("other", "[object Object]")]
    [InlineData("other", "NaN")]
    [InlineData("android_uuid", "0000000000000000")]
    [InlineData("ios_idfv", Zero)]
    public async Task no_placeholder_spelling_makes_strangers_one_person(string type, string value)
    {
        var first = await Identify(new() { [type] = value, ["device_application_stamp"] = Api.NewId("das") });
        var second = await Identify(new() { [type] = value, ["device_application_stamp"] = Api.NewId("das") });

        second.Mpid().ShouldNotBe(first.Mpid());
    }

    [Fact]
    public async Task a_real_advertising_id_still_links()
    {
        var advertisingId = Guid.NewGuid().ToString();
        var first = await Identify(new() { ["android_aaid"] = advertisingId, ["device_application_stamp"] = Api.NewId("das") });
        var second = await Identify(new() { ["android_aaid"] = advertisingId, ["device_application_stamp"] = Api.NewId("das") });

        second.Mpid().ShouldBe(first.Mpid());
    }

    [Fact]
    public async Task the_identity_history_says_why_a_placeholder_was_ignored_once()
    {
        var customer = Api.NewId("ph");
        var batch = $$"""
            { "environment": "development", "user_identities": { "customer_id": "{{customer}}", "other": "unknown" },
              "device_info": { "android_advertising_id": "{{Zero}}" }, "events": [] }
            """;
        await app.Ingested(batch);
        await app.Ingested(batch);
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/userprofile/v1/1/1/1/{mpid}/identity-history");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await app.Token());
        using var response = await app.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);

        var ignored = JsonNode.Parse(text)!["history"]!.AsArray().Where(h => h!["change"]!.GetValue<string>() == "ignored").ToList();
        ignored.Select(h => $"{h!["type"]}={h["value"]}").ShouldBe(["other=unknown", $"android_advertising_id={Zero}"], ignoreOrder: true);
        ignored.Single(h => h!["type"]!.GetValue<string>() == "android_advertising_id")!["reason"]!.GetValue<string>().ShouldContain("all-zero");
        ignored.Single(h => h!["type"]!.GetValue<string>() == "other")!["reason"]!.GetValue<string>().ShouldContain("placeholder");
        (await app.ProfileOf(customer)).Identities().ShouldBe([$"customer_id={customer}"]);
    }

    [Fact]
    public async Task an_erasure_naming_the_all_zero_id_erases_nobody()
    {
        var first = await Stranger("android_advertising_id", "android_uuid");
        var second = await Stranger("android_advertising_id", "android_uuid");

        var id = Guid.NewGuid().ToString();
        using (var submit = await Dsr(HttpMethod.Post, "/v3/requests", $$"""
            { "regulation": "gdpr", "subject_request_id": "{{id}}", "subject_request_type": "erasure", "submitted_time": "2026-11-01T10:00:00Z",
              "subject_identities": { "android_advertising_id": { "value": "{{Zero}}", "encoding": "raw" } }, "api_version": "3.0",
              "extensions": { "opendsr.mparticle.com": { "skip_waiting_period": true } } }
            """))
            submit.StatusCode.ShouldBe(HttpStatusCode.Created, await submit.Content.ReadAsStringAsync());
        await Waiting.Until(async () =>
        {
            await Task.Delay(200); // status calls count against the workspace's OpenDSR rate limit
            using var status = await Dsr(HttpMethod.Get, $"/v3/requests/{id}");
            return JsonNode.Parse(await status.Content.ReadAsStringAsync())!["request_status"]?.GetValue<string>() == "completed";
        }, "the erasure to complete", 60);

        using (var one = await app.GetProfile(long.Parse(first), "user_identities")) one.StatusCode.ShouldBe(HttpStatusCode.OK);
        using (var two = await app.GetProfile(long.Parse(second), "user_identities")) two.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    private async Task<HttpResponseMessage> Dsr(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        request.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
        return await app.Client.SendAsync(request);
    }
}
