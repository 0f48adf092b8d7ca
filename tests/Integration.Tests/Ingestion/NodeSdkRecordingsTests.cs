using System.Net;
using System.Text.Json;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Ingestion;

/// <summary>What mParticle's Node SDK really sends is accepted as is, and the Profile API then shows it.</summary>
[Collection(AppCollection.Name)]
public class NodeSdkRecordingsTests(AppFixture app)
{
    [Fact]
    public async Task the_single_batch_upload_is_accepted_and_its_profile_is_readable()
    {
        var exchange = Recordings.Load("node-sdk-single.json").Single();
        using var response = await app.Client.SendAsync(exchange.ToRequest());
        ((int)response.StatusCode).ShouldBe(exchange.Status, await response.Content.ReadAsStringAsync());
        (await response.Content.ReadAsStringAsync()).ShouldBeEmpty();

        var profile = await app.ProfileOf("node-cust-1");
        profile.Identities().ShouldBe(["customer_id=node-cust-1", "email=node1@example.org"], ignoreOrder: true);
        profile.Identities("device_identities").ShouldBe(["ios_vendor_id=A1B2C3D4-0000-4000-8000-000000000001"]);
        profile.Attribute("plan").ShouldBe(["pro"]);
        profile.Attribute("age_band").ShouldBe(["30-39"]);
        profile.Attribute("favorite_genres").ShouldBe(["documentary", "comedy"]);
        profile["user_attributes"]!.AsObject().ContainsKey("trial_end").ShouldBeFalse();

        var consent = profile["consent_state"]!;
        consent["gdpr"]!["marketing"]!["consented"]!.GetValue<bool>().ShouldBeTrue();
        consent["gdpr"]!["marketing"]!["document"]!.GetValue<string>().ShouldBe("privacy_policy_v3");
        consent["ccpa"]!["data_sale_opt_out"]!["consented"]!.GetValue<bool>().ShouldBeFalse();

        var device = profile["devices"]!.AsArray().Single()!;
        device["identities"]!.AsArray().Single()!["value"]!.GetValue<string>().ShouldBe("A1B2C3D4-0000-4000-8000-000000000001");

        var mpid = profile["mpid"]!.GetValue<long>();
        (await app.EventCount(mpid, "event_captured")).ShouldBe(3);
    }

    [Fact]
    public async Task the_bulk_upload_creates_one_profile_per_batch()
    {
        var exchange = Recordings.Load("node-sdk-bulk.json").Single();
        using var response = await app.Client.SendAsync(exchange.ToRequest());
        ((int)response.StatusCode).ShouldBe(exchange.Status, await response.Content.ReadAsStringAsync());

        var mpids = new HashSet<long>();
        for (var i = 1; i <= 3; i++)
        {
            var profile = await app.ProfileOf($"bulk-cust-{i}");
            profile.Attribute("cohort").ShouldBe([$"bulk-{i}"]);
            mpids.Add(profile["mpid"]!.GetValue<long>());
        }
        mpids.Count.ShouldBe(3);
    }

    [Fact]
    public async Task the_error_cases_get_the_status_and_body_the_sdk_expects()
    {
        foreach (var exchange in Recordings.Load("node-sdk-errors.json"))
        {
            using var response = await app.Client.SendAsync(exchange.ToRequest());
            var body = await response.Content.ReadAsStringAsync();
            ((int)response.StatusCode).ShouldBe(exchange.Status, $"{exchange.Path} with {string.Join(",", exchange.Headers.Keys)}: {body}");
            if (exchange.ResponseBody.ValueKind == JsonValueKind.Object)
            {
                var expected = exchange.ResponseBody.GetProperty("errors")[0];
                var actual = JsonDocument.Parse(body).RootElement.GetProperty("errors")[0];
                actual.GetProperty("code").GetString().ShouldBe(expected.GetProperty("code").GetString());
                actual.GetProperty("message").GetString().ShouldBe(expected.GetProperty("message").GetString());
            }
        }
    }

    [Fact]
    public async Task sending_a_recorded_batch_again_stores_it_once()
    {
        var exchange = Recordings.Load("node-sdk-single.json").Single();
        using (var first = await app.Client.SendAsync(exchange.ToRequest())) first.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var before = await app.Counts();

        using var again = await app.Client.SendAsync(exchange.ToRequest());
        again.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        (await app.Counts()).ShouldBe(before);
    }
}
