using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Security;

/// <summary>
/// Issue 14, items 13 and 14: what no endpoint can store is a 400 naming the field (never a 500, never a 503 an SDK
/// would retry forever); a body is capped at its endpoint's limit after decompression (413), a body that is not what
/// its Content-Encoding says is a 400, and signed IDSync requests still verify over a compressed body.
/// </summary>
[Collection(AppCollection.Name)]
public class RequestBodyTests(AppFixture app)
{
    /// <summary>41 KB of gzip (a few KB of br) that inflate to 40 MB.</summary>
    private static readonly byte[] Inflated = Encoding.ASCII.GetBytes("{\"environment\":\"development\",\"pad\":\"" + new string('a', 40 * 1024 * 1024) + "\"}");
    private static readonly Lazy<byte[]> GzipBomb = new(() => HostileInputs.Gzip(Inflated, System.IO.Compression.CompressionLevel.SmallestSize));
    private static readonly Lazy<byte[]> BrotliBomb = new(() => HostileInputs.Brotli(Inflated, System.IO.Compression.CompressionLevel.SmallestSize));

    public static TheoryData<string, string, string> Families => new()
    {
        { "Events", "/v2/events", "262144" },
        { "Web SDK", "/v3/JS/demo-web-key/events", "262144" },
        { "IDSync", "/v1/search", "65536" },
        { "Alias", "/v1/alias", "65536" },
        { "Profile API", "/userprofile/v1/resolve/1/1/1", "65536" },
        { "Platform API", "/v1/audiences?accountId=1", "262144" },
        { "Platform API", "/platform/v2/workspaces/1/calculatedattributes", "262144" },
        { "DSR", "/v3/requests", "262144" },
        { "Admin", "/api/admin/outputs", "1048576" },
    };

    [Theory]
    [MemberData(nameof(Families))]
    public async Task a_gzip_bomb_is_413_at_the_endpoints_own_limit(string family, string path, string limit) =>
        await BombIsRefused(family, path, limit, GzipBomb.Value, "gzip");

    [Theory]
    [MemberData(nameof(Families))]
    public async Task a_brotli_bomb_is_413_at_the_endpoints_own_limit(string family, string path, string limit) =>
        await BombIsRefused(family, path, limit, BrotliBomb.Value, "br");

