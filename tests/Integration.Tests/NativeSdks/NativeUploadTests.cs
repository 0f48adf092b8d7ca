using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.NativeSdks;

/// <summary>
/// The native SDK uploads of Fixtures/native-sdks replayed byte for byte (headers, gzip, signature) through the real
/// Host (native-sdks.md §2–§8, §11): the answer the SDK needs, then what the Profile API shows.
/// </summary>
[Collection(AppCollection.Name)]
public class NativeUploadTests(AppFixture app)
{
    private async Task<JsonObject> Replay(NativeExchange exchange, string? path = null)
    {
        using var request = exchange.ToRequest(path);
        using var response = await app.NewClient().SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        ((int)response.StatusCode).ShouldBe(exchange.Status, $"{exchange.Name}: {text}");
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/json");
        var body = JsonNode.Parse(text)!.AsObject();
        body["dt"]!.GetValue<string>().ShouldBe("rh");
        var das = exchange.Body.GetProperty("das").GetString()!;
        body["ci"]!["ck"]!["uid"]!["c"]!.GetValue<string>().ShouldBe($"g={das}"); // the cookie the SDK echoes as ck
        return body;
    }

    private async Task<JsonObject> Profile(long mpid)
    {
        using var response = await app.GetProfile(mpid);
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    [Fact]
    public async Task the_android_fixtures_replayed_in_order_build_the_profile_and_a_resend_stores_nothing_twice()
    {
        // The fixtures' MPID was never given out here (no IDSync call came first): the pipeline gives the device's first
        // batch a profile, and the device stamp (das) brings every later batch to it.
        long? mpid = null;
        foreach (var file in new[] { "android-first-launch.json", "android-custom-events-and-screen-views.json", "android-commerce-purchase.json", "android-user-attributes.json" })
        {
            var answered = (await Replay(NativeExchange.Load(file).Single()))["ci"]!["mpid"]!.GetValue<long>();
            (mpid ??= answered).ShouldBe(answered, file);
        }

        var profile = await Profile(mpid!.Value);
        var text = profile.ToJsonString();
        profile.Attribute("membership_tier").ShouldBe(["gold"], text);
        profile.Attribute("favorite_categories").ShouldBe(["running", "hiking", "yoga"], text);
        profile.Attribute("orders_count").ShouldBe(["5"], text);
        profile["user_attributes"]!.AsObject().ContainsKey("newsletter_opt_in").ShouldBeTrue(text); // a tag
        profile["user_attributes"]!.AsObject().ContainsKey("legacy_segment").ShouldBeFalse(text);
        text.ShouldContain("38400000-8cf0-11bd-b23e-10b96e40000d"); // the GAID, a device identity

        // An SDK re-sending after a lost answer: the same batch (new Date and signature are allowed too) stores nothing.
        var before = await app.Counts();
        await Replay(NativeExchange.Load("android-commerce-purchase.json").Single());
        await Replay(NativeExchange.Load("android-commerce-purchase.json").Single(), "/nativeevents/v2/test-key/events"); // customBaseURL form
        (await app.Counts()).ShouldBe(before);
        (await app.EventCount(mpid.Value, "event_captured")).ShouldBeGreaterThanOrEqualTo(13); // 3 + 4 + 1 + 5 messages (the opt-out fixture is the same device)
    }

    [Fact]
    public async Task the_ios_fixtures_replayed_in_order_build_the_profile_with_identities_and_consent()
    {
        var files = new[] { "ios-first-launch.json", "ios-custom-events-and-screen-view.json", "ios-commerce-purchase.json", "ios-login-identity-change-and-consent.json" };
        var mpids = new List<long>();
        foreach (var file in files) mpids.Add((await Replay(NativeExchange.Load(file).Single()))["ci"]!["mpid"]!.GetValue<long>());
        mpids.Distinct().ShouldHaveSingleItem();
        var profile = await Profile(mpids[0]);
        var text = profile.ToJsonString();
        profile.Identities().ShouldContain("customer_id=C-100234", text);
        text.ShouldContain("3F2504E0-4F89-41D3-9A0C-0305E82C3301"); // IDFV
        profile["consent_state"]!["gdpr"]!["marketing"]!["consented"]!.GetValue<bool>().ShouldBeTrue(text);
        profile["consent_state"]!["ccpa"]!["data_sale_opt_out"]!["consented"]!.GetValue<bool>().ShouldBeFalse(text);
    }

    [Fact]
    public async Task the_opt_out_fixture_is_accepted_and_marks_the_profile()
    {
        var exchange = NativeExchange.Load("android-opt-out.json").Single();
        var mpid = (await Replay(exchange))["ci"]!["mpid"]!.GetValue<long>();
        (await app.EventCount(mpid, "event_captured")).ShouldBeGreaterThanOrEqualTo(1);
        var profile = await Profile(mpid);
        profile.ToJsonString().ShouldContain("opt", Case.Insensitive);
    }

    [Fact]
    public async Task bad_credentials_are_refused_and_nothing_is_written()
    {
        var exchange = NativeExchange.Load("android-first-launch.json").Single();
        var before = await app.Counts();
        var client = app.NewClient();

        using (var wrongSignature = exchange.ToRequest(headers: h => h["x-mp-signature"] = new string('0', 64)))
        using (var response = await client.SendAsync(wrongSignature))
            response.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        using (var wrongDate = exchange.ToRequest(headers: h => h["date"] = "Tue, 04 Jun 2024 16:13:31 CEST")) // the Date is signed
        using (var response = await client.SendAsync(wrongDate))
            response.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        using (var unsigned = exchange.ToRequest(headers: h => h.Remove("x-mp-signature")))
        using (var response = await client.SendAsync(unsigned))
            response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        using (var unknownKey = exchange.ToRequest("/v2/no-such-key/events"))
        using (var response = await client.SendAsync(unknownKey))
            response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        using (var webInput = NativeExchange.Signed(exchange.BodyText!, key: "demo-web-key", secret: "x"))
        using (var response = await client.SendAsync(webInput))
            response.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        using (var otherSecret = NativeExchange.Signed(exchange.BodyText!, secret: "not-the-secret"))
        using (var response = await client.SendAsync(otherSecret))
            response.StatusCode.ShouldBe(HttpStatusCode.Forbidden);

        (await app.Counts()).ShouldBe(before);
    }

    [Fact]
    public async Task hostile_bodies_get_a_4xx_and_write_nothing()
    {
        var before = await app.Counts();
        var client = app.NewClient();

        using (var badGzip = NativeExchange.Signed("{}"))
        {
            badGzip.Content = new ByteArrayContent([0x1f, 0x8b, 1, 2, 3, 4]);
            badGzip.Content.Headers.ContentEncoding.Add("gzip");
            using var response = await client.SendAsync(badGzip);
            response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        }
        using (var notJson = NativeExchange.Signed("{\"dt\":\"h\",")) 
        using (var response = await client.SendAsync(notJson))
            response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var deep = string.Concat(Enumerable.Repeat("[", 200)) + string.Concat(Enumerable.Repeat("]", 200));
        using (var deepNesting = NativeExchange.Signed($"{{\"dt\":\"h\",\"id\":\"{Guid.NewGuid()}\",\"mpid\":\"5\",\"msgs\":{deep}}}"))
        using (var response = await client.SendAsync(deepNesting))
            ((int)response.StatusCode).ShouldBeInRange(400, 499);
        using (var invalidUtf8 = NativeExchange.Signed("{}"))
        {
            var bytes = "{\"dt\":\"h\",\"x\":\"\u00e9\"}"u8.ToArray();
            bytes[^3] = 0xff;
            invalidUtf8.Content = new ByteArrayContent(NativeExchange.Gzip(bytes));
            invalidUtf8.Content.Headers.ContentEncoding.Add("gzip");
            using var response = await client.SendAsync(invalidUtf8);
            ((int)response.StatusCode).ShouldBeInRange(400, 499);
        }

        (await app.Counts()).ShouldBe(before);
    }

    [Fact]
    public async Task a_development_upload_with_data_problems_shows_them_on_the_live_stream()
    {
        using var client = app.AdminClient();
        client.Timeout = TimeSpan.FromSeconds(30);
        using var stream = await client.GetAsync("/api/admin/live-stream?input=recorded-sdks", HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        string? line;
        while ((line = await reader.ReadLineAsync(timeout.Token)) is not null && line != "data: ready") { } // subscribed

        var das = Guid.NewGuid().ToString();
        var body = $"{{\"dt\":\"h\",\"id\":\"{Guid.NewGuid()}\",\"mpid\":\"{Random.Shared.NextInt64(1_000_000_000, long.MaxValue)}\",\"das\":\"{das}\",\"dbg\":true,"
                   + $"\"msgs\":[{{\"dt\":\"e\",\"id\":\"{Guid.NewGuid()}\",\"ct\":1717510410000,\"n\":\"{new string('n', 300)}\",\"et\":\"Other\"}}]}}";
        using (var response = await app.NewClient().SendAsync(NativeExchange.Signed(body)))
            response.StatusCode.ShouldBe(HttpStatusCode.Accepted);

        JsonObject? seen = null;
        while (seen is null && (line = await reader.ReadLineAsync(timeout.Token)) is not null)
        {
            if (!line.StartsWith("data: {", StringComparison.Ordinal)) continue;
            var message = JsonNode.Parse(line["data: ".Length..])!.AsObject();
            if (message["batch"]!.ToJsonString().Contains(das)) seen = message;
        }
        seen.ShouldNotBeNull();
        var issue = seen["batch"]!["native_issues"]!.AsArray().Single()!;
        issue["field"]!.GetValue<string>().ShouldBe("msgs[0].n");
        issue["problem"]!.GetValue<string>().ShouldContain("truncated to 256");
        seen["batch"]!["source_info"]!["channel"]!.GetValue<string>().ShouldBe("native");
    }

    [Fact]
    public async Task ten_thousand_messages_are_stored_whole_once_or_not_at_all()
    {
        var messages = string.Join(",", Enumerable.Range(0, 10_000).Select(i => $"{{\"dt\":\"e\",\"id\":\"{Guid.NewGuid()}\",\"ct\":{1717510410000 + i},\"n\":\"tap\",\"et\":\"Other\"}}"));
        var body = $"{{\"dt\":\"h\",\"id\":\"{Guid.NewGuid()}\",\"mpid\":\"{Random.Shared.NextInt64(1_000_000_000, long.MaxValue)}\",\"das\":\"{Guid.NewGuid()}\",\"msgs\":[{messages}]}}";
        using var first = await app.NewClient().SendAsync(NativeExchange.Signed(body));
        var answer = await first.Content.ReadAsStringAsync();
        first.StatusCode.ShouldBe(HttpStatusCode.Accepted, answer);
        var mpid = JsonNode.Parse(answer)!["ci"]!["mpid"]!.GetValue<long>();
        (await app.EventCount(mpid, "event_captured")).ShouldBe(10_000);

        var before = await app.Counts();
        using var again = await app.NewClient().SendAsync(NativeExchange.Signed(body));
        again.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        (await app.Counts()).ShouldBe(before);
    }

    [Fact]
    public async Task data_problems_the_sdk_cannot_fix_are_accepted_kept_and_counted()
    {
        var mpid = Random.Shared.NextInt64(1_000_000_000, long.MaxValue);
        var das = Guid.NewGuid().ToString();
        var longName = new string('n', 300);
        var messages = string.Join(",", Enumerable.Range(0, 3).Select(i =>
            $"{{\"dt\":\"e\",\"id\":\"{Guid.NewGuid()}\",\"ct\":1717510410000,\"n\":\"{longName}\",\"et\":\"Navigation\",\"attrs\":{{\"nested\":{{\"a\":[1]}}}}}}"));
        var body = $"{{\"dt\":\"h\",\"id\":\"{Guid.NewGuid()}\",\"mpid\":\"{mpid}\",\"das\":\"{das}\",\"dbg\":true,"
                   + "\"con\":{\"gdpr\":{\"\":{\"c\":true}},\"ccpa\":{\"sell_it_all\":{\"c\":true}}},"
                   + $"\"msgs\":[{messages},{{\"dt\":\"ast\",\"id\":\"{Guid.NewGuid()}\",\"ct\":1717510410001,\"t\":\"app_sideways\"}},{{\"dt\":\"zz\",\"id\":\"{Guid.NewGuid()}\",\"ct\":1}}]}}";

        using var response = await app.NewClient().SendAsync(NativeExchange.Signed(body, path: "/nativeevents/v2/test-key/events"));
        var answer = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, answer);
        (await app.EventCount(JsonNode.Parse(answer)!["ci"]!["mpid"]!.GetValue<long>(), "event_captured")).ShouldBe(5);

        using var counters = await app.AdminClient().GetAsync("/api/admin/native-sdks/counters");
        var counts = JsonNode.Parse(await counters.Content.ReadAsStringAsync())!["recorded-sdks"]!;
        counts["data_problems"]!.GetValue<long>().ShouldBeGreaterThanOrEqualTo(7);
        counts["stored"]!.GetValue<long>().ShouldBeGreaterThanOrEqualTo(1);
    }

    [Fact]
    public async Task values_postgres_cannot_store_are_made_storable_and_the_batch_is_accepted_once()
    {
        // A NUL in a name and a value, an unpaired surrogate in an attribute name, numbers no column can hold: the
        // shared body check refuses these for every other API, but an SDK answered 4xx deletes the whole batch.
        var das = Guid.NewGuid().ToString();
        var digits = new string('9', 100);
        var body = $"{{\"dt\":\"h\",\"id\":\"{Guid.NewGuid()}\",\"mpid\":\"{Random.Shared.NextInt64(1_000_000_000, long.MaxValue)}\",\"das\":\"{das}\",\"dbg\":true,"
                   + $"\"msgs\":[{{\"dt\":\"e\",\"id\":\"{Guid.NewGuid()}\",\"ct\":1717510410000,\"n\":\"tap\\u0000here\",\"et\":\"Other\","
                   + $"\"attrs\":{{\"note\":\"a\\u0000b\",\"bad\\ud800key\":\"x\",\"huge\":1e400,\"long\":{digits},\"fine\":\"\\ud83d\\ude00\"}}}}]}}";
        var before = await Counters();

        using var response = await app.NewClient().SendAsync(NativeExchange.Signed(body));
        var answer = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, answer);
        var mpid = JsonNode.Parse(answer)!["ci"]!["mpid"]!.GetValue<long>();
        (await app.EventCount(mpid, "event_captured")).ShouldBe(1);
        await using (var command = app.Db.CreateCommand($"select data::text from {app.Schema}.mt_events where stream_id = $1 and type = 'event_captured'"))
        {
            command.Parameters.AddWithValue(mpid.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var stored = (string)(await command.ExecuteScalarAsync())!;
            stored.ShouldContain("taphere");
            stored.ShouldContain("\"ab\"");
            stored.ShouldContain("bad\ufffdkey");
            stored.ShouldContain("\U0001F600"); // a surrogate pair is a character, kept
            stored.ShouldNotContain(digits);
        }
        var after = await Counters();
        (after["data_problems"]!.GetValue<long>() - before["data_problems"]!.GetValue<long>()).ShouldBeGreaterThanOrEqualTo(5);

        // Re-sent after a lost answer: repaired the same way, stored nothing twice.
        var counts = await app.Counts();
        using (var again = await app.NewClient().SendAsync(NativeExchange.Signed(body)))
            again.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        (await app.Counts()).ShouldBe(counts);

        // The Events API keeps refusing them (its callers can fix their request).
        using var events = await app.PostBatch($$"""{ "environment": "development", "mpid": {{mpid}}, "events": [ { "event_type": "custom_event", "data": { "event_name": "a\u0000b", "custom_event_type": "other" } } ] }""");
        events.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
    }

    private async Task<JsonObject> Counters()
    {
        using var counters = await app.AdminClient().GetAsync("/api/admin/native-sdks/counters");
        return JsonNode.Parse(await counters.Content.ReadAsStringAsync())!.AsObject()["recorded-sdks"]?.AsObject()
               ?? new JsonObject { ["data_problems"] = 0L };
    }
}
