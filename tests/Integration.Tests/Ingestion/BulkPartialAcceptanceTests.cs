using System.Net;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Ingestion;

/// <summary>
/// Issue 16, item 4: a bulk request stores every valid batch and answers 202 listing the rejected ones (none of them
/// written); what concerns the whole request still refuses it whole; over-long event and event attribute names of
/// server-to-server data are truncated, the batch kept, each truncation reported in the answer and on the Live Stream.
/// </summary>
[Collection(AppCollection.Name)]
public class BulkPartialAcceptanceTests(AppFixture app)
{
    private static string Batch(string customerId, string events = """[{ "event_type": "custom_event", "data": { "event_name": "e", "custom_event_type": "other" } }]""") =>
        $$"""{ "environment": "development", "user_identities": { "customer_id": "{{customerId}}" }, "events": {{events}} }""";

    private async Task<long> IdentityRows(string value)
    {
        await using var command = app.Db.CreateCommand($"select count(*) from {app.Schema}.ep_identity_index where identity_value = $1");
        command.Parameters.AddWithValue(value);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<JsonObject> Answer(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, text);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/json"); // a success, not a problem
        return JsonNode.Parse(text)!.AsObject();
    }

    private static IEnumerable<(string Field, string Message)> ErrorsOf(JsonNode rejected) =>
        rejected["errors"]!.AsArray().Select(e => (e!["field"]!.GetValue<string>(), e["message"]!.GetValue<string>()));

    [Fact]
    public async Task a_bulk_request_stores_the_valid_batches_and_answers_202_listing_each_rejected_batch_with_its_errors()
    {
        var c = Enumerable.Range(0, 5).Select(i => Api.NewId($"bulk{i}")).ToArray();
        var noEventType = Batch(c[1], """[{ "data": { "event_name": "e" } }]""");
        var wrongType = $$"""{ "user_identities": { "customer_id": "{{c[3]}}" }, "events": "not a list" }""";
        var json = $"[{Batch(c[0])}, {noEventType}, {Batch(c[2])}, {wrongType}, 42]";

        using var response = await app.PostBatch(json, "/v2/bulkevents");
        var answer = await Answer(response);

        answer["accepted"]!.GetValue<int>().ShouldBe(2);
        var rejected = answer["rejected"]!.AsArray();
        rejected.Select(r => r!["index"]!.GetValue<int>()).ShouldBe([1, 3, 4]);
        rejected.Select(r => r!["status"]!.GetValue<int>()).ShouldAllBe(s => s == 400);
        answer["warnings"]!.AsArray().ShouldBeEmpty();

        // The same field errors each batch gets when sent alone.
        foreach (var (index, alone) in new[] { (0, noEventType), (1, wrongType) })
        {
            using var single = await app.PostBatch(alone);
            single.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            ErrorsOf(rejected[index]!).ShouldBe(await single.Errors());
        }
        ErrorsOf(rejected[0]!).Single().Field.ShouldBe("events[0].event_type");
        ErrorsOf(rejected[1]!).Single().ShouldBe(("events", "must be a JSON array."));
        ErrorsOf(rejected[2]!).Single().Message.ShouldContain("must be a JSON object");

        // Stored before the 202: the valid ones are readable at once; nothing of the rejected ones was written.
        (await app.ProfileOf(c[0]))["mpid"].ShouldNotBeNull();
        (await app.ProfileOf(c[2]))["mpid"].ShouldNotBeNull();
        (await IdentityRows(c[1])).ShouldBe(0);
        (await IdentityRows(c[3])).ShouldBe(0);
    }