    private async Task BombIsRefused(string family, string path, string limit, byte[] bomb, string encoding)
    {
        bomb.Length.ShouldBeLessThan(64 * 1024);
        var before = await app.Counts();
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(bomb) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Content.Headers.ContentEncoding.Add(encoding);
        await Authenticate(request, family);

        using var response = await app.NewClient().SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.RequestEntityTooLarge, $"{family}: {body}");
        (await response.Errors()).Single().Message.ShouldContain($"at most {limit} bytes");
        (await app.Counts()).ShouldBe(before);
    }

    [Fact]
    public async Task a_body_that_is_not_gzip_but_says_so_is_400_naming_the_encoding()
    {
        var before = await app.Counts();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/identify")
        {
            Content = new StringContent("""{"environment":"development","known_identities":{"customerid":"not-gzip"}}""", Encoding.UTF8, "application/json"),
        };
        request.Content.Headers.ContentEncoding.Add("gzip");
        request.Headers.Add("x-mp-key", "demo-web-key");
        using var response = await app.NewClient().SendAsync(request);
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync());
        var error = (await response.Errors()).Single();
        error.Field.ShouldBe("Content-Encoding");
        error.Message.ShouldContain("not valid gzip");
        (await app.Counts()).ShouldBe(before);
    }

    [Fact]
    public async Task a_signed_idsync_request_with_a_gzipped_body_verifies_over_the_inflated_body()
    {
        var customer = Api.NewId("c");
        var json = $$$"""{"environment":"development","known_identities":{"customerid":"{{{customer}}}"}}""";
        async Task<HttpResponseMessage> Send(string secret)
        {
            var date = DateTimeOffset.UtcNow.ToString("r");
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/identify") { Content = new ByteArrayContent(HostileInputs.Gzip(Encoding.UTF8.GetBytes(json))) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Content.Headers.ContentEncoding.Add("gzip");
            request.Headers.Add("x-mp-key", Api.DemoKey);
            request.Headers.TryAddWithoutValidation("Date", date);
            request.Headers.Add("x-mp-signature", Convert.ToHexStringLower(HMACSHA256.HashData(
                Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"POST\n{date}\n/v1/identify{json}"))));
            return await app.NewClient().SendAsync(request);
        }

        using (var signed = await Send(Api.DemoSecret))
            signed.StatusCode.ShouldBe(HttpStatusCode.OK, await signed.Content.ReadAsStringAsync());
        using (var again = await Send(Api.DemoSecret)) // the first call linked the identity read from the inflated body
            (await again.Content.ReadAsStringAsync()).ShouldContain(customer);
        using (var wrong = await Send("wrong"))
            wrong.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task a_nul_character_in_a_batch_is_400_with_its_json_path_not_a_503_to_retry_forever()
    {
        var before = await app.Counts();
        var json = $$"""{ "environment": "development", "user_identities": { "customer_id": "{{Api.NewId("c")}}" }, "events": [ { "event_type": "custom_event", "data": { "event_name": "e", "custom_event_type": "other", "custom_attributes": { "note": "a\u0000b" } } } ] }""";
        using var response = await app.PostBatch(json);
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync());
        response.Headers.RetryAfter.ShouldBeNull();
        var error = (await response.Errors()).Single();
        error.Field.ShouldBe("events[0].data.custom_attributes.note");
        error.Message.ShouldContain("NUL");
        (await app.Counts()).ShouldBe(before);
    }

    [Theory]
    [InlineData("/v2/events", "user_attributes.plan")]
    [InlineData("/v1/identify", "known_identities.email")]
    public async Task invalid_utf8_in_a_string_is_400_with_its_json_path(string path, string field)
    {
        var before = await app.Counts();
        var json = path == "/v2/events"
            ? $$"""{ "environment": "development", "user_identities": { "customer_id": "{{Api.NewId("c")}}" }, "user_attributes": { "plan": "BAD" } }"""
            : $$"""{ "environment": "development", "known_identities": { "customerid": "{{Api.NewId("c")}}", "email": "BAD" } }""";
        var bytes = Encoding.UTF8.GetBytes(json);
        var at = bytes.AsSpan().IndexOf("BAD"u8);
        bytes[at] = 0xFF; // a byte that never occurs in UTF-8
        bytes[at + 1] = 0xC3; // the start of a two-byte sequence, not continued

        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(bytes) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
        using var response = await app.NewClient().SendAsync(request);
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync());
        var error = (await response.Errors()).Single();
        error.Field.ShouldBe(field);
        error.Message.ShouldContain("not valid UTF-8");
        (await app.Counts()).ShouldBe(before);
    }

    [Fact]
    public async Task an_unpaired_surrogate_escape_is_400_not_a_database_error()
    {
        var before = await app.Counts();
        using var response = await app.PostBatch($$"""{ "environment": "development", "user_identities": { "customer_id": "{{Api.NewId("c")}}" }, "user_attributes": { "nick": "\ud800" } }""");
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync());
        (await response.Errors()).Single().Field.ShouldBe("user_attributes.nick");
        (await app.Counts()).ShouldBe(before);
    }

    [Fact]
    public async Task a_body_just_over_the_limit_after_decompression_is_413_and_one_at_the_limit_is_read()
    {
        // 64 KB for IDSync: the same JSON padded to the limit exactly, and one byte more, both gzipped.
        string Padded(int total)
        {
            var head = """{"environment":"development","known_identities":{"customerid":"c-limit"},"pad":" """.TrimEnd();
            return head + new string('x', total - head.Length - 2) + "\"}";
        }
        async Task<HttpStatusCode> Send(string json)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/search") { Content = new ByteArrayContent(HostileInputs.Gzip(Encoding.UTF8.GetBytes(json))) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Content.Headers.ContentEncoding.Add("gzip");
            request.Headers.Add("x-mp-key", "demo-web-key");
            using var response = await app.NewClient().SendAsync(request);
            return response.StatusCode;
        }
        Encoding.UTF8.GetByteCount(Padded(65536)).ShouldBe(65536);
        (await Send(Padded(65536))).ShouldNotBe(HttpStatusCode.RequestEntityTooLarge);
        (await Send(Padded(65537))).ShouldBe(HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task an_import_upload_that_does_not_decode_is_400_and_leaves_no_file()
    {
        var folder = Environment.GetEnvironmentVariable("EventProfiles__Operations__Folder")!;
        int Uploads() => Directory.Exists(folder) ? Directory.GetFiles(folder, "upload-*").Length : 0;
        var before = Uploads();
        var lines = string.Concat(Enumerable.Range(0, 20_000).Select(i => $$"""{"line":{{i}},"text":"{{Guid.NewGuid()}}"}""" + "\n"));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/admin/jobs/files")
        {
            Content = new ByteArrayContent(HostileInputs.Corrupt(HostileInputs.Gzip(Encoding.UTF8.GetBytes(lines)))),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        request.Content.Headers.ContentEncoding.Add("gzip");
        request.Headers.Authorization = AppFixture.Basic("admin", "admin-password");
        using var response = await app.NewClient().SendAsync(request);
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync());
        (await response.Errors()).Single().Field.ShouldBe("Content-Encoding");
        Uploads().ShouldBe(before);
    }

    [Theory]
    [InlineData("9223372036854775807")]
    [InlineData("-9223372036854775808")]
    [InlineData("253402300800000")]
    [InlineData("-62135596800001")]
    public async Task extreme_timestamps_are_refused_or_taken_never_a_5xx(string ms)
    {
        var id = Api.NewId("c");
        var bodies = new (string Path, string Json)[]
        {
            ("/v2/events", $$"""{ "environment": "development", "user_identities": { "customer_id": "{{id}}" }, "timestamp_unixtime_ms": {{ms}}, "events": [ { "event_type": "custom_event", "data": { "event_name": "e", "custom_event_type": "other", "timestamp_unixtime_ms": {{ms}} } } ] }"""),
            ("/v2/events", $$"""{ "environment": "development", "user_identities": { "customer_id": "{{id}}" }, "consent_state": { "gdpr": { "p": { "consented": true, "timestamp_unixtime_ms": {{ms}} } } }, "events": [ { "event_type": "user_attribute_change", "data": { "user_attribute_name": "a", "new": "b", "timestamp_unixtime_ms": {{ms}} } } ] }"""),
            ("/v1/identify", $$"""{ "environment": "development", "request_timestamp_ms": {{ms}}, "known_identities": { "customerid": "{{id}}" } }"""),
            ("/v1/alias", $$"""{ "request_type": "alias", "environment": "development", "data": { "source_mpid": 1, "destination_mpid": 2, "start_unixtime_ms": {{ms}}, "end_unixtime_ms": {{ms}} } }"""),
        };
        foreach (var (path, json) in bodies)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
            using var response = await app.NewClient().SendAsync(request);
            ((int)response.StatusCode).ShouldBeLessThan(500, $"{path} {ms}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    private async Task Authenticate(HttpRequestMessage request, string family)
    {
        switch (family)
        {
            case "Profile API" or "Platform API":
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await app.Token());
                break;
            case "Admin":
                request.Headers.Authorization = AppFixture.Basic("admin", "admin-password");
                break;
            case "IDSync":
                request.Headers.Add("x-mp-key", "demo-web-key"); // the public web key, as in the report
                break;
            case "Web SDK":
                break;
            default:
                request.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
                break;
        }
    }
}
