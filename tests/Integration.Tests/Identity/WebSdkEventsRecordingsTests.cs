using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Identity;

/// <summary>
/// The web SDK's whole recorded flow, in the order it happened: identify, 12 uploads, login, 2 uploads, modify,
/// 2 uploads, logout, 1 upload. Every upload is accepted as sent (text/plain) and lands on the profile IDSync gave.
/// </summary>
[Collection(AppCollection.Name)]
public class WebSdkEventsRecordingsTests(AppFixture app)
{
    private readonly Dictionary<string, string> _mpids = new();

    private async Task<HttpResponseMessage> Replay(RecordedExchange exchange)
    {
        var path = exchange.Path;
        var body = exchange.Body;
        foreach (var (recorded, ours) in _mpids) { path = path.Replace(recorded, ours); body = body?.Replace(recorded, ours); }
        using var request = (exchange with { Path = path, Body = body }).ToRequest();
        var response = await app.NewClient().SendAsync(request);
        if (exchange.ResponseBody.ValueKind == JsonValueKind.Object && exchange.ResponseBody.TryGetProperty("mpid", out var recordedMpid))
        {
            var answer = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            _mpids[recordedMpid.GetString()!] = answer["mpid"]!.GetValue<string>();
        }
        return response;
    }

    [Fact]
    public async Task the_recorded_web_flow_lands_on_the_right_profiles()
    {
        var identify = Recordings.Load("web-sdk-identify.json").Single();
        var (login, modify, logout) = Recordings.Load("web-sdk-login-logout-modify.json") switch { var e => (e[0], e[1], e[2]) };
        var uploads = Recordings.Load("web-sdk-events-v3.json");

        async Task Upload(int index)
        {
            using var response = await Replay(uploads[index]);
            ((int)response.StatusCode).ShouldBe(uploads[index].Status, $"upload {index}: {await response.Content.ReadAsStringAsync()}");
            response.Headers.GetValues("Access-Control-Allow-Origin").Single().ShouldBe(uploads[index].Headers["origin"]);
        }

        using (await Replay(identify)) { }
        await Task.WhenAll(Enumerable.Range(0, 12).Select(Upload)); // the SDK uploads each event at once, concurrently
        using (await Replay(login)) { }
        await Upload(12); await Upload(13);
        using (await Replay(modify)) { }
        await Upload(14); await Upload(15);
        using (await Replay(logout)) { }
        await Upload(16);

        var first = await app.ProfileOf("web-cust-1");
        first["mpid"]!.GetValue<long>().ToString().ShouldBe(_mpids["-4997737961702686682"]);
        first.Attribute("plan").ShouldBe(["premium"]);
        first.Attribute("favorite_genres").ShouldBe(["documentary", "comedy"]);
        first["user_attributes"]!.AsObject().ContainsKey("temp_flag").ShouldBeFalse(); // set, then removed (by event time)
        first["consent_state"]!["gdpr"]!.AsObject().Count.ShouldBeGreaterThan(0);
        first.Identities("device_identities").ShouldContain(d => d.StartsWith("device_application_stamp="));
        (await app.EventCount(long.Parse(_mpids["-4997737961702686682"]), "event_captured")).ShouldBe(12);

        var second = await app.ProfileOf("web-cust-2");
        second["mpid"]!.GetValue<long>().ToString().ShouldBe(_mpids["6955434514263548357"]);
        second.Identities().ShouldContain("email=web2-new@example.org"); // a late upload with the old email does not undo modify
        (await app.EventCount(long.Parse(_mpids["6955434514263548357"]), "event_captured")).ShouldBe(4);

        (await app.EventCount(long.Parse(_mpids["-7593332183360562422"]), "event_captured")).ShouldBe(1);

        // Finally the SDK aliases the anonymous visitor after logout to the logged-in web-cust-2.
        var alias = Recordings.Load("web-sdk-alias.json").Single();
        var (anonymous, known) = (long.Parse(_mpids["-7593332183360562422"]), long.Parse(_mpids["6955434514263548357"]));
        using (var response = await Replay(alias))
        {
            ((int)response.StatusCode).ShouldBe(alias.Status, await response.Content.ReadAsStringAsync());
            response.Headers.GetValues("Access-Control-Allow-Origin").Single().ShouldBe(alias.Headers["origin"]);
        }
        await Waiting.Until(async () => await app.EventCount(known, "profile_aliased_from") == 1, "the alias copy");
        // The recorded window closed just before "Anonymous Browse" was logged, so nothing falls inside it.
        (await app.EventCount(known, "event_captured")).ShouldBe(4);
        (await app.EventCount(anonymous, "profile_aliased_to")).ShouldBe(1);
        (await app.ProfileOf("web-cust-2"))["user_identities"]!.AsArray().Count.ShouldBe(2); // identities are not copied

        using (var again = await Replay(alias)) ((int)again.StatusCode).ShouldBe(202); // repeating changes nothing
        (await app.EventCount(known, "profile_aliased_from")).ShouldBe(1);
    }

    [Fact]
    public async Task sdk_uploads_need_a_known_key_that_may_be_used_alone()
    {
        var upload = Recordings.Load("web-sdk-events-v3.json")[0];
        using (var unknown = await app.NewClient().SendAsync((upload with { Path = "/v3/JS/no-such-key/events" }).ToRequest()))
            unknown.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        using (var server = await app.NewClient().SendAsync((upload with { Path = $"/v3/JS/{Api.DemoKey}/events" }).ToRequest()))
            server.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task the_sdk_configuration_is_served_without_flags_or_urls()
    {
        var exchange = Recordings.Load("web-sdk-config.json").Single();
        // Only a web input's key gets a configuration; the recordings' input is a server input (it also replays the Node SDK's).
        var path = exchange.Path.Replace($"/{AppFixture.RecordedKey}/", "/demo-web-key/", StringComparison.Ordinal);
        using var response = await app.NewClient().SendAsync((exchange with { Path = path + "?env=1" }).ToRequest());
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Headers.GetValues("Access-Control-Allow-Origin").Single().ShouldBe(exchange.Headers["origin"]);
        var config = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        config.Select(p => p.Key).ShouldBe(["appName", "kitConfigs", "pixelConfigs", "workspaceToken"], ignoreOrder: true);
    }
}
