using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.NativeSdks;

/// <summary>One person seen from the web SDK, an Android upload and a server batch ends in one profile, the most recent value winning.</summary>
[Collection(AppCollection.Name)]
public class NativeAcrossChannelsTests(AppFixture app)
{
    [Fact]
    public async Task web_android_and_server_batches_of_one_person_make_one_profile_with_the_latest_value()
    {
        var customer = Api.NewId("across");
        var mpid = (await app.Identity("identify", new { customerid = customer })).Mpid();
        var now = app.Clock.GetUtcNow().ToUnixTimeMilliseconds();

        // The web SDK sets the tier first …
        var web = $$$"""{"mpid":"{{{mpid}}}","environment":"development","user_identities":{"customer_id":"{{{customer}}}"},"events":[{"event_type":"user_attribute_change","data":{"timestamp_unixtime_ms":{{{now - 120_000}}},"source_message_id":"{{{Guid.NewGuid()}}}","user_attribute_name":"tier","new":"bronze"}}]}""";
        using (var request = new HttpRequestMessage(HttpMethod.Post, $"/v3/JS/{AppFixture.RecordedKey}/events") { Content = new StringContent(web, Encoding.UTF8, "text/plain") })
        using (var response = await app.NewClient().SendAsync(request))
            response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());

        // … the Android app changes it a minute later …
        var android = $$$"""{"dt":"h","id":"{{{Guid.NewGuid()}}}","ct":{{{now - 60_000}}},"sdk":"6.0.0","mpid":"{{{mpid}}}","das":"{{{Guid.NewGuid()}}}","ui":[{"n":1,"i":"{{{customer}}}","dfs":{{{now - 120_000}}},"f":false}],"ua":{"tier":"silver"},"con":{"gdpr":{}},"ai":{"env":2},"di":{"dp":"Android"},"msgs":[{"dt":"uac","id":"{{{Guid.NewGuid()}}}","ct":{{{now - 60_000}}},"sid":"NO-SESSION","n":"tier","nv":"silver","ov":"bronze","d":false,"na":false}]}""";
        using (var response = await app.NewClient().SendAsync(NativeExchange.Signed(android)))
        {
            var text = await response.Content.ReadAsStringAsync();
            response.StatusCode.ShouldBe(HttpStatusCode.Accepted, text);
            JsonNode.Parse(text)!["ci"]!["mpid"]!.GetValue<long>().ToString(System.Globalization.CultureInfo.InvariantCulture).ShouldBe(mpid);
        }
        (await app.ProfileOf(customer)).Attribute("tier").ShouldBe(["silver"]);

        // … and a server batch, received now, is the latest of all.
        await app.Ingested($$$"""{"environment":"development","user_identities":{"customer_id":"{{{customer}}}"},"user_attributes":{"tier":"gold"}}""");
        var profile = await app.ProfileOf(customer);
        profile["mpid"]!.GetValue<long>().ToString(System.Globalization.CultureInfo.InvariantCulture).ShouldBe(mpid);
        profile.Attribute("tier").ShouldBe(["gold"]);
    }
}
