using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.NativeSdks;

namespace EventProfiles.Domain.Tests.NativeSdks;

/// <summary>The pure conversion of native uploads (native-sdks.md §3–§7, §11), over every fixture upload.</summary>
public class NativeBatchConverterTests
{
    public static TheoryData<string> Uploads()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fixtures", "native-sdks"), "*.json").Order())
            if (Path.GetFileName(file) != "config-response.json") data.Add(Path.GetFileName(file));
        return data;
    }

    private static JsonElement Body(string file) =>
        JsonDocument.Parse(JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "native-sdks", file)))
            .RootElement.GetProperty("exchanges")[0].GetProperty("body_text").GetString()!).RootElement;

    private static NativeConversion Convert(string file) =>
        NativeBatchConverter.Convert(Body(file), file.StartsWith("ios", StringComparison.Ordinal) ? NativePlatform.IOS : NativePlatform.Android);

    private static JsonElement Json(JsonNode node) => JsonDocument.Parse(node.ToJsonString()).RootElement;

    [Theory, MemberData(nameof(Uploads))]
    public void every_fixture_converts_without_issues_into_an_events_api_batch(string file)
    {
        var native = Body(file);
        var conversion = Convert(file);

        conversion.Issues.ShouldBeEmpty();
        var batch = JsonSerializer.Deserialize<Batch>(conversion.Batch.ToJsonString())!;
        batch.Mpid!.Value.Value.ShouldBe(long.Parse(native.GetProperty("mpid").ToString(), CultureInfo.InvariantCulture));
        batch.SourceRequestId.ShouldBe(native.GetProperty("id").GetString());
        batch.MpDeviceId.ShouldBe(native.GetProperty("das").GetString());
        batch.Environment.ShouldBe("production"); // ai.env 2, dbg false
        var messages = native.GetProperty("msgs").EnumerateArray().ToList();
        batch.Events!.Count.ShouldBe(messages.Count);
        for (var i = 0; i < messages.Count; i++)
        {
            batch.Events[i]!.EventType.ShouldBe(NativeBatchConverter.MessageTypes[messages[i].GetProperty("dt").GetString()!]);
            batch.Events[i]!.Data!.SourceMessageId.ShouldBe(messages[i].GetProperty("id").GetString());
            batch.Events[i]!.Data!.TimestampUnixtimeMs.ShouldBe(messages[i].GetProperty("ct").GetInt64());
        }
        EventTypes.All.ShouldContain(batch.Events.Select(e => e!.EventType!).Distinct().First());
    }

    [Theory, MemberData(nameof(Uploads))]
    public void nothing_in_an_upload_is_silently_dropped(string file)
    {
        // Every value the SDK sent is somewhere in the converted batch (renamed, retyped or kept under native).
        var converted = Leaves(Json(Convert(file).Batch)).ToHashSet();
        var missing = Leaves(Body(file), sent: true).Where(v => !converted.Contains(v)).ToList();
        missing.ShouldBeEmpty();
    }

    [Fact]
    public void android_batches_read_mpid_strings_null_tags_numbers_and_device_state()
    {
        var conversion = Convert("android-user-attributes.json");
        var batch = conversion.Batch;
        conversion.Platform.ShouldBe(NativePlatform.Android);
        batch["mpid"]!.GetValue<long>().ShouldBe(5723415096512287843);
        // The Android tag is the text "null"; the batch's uac set it to null, so it is a valueless tag.
        batch["user_attributes"]!["newsletter_opt_in"].ShouldBeNull();
        batch["user_attributes"]!.AsObject().ContainsKey("newsletter_opt_in").ShouldBeTrue();
        batch["user_attributes"]!["favorite_categories"]!.AsArray().Select(v => v!.GetValue<string>()).ShouldBe(["running", "hiking", "yoga"]);
        batch["deleted_user_attributes"]!.AsArray().Single()!.GetValue<string>().ShouldBe("legacy_segment");
        var events = batch["events"]!.AsArray();
        var increment = events[2]!["data"]!;
        increment["user_attribute_name"]!.GetValue<string>().ShouldBe("orders_count");
        increment["new"]!.GetValue<string>().ShouldBe("5");
        increment["old"]!.GetValue<string>().ShouldBe("4"); // a JSON number on the wire
        var removal = events[4]!["data"]!;
        removal["deleted"]!.GetValue<bool>().ShouldBeTrue();
        increment["device_current_state"]!["battery_level"]!.GetValue<double>().ShouldBe(0.87);
        increment["session_uuid"]!.GetValue<string>().ShouldBe("E919D53C-72E7-489F-B3A2-B685517E6D8B");
        batch["device_info"]!["android_advertising_id"]!.GetValue<string>().ShouldBe("38400000-8cf0-11bd-b23e-10b96e40000d");
        batch["device_info"]!["platform"]!.GetValue<string>().ShouldBe("Android");
        batch["device_info"]!["screen_height"]!.GetValue<long>().ShouldBe(2400);
        batch["application_info"]!["os"]!.GetValue<string>().ShouldBe("Android");
        batch["native"]!["ck"]!["uid"]!["c"]!.GetValue<string>().ShouldStartWith("g=");
        batch.AsObject().ContainsKey("consent_state").ShouldBeFalse(); // {"gdpr":{}} is no consent state, not a withdrawal
    }

    [Fact]
    public void ios_commerce_values_sent_as_strings_become_amounts()
    {
        var batch = Convert("ios-commerce-purchase.json").Batch;
        batch["mpid"]!.GetValue<long>().ShouldBe(8123450984412733190);
        batch["user_identities"]!["customer_id"]!.GetValue<string>().ShouldBe("C-100234");
        batch["user_identities"]!["email"]!.GetValue<string>().ShouldBe("ana.silva@example.org");
        batch["device_info"]!["ios_idfv"]!.GetValue<string>().ShouldBe("3F2504E0-4F89-41D3-9A0C-0305E82C3301");
        batch["device_info"]!["screen_height"]!.GetValue<long>().ShouldBe(2556); // "2556" on the wire
        batch["device_info"]!["timezone_offset"]!.GetValue<decimal>().ShouldBe(-4m);
        var data = batch["events"]![0]!["data"]!;
        data["custom_event_type"]!.GetValue<string>().ShouldBe("purchase");
        data["currency_code"]!.GetValue<string>().ShouldBe("USD");
        data["screen_name"]!.GetValue<string>().ShouldBe("Checkout");
        var action = data["product_action"]!;
        action["action"]!.GetValue<string>().ShouldBe("purchase");
        action["total_amount"]!.GetValue<decimal>().ShouldBe(143.19m);
        action["checkout_step"]!.GetValue<long>().ShouldBe(3);
        var product = action["products"]![0]!;
        product["id"]!.GetValue<string>().ShouldBe("SKU-1042");
        product["price"]!.GetValue<decimal>().ShouldBe(59.9m);
        product["quantity"]!.GetValue<decimal>().ShouldBe(2m);
        product["variant"]!.GetValue<string>().ShouldBe("Blue/42");
        data["is_main_thread"]!.GetValue<bool>().ShouldBeFalse();
        data["view_controller"]!.GetValue<string>().ShouldBe("off_thread");
    }

    [Fact]
    public void ios_identity_changes_and_consent_with_fractional_times()
    {
        var batch = Convert("ios-login-identity-change-and-consent.json").Batch;
        var change = batch["events"]![2]!["data"]!;
        change["new"]!["identity_type"]!.GetValue<string>().ShouldBe("email");
        change["new"]!["identity"]!.GetValue<string>().ShouldBe("ana.silva@example.org");
        change["old"]!["identity"]!.GetValue<string>().ShouldBe("ana.old@example.org");
        change["old"]!["timestamp_unixtime_ms"]!.GetValue<long>().ShouldBe(0);
        var consent = batch["consent_state"]!;
        consent["gdpr"]!["marketing"]!["consented"]!.GetValue<bool>().ShouldBeTrue();
        consent["gdpr"]!["marketing"]!["timestamp_unixtime_ms"]!.GetValue<long>().ShouldBe(1717769662123);
        consent["gdpr"]!["marketing"]!["document"]!.GetValue<string>().ShouldBe("privacy_policy_v3");
        consent["ccpa"]!["data_sale_opt_out"]!["consented"]!.GetValue<bool>().ShouldBeFalse();
    }

    [Fact]
    public void sessions_transitions_opt_out_and_first_run_keep_their_meaning()
    {
        var first = Convert("android-first-launch.json").Batch["events"]!.AsArray();
        first.Select(e => e!["event_type"]!.GetValue<string>()).ShouldBe(["first_run", "session_start", "application_state_transition"]);
        first[1]!["data"]!["session_uuid"]!.GetValue<string>().ShouldBe(first[1]!["data"]!["source_message_id"]!.GetValue<string>()); // ss id is the session id
        first[2]!["data"]!["application_transition_type"]!.GetValue<string>().ShouldBe("application_initialized");
        first[2]!["data"]!["is_first_run"]!.GetValue<bool>().ShouldBeTrue();

        var optOut = Convert("android-opt-out.json").Batch["events"]!.AsArray();
        optOut[1]!["data"]!["is_opted_out"]!.GetValue<bool>().ShouldBeTrue();
        optOut[2]!["data"]!["session_duration_ms"]!.GetValue<long>().ShouldBeGreaterThan(0);

        var ios = Convert("ios-custom-events-and-screen-view.json").Batch["events"]!.AsArray();
        ios[1]!["data"]!["screen_name"].ShouldNotBeNull();
        ios.Where(e => e!["event_type"]!.GetValue<string>() == "custom_event")
            .ShouldAllBe(e => e!["data"]!["custom_event_type"] != null);
    }

    [Theory]
    [InlineData("""{"dt":"ast","id":"a","ct":1,"t":"app_sideways"}""", "unknown", "msgs[0].t")]
    [InlineData("""{"dt":"zz","id":"a","ct":1}""", "unknown", "msgs[0].dt")]
    [InlineData("""{"dt":"pr","id":"a","ct":1,"r":"true"}""", "unknown", "msgs[0].to")]
    [InlineData("""{"dt":"cm","id":"a","ct":1,"pd":{"an":"teleport","pl":[]}}""", "commerce_event", "msgs[0].pd.an")]
    [InlineData("""{"dt":"uac","id":"a","ct":1,"nv":"x"}""", "unknown", "msgs[0].n")]
    public void a_message_we_cannot_model_is_kept_as_an_unknown_event_and_reported(string message, string eventType, string field)
    {
        var conversion = NativeBatchConverter.Convert(JsonDocument.Parse($$"""{"dt":"h","id":"b","mpid":"1","msgs":[{{message}}]}""").RootElement, NativePlatform.Android);
        conversion.Batch["events"]![0]!["event_type"]!.GetValue<string>().ShouldBe(eventType);
        conversion.Issues.Select(i => i.Field).ShouldContain(field);
        var kept = Leaves(Json(conversion.Batch)).ToHashSet();
        Leaves(JsonDocument.Parse(message).RootElement, sent: true).ShouldAllBe(v => kept.Contains(v));
    }

    [Fact]
    public void over_long_names_and_values_are_truncated_and_reported_never_refused()
    {
        var longName = new string('n', 300);
        var longValue = new string('v', 5000);
        var upload = "{\"dt\":\"h\",\"id\":\"b\",\"mpid\":7,\"ua\":{\"" + longName + "\":\"" + longValue + "\",\"obj\":{\"a\":1}},"
            + "\"con\":{\"ccpa\":{\"sell_everything\":{\"c\":true}},\"gdpr\":{\"\":{\"c\":true}}},"
            + "\"msgs\":[{\"dt\":\"e\",\"id\":\"m\",\"ct\":1,\"n\":\"" + longName + "\",\"et\":\"Navigation\",\"attrs\":{\"deep\":{\"x\":[1,2]}}}]}";
        var conversion = NativeBatchConverter.Convert(JsonDocument.Parse(upload).RootElement, NativePlatform.IOS);
        var batch = conversion.Batch;
        batch["user_attributes"]![longName[..256]]!.GetValue<string>().Length.ShouldBe(4096);
        batch["native"]!["ua"]!["obj"]!["a"]!.GetValue<int>().ShouldBe(1);
        batch["native"]!["con"]!["ccpa"]!["sell_everything"].ShouldNotBeNull();
        batch.AsObject().ContainsKey("consent_state").ShouldBeFalse();
        batch["events"]![0]!["data"]!["event_name"]!.GetValue<string>().Length.ShouldBe(256);
        batch["events"]![0]!["data"]!["native_attrs"]!["deep"].ShouldNotBeNull();
        conversion.Issues.Count.ShouldBeGreaterThanOrEqualTo(6);
    }

    [Fact]
    public void not_a_json_object_is_kept_whole_and_reported()
    {
        var conversion = NativeBatchConverter.Convert(JsonDocument.Parse("[1,2]").RootElement, NativePlatform.IOS);
        conversion.Issues.ShouldHaveSingleItem().Field.ShouldBe("");
        conversion.Batch["native"]!["body"]!.AsArray().Count.ShouldBe(2);
    }

    [Fact]
    public void environment_follows_dbg_then_ai_env()
    {
        string Env(string upload) => NativeBatchConverter.Convert(JsonDocument.Parse(upload).RootElement, NativePlatform.Android).Batch["environment"]!.GetValue<string>();
        Env("""{"dt":"h","dbg":true,"ai":{"env":2}}""").ShouldBe("development");
        Env("""{"dt":"h","ai":{"env":1}}""").ShouldBe("development");
        Env("""{"dt":"h","ai":{"env":2}}""").ShouldBe("production");
        Env("""{"dt":"h"}""").ShouldBe("production");
    }

    /// <summary>
    /// Every string and number in a JSON value, normalised (numbers and numeric strings by their decimal value). Of what
    /// was <paramref name="sent"/>, the values the conversion translates rather than copies are left out: message types
    /// (<c>dt</c>), enumerations (<c>et</c>, <c>t</c>, asserted by the tests above), booleans and tags sent as text, and
    /// consent times (truncated to whole milliseconds).
    /// </summary>
    private static IEnumerable<string> Leaves(JsonElement element, bool sent = false, string? key = null)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var p in element.EnumerateObject())
                {
                    if (sent && p.Name is "dt" or "et" or "t" or "ts") continue;
                    foreach (var leaf in Leaves(p.Value, sent, p.Name)) yield return leaf;
                }
                break;
            case JsonValueKind.Array:
                foreach (var e in element.EnumerateArray())
                foreach (var leaf in Leaves(e, sent, key)) yield return leaf;
                break;
            case JsonValueKind.String:
                var s = element.GetString()!;
                if (sent && s is "true" or "false" or "null") break;
                yield return decimal.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? Normal(d) : s;
                break;
            case JsonValueKind.Number:
                yield return Normal(decimal.Parse(element.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture));
                break;
        }
    }

    private static string Normal(decimal d) => (d / 1.0000000000000000000000000000m).ToString(CultureInfo.InvariantCulture);
}
