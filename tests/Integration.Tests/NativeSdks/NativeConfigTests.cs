using System.Net;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.NativeSdks;

/// <summary>The config exchanges of Fixtures/native-sdks/config-response.json through the real Host (native-sdks.md §9).</summary>
[Collection(AppCollection.Name)]
public class NativeConfigTests(AppFixture app)
{
    [Fact]
    public async Task every_config_exchange_gets_200_with_an_etag_then_304_on_revalidation()
    {
        var client = app.NewClient();
        string? etag = null;
        foreach (var exchange in NativeExchange.Load("config-response.json"))
        {
            // The fixture's ETag is illustrative: revalidate with ours (If-None-Match is not signed).
            using var request = exchange.ToRequest(headers: h => { if (h.ContainsKey("if-none-match") && etag is not null) h["if-none-match"] = etag; });
            using var response = await client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            ((int)response.StatusCode).ShouldBe(exchange.Status, $"{exchange.Name}: {text}");
            var tag = response.Headers.GetValues("ETag").Single();
            tag.ShouldNotBeNullOrEmpty();
            if (exchange.Status == 304) { text.ShouldBeEmpty(); tag.ShouldBe(etag); continue; }

            etag ??= tag;
            tag.ShouldBe(etag); // the same settings, the same ETag, whichever SDK asks
            response.Content.Headers.ContentType!.MediaType.ShouldBe("application/json");
            var body = JsonNode.Parse(text)!.AsObject();
            body["dt"]!.GetValue<string>().ShouldBe("ac");
            foreach (var key in new[] { "id", "ct", "cue", "oo", "dur", "eks", "flags" }) body.ContainsKey(key).ShouldBeTrue(key);
            body.ContainsKey("rp").ShouldBeFalse(); // never a sampling ramp: a device outside it deletes its data
            body.ContainsKey("stl").ShouldBeFalse();
            body.ContainsKey("uitl").ShouldBeFalse();
            response.Headers.CacheControl!.MaxAge.ShouldBe(TimeSpan.FromSeconds(600));
        }
    }

    [Fact]
    public async Task the_customBaseURL_path_answers_the_same_and_bad_signatures_are_refused()
    {
        var exchange = NativeExchange.Load("config-response.json").First();
        var client = app.NewClient();
        using (var custom = exchange.ToRequest("/config/v4/test-key/config"))
        using (var response = await client.SendAsync(custom))
            response.StatusCode.ShouldBe(HttpStatusCode.OK);
        using (var bad = exchange.ToRequest(headers: h => h["x-mp-signature"] = new string('a', 64)))
        using (var response = await client.SendAsync(bad))
            response.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        using (var unknown = exchange.ToRequest("/v4/nobody/config"))
        using (var response = await client.SendAsync(unknown))
            response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }
}