    [Fact]
    public async Task a_bulk_request_whose_batches_are_all_invalid_is_refused_whole_and_names_each_batch()
    {
        var json = $"[{Batch(Api.NewId("c"), """[{ "data": {} }]""")}, {Batch(Api.NewId("c"), """[{ "event_type": "teleport", "data": {} }]""")}]";
        var before = await app.Counts();
        using var response = await app.PostBatch(json, "/v2/bulkevents");
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await response.Errors()).Select(e => e.Field).ShouldBe(["[0].events[0].event_type", "[1].events[0].event_type"]);
        (await app.Counts()).ShouldBe(before);
    }

    [Fact]
    public async Task request_level_problems_still_refuse_the_whole_request_with_their_status()
    {
        var before = await app.Counts();
        using (var notArray = await app.PostBatch(Batch(Api.NewId("c")), "/v2/bulkevents"))
        {
            notArray.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            (await notArray.Errors()).Single().Message.ShouldContain("JSON array of batches");
        }
        using (var tooMany = await app.PostBatch("[" + string.Join(",", Enumerable.Range(0, 101).Select(_ => Batch(Api.NewId("c")))) + "]", "/v2/bulkevents"))
            tooMany.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        using (var wrongSecret = await app.PostBatch($"[{Batch(Api.NewId("c"))}]", "/v2/bulkevents", secret: "wrong"))
            wrongSecret.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        using (var anonymous = await app.NewClient().PostAsync("/v2/bulkevents", new StringContent($"[{Batch(Api.NewId("c"))}]", System.Text.Encoding.UTF8, "application/json")))
            anonymous.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await app.Counts()).ShouldBe(before);
    }

    [Fact]
    public async Task a_batch_too_large_in_a_bulk_request_is_rejected_with_413_and_the_others_are_stored()
    {
        var padding = new string('x', 4000);
        var big = Batch(Api.NewId("big"), "[" + string.Join(",", Enumerable.Range(0, 33).Select(_ => $$"""{ "event_type": "custom_event", "data": { "event_name": "e", "custom_event_type": "other", "custom_attributes": { "pad": "{{padding}}" } } }""")) + "]");
        var small = Api.NewId("small");
        using var response = await app.PostBatch($"[{big}, {Batch(small)}]", "/v2/bulkevents");
        var answer = await Answer(response);
        var rejected = answer["rejected"]!.AsArray().Single()!;
        rejected["index"]!.GetValue<int>().ShouldBe(0);
        rejected["status"]!.GetValue<int>().ShouldBe(413);
        rejected["errors"]![0]!["code"]!.GetValue<string>().ShouldBe("PAYLOAD_TOO_LARGE");
        (await app.ProfileOf(small))["mpid"].ShouldNotBeNull();
    }

    [Fact]
    public async Task over_long_event_and_attribute_names_are_truncated_the_batch_kept_and_each_truncation_reported()
    {
        var customer = Api.NewId("trunc");
        var name = "Watched " + new string('n', 292); // 300 characters
        var attribute = "attr_" + new string('a', 295) + "😀"; // 302 UTF-16 characters; the cut must not split the emoji
        var events = $$"""[{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "other", "custom_attributes": { "{{attribute}}": "v", "short": "s" } } }, { "event_type": "screen_view", "data": { "screen_name": "{{name}}" } }]""";
        using var response = await app.PostBatch(Batch(customer, events));
        var answer = await Answer(response);

        answer["accepted"]!.GetValue<int>().ShouldBe(1);
        answer["rejected"]!.AsArray().ShouldBeEmpty();
        var warnings = answer["warnings"]!.AsArray();
        warnings.Select(w => w!["field"]!.GetValue<string>()).ShouldBe(
            ["events[0].data.event_name", $"events[0].data.custom_attributes.{attribute[..256]}", "events[1].data.screen_name"]);
        warnings.ShouldAllBe(w => w!["code"]!.GetValue<string>() == "TRUNCATED" && w["index"] == null);
        warnings[0]!["message"]!.GetValue<string>().ShouldContain("300 characters");

        // Stored as truncated: the names are the first 256 characters, the other attribute untouched.
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
        await using var command = app.Db.CreateCommand($"select data::text from {app.Schema}.mt_events where stream_id = $1 and type = 'event_captured' order by seq_id");
        command.Parameters.AddWithValue(mpid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var stored = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync()) stored.Add(reader.GetString(0));
        stored.Count.ShouldBe(2);
        stored[0].ShouldContain($"\"{name[..256]}\"");
        stored[0].ShouldNotContain(name);
        stored[0].ShouldContain($"\"{attribute[..256]}\"");
        stored[0].ShouldContain("\"short\"");
        stored[1].ShouldContain($"\"{name[..256]}\"");
    }

    [Fact]
    public async Task attribute_names_that_become_the_same_once_truncated_reject_their_batch_only()
    {
        var prefix = new string('p', 256);
        var clash = Api.NewId("clash");
        var fine = Api.NewId("fine");
        var events = $$"""[{ "event_type": "custom_event", "data": { "event_name": "e", "custom_event_type": "other", "custom_attributes": { "{{prefix}}x": "1", "{{prefix}}y": "2" } } }]""";
        using var response = await app.PostBatch($"[{Batch(fine)}, {Batch(clash, events)}]", "/v2/bulkevents");
        var answer = await Answer(response);
        var rejected = answer["rejected"]!.AsArray().Single()!;
        rejected["index"]!.GetValue<int>().ShouldBe(1);
        ErrorsOf(rejected).Single().Field.ShouldBe($"events[0].data.custom_attributes.{prefix}");
        (await IdentityRows(clash)).ShouldBe(0);
        (await app.ProfileOf(fine))["mpid"].ShouldNotBeNull();
    }

    [Fact]
    public async Task the_live_stream_shows_truncations_of_a_stored_batch_and_the_rejected_batches_of_a_bulk_request()
    {
        var kept = Api.NewId("live-kept");
        var refused = Api.NewId("live-refused");
        using var client = app.AdminClient();
        client.Timeout = TimeSpan.FromSeconds(30);
        using var response = await client.GetAsync($"/api/admin/live-stream?input={AppFixture.ForwardingInput}", HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        string? line;
        while ((line = await reader.ReadLineAsync(timeout.Token)) is not null && line != "data: ready") { } // subscribed

        var name = new string('w', 300);
        var truncated = Batch(kept, $$"""[{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "other" } }]""");
        var json = $"[{truncated}, {Batch(refused, """[{ "data": {} }]""")}]";
        using (var sent = await app.PostBatch(json, "/v2/bulkevents", AppFixture.ForwardingKey, AppFixture.ForwardingSecret))
            (await Answer(sent))["warnings"]![0]!["index"]!.GetValue<int>().ShouldBe(0);

        JsonObject? stored = null, rejected = null;
        while ((stored is null || rejected is null) && (line = await reader.ReadLineAsync(timeout.Token)) is not null)
        {
            if (!line.StartsWith("data: {")) continue;
            var message = JsonNode.Parse(line["data: ".Length..])!.AsObject();
            var batch = message["batch"]!.ToJsonString();
            if (batch.Contains(kept)) stored = message;
            if (batch.Contains(refused)) rejected = message;
        }
        stored.ShouldNotBeNull();
        stored["warnings"]!.AsArray().Single()!.GetValue<string>().ShouldStartWith("events[0].data.event_name: the name was 300 characters long");
        stored["batch"]!["events"]![0]!["data"]!["event_name"]!.GetValue<string>().ShouldBe(name[..256]);
        rejected.ShouldNotBeNull();
        rejected["rejected"]!.GetValue<bool>().ShouldBeTrue();
        rejected["error"]!.GetValue<string>().ShouldContain("events[0].event_type");
        (await IdentityRows(refused)).ShouldBe(0);
    }
}
