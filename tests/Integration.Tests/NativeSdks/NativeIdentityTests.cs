using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.NativeSdks;

/// <summary>
/// IDSync and alias as the native SDKs call them (native-sdks.md §10): Android gzips and dates in its own zone, iOS
/// sends plain bodies; both sign the canonical <c>/v1/…</c> path even on the <c>customBaseURL</c> paths, and Android's
/// alias carries the key in the path only.
/// </summary>
[Collection(AppCollection.Name)]
public class NativeIdentityTests(AppFixture app)
{
    private HttpRequestMessage Signed(string path, string signedPath, string body, bool gzip, bool sendKey, bool androidDate)
    {
        var now = app.Clock.GetUtcNow();
        var date = androidDate
            ? now.AddHours(2).ToString("ddd, dd MMM yyyy HH:mm:ss", CultureInfo.InvariantCulture) + " CEST"
            : now.ToString("r", CultureInfo.InvariantCulture);
        var signature = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(AppFixture.RecordedSecret),
            Encoding.UTF8.GetBytes($"POST\n{date}\n{signedPath}{body}")));
        var bytes = Encoding.UTF8.GetBytes(body);
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(gzip ? NativeExchange.Gzip(bytes) : bytes) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (gzip) request.Content.Headers.ContentEncoding.Add("gzip");
        request.Headers.TryAddWithoutValidation("Date", date);
        request.Headers.TryAddWithoutValidation("x-mp-signature", signature);
        if (sendKey) request.Headers.TryAddWithoutValidation("x-mp-key", AppFixture.RecordedKey);
        return request;
    }

    private async Task<string> Identify(string path, string customerId, bool android)
    {
        var body = $"{{\"client_sdk\":{{\"platform\":\"{(android ? "android" : "ios")}\",\"sdk_vendor\":\"mparticle\",\"sdk_version\":\"6.0.0\"}},"
                   + $"\"environment\":\"production\",\"request_id\":\"{Guid.NewGuid()}\",\"request_timestamp_ms\":{app.Clock.GetUtcNow().ToUnixTimeMilliseconds()},"
                   + $"\"known_identities\":{{\"customerid\":\"{customerId}\",\"device_application_stamp\":\"{Guid.NewGuid()}\"}}}}";
        using var response = await app.NewClient().SendAsync(Signed(path, "/v1/identify", body, gzip: android, sendKey: true, androidDate: android));
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!["mpid"]!.GetValue<string>();
    }

    [Fact]
    public async Task android_and_ios_identify_on_both_path_families_and_android_aliases_with_the_key_in_the_path_only()
    {
        var android = await Identify("/identity/v1/identify", Api.NewId("native-android"), android: true);
        var ios = await Identify("/v1/identify", Api.NewId("native-ios"), android: false);
        var iosCustomBase = await Identify("/identity/v1/identify", Api.NewId("native-ios"), android: false);
        new[] { android, ios, iosCustomBase }.Distinct().Count().ShouldBe(3);

        // Something to alias: the Android user's events (an upload of the anonymous device, to its MPID).
        var at = app.Clock.GetUtcNow().AddMinutes(-5).ToUnixTimeMilliseconds();
        var upload = $"{{\"dt\":\"h\",\"id\":\"{Guid.NewGuid()}\",\"mpid\":\"{android}\",\"das\":\"{Guid.NewGuid()}\","
                     + $"\"msgs\":[{{\"dt\":\"e\",\"id\":\"{Guid.NewGuid()}\",\"ct\":{at},\"n\":\"Browsed anonymously\",\"et\":\"Navigation\"}}]}}";
        using (var response = await app.NewClient().SendAsync(NativeExchange.Signed(upload)))
            response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        (await app.EventCount(long.Parse(android, CultureInfo.InvariantCulture), "event_captured")).ShouldBe(1);

        // Android leaves start/end out when they are 0 (§10).
        var alias = $"{{\"request_type\":\"alias\",\"request_id\":\"{Guid.NewGuid()}\",\"environment\":\"production\",\"api_key\":\"{AppFixture.RecordedKey}\","
                    + $"\"data\":{{\"source_mpid\":{android},\"destination_mpid\":{ios},\"device_application_stamp\":\"{Guid.NewGuid()}\"}}}}";
        var signedPath = $"/v1/identity/{AppFixture.RecordedKey}/alias";
        using (var response = await app.NewClient().SendAsync(Signed($"/nativeevents/v1/identity/{AppFixture.RecordedKey}/alias", signedPath, alias, gzip: true, sendKey: false, androidDate: true)))
            ((int)response.StatusCode).ShouldBe(202, await response.Content.ReadAsStringAsync());
        // The alias took effect: the Android user's events are copied to the iOS user's profile.
        var destination = long.Parse(ios, CultureInfo.InvariantCulture);
        await Waiting.Until(async () => await app.EventCount(destination, "profile_aliased_from") == 1, "the alias copy");
        (await app.EventCount(destination, "event_captured")).ShouldBe(1);

        using var wrong = Signed("/identity/v1/identify", "/v1/login", "{}", gzip: true, sendKey: true, androidDate: true);
        using (var response = await app.NewClient().SendAsync(wrong)) response.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }
}
