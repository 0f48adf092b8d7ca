using System.Net;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Ingestion;

[Collection(AppCollection.Name)]
public class IngestionTests(AppFixture app)
{
    [Fact]
    public async Task sixteen_parallel_batches_for_one_user_each_set_their_attribute()
    {
        var customer = Api.NewId("par");
        await app.Ingested($$"""{ "user_identities": { "customer_id": "{{customer}}" } }""");

        await Task.WhenAll(Enumerable.Range(0, 16).Select(i => app.Ingested(
            $$"""{ "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "attr_{{i}}": "value-{{i}}" } }""")));

        var profile = await app.ProfileOf(customer);
        for (var i = 0; i < 16; i++) profile.Attribute($"attr_{i}").ShouldBe([$"value-{i}"]);
    }

    [Fact]
    public async Task parallel_batches_for_one_new_customer_end_in_one_profile()
    {
        var customer = Api.NewId("new");
        await Task.WhenAll(Enumerable.Range(0, 16).Select(i => app.Ingested(
            $$"""{ "user_identities": { "customer_id": "{{customer}}", "email": "{{customer}}-{{i}}@example.org" }, "user_attributes": { "n{{i}}": "{{i}}" } }""")));

        var profile = await app.ProfileOf(customer);
        for (var i = 0; i < 16; i++) profile.Attribute($"n{i}").ShouldBe([$"{i}"]);
        await using var command = app.Db.CreateCommand($"select count(distinct mpid) from {app.Schema}.ep_identity_index where identity_value like $1");
        command.Parameters.AddWithValue($"{customer}%");
        ((long)(await command.ExecuteScalarAsync())!).ShouldBe(1);
    }

    [Fact]
    public async Task the_most_recent_value_wins_when_two_inputs_send_out_of_order()
    {
        var customer = Api.NewId("mrw");
        static string Change(string customer, string value, long at) => $$"""
            { "user_identities": { "customer_id": "{{customer}}" },
              "events": [ { "event_type": "user_attribute_change",
                            "data": { "user_attribute_name": "tier", "new": "{{value}}", "timestamp_unixtime_ms": {{at}} } } ] }
            """;
        var t = DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeMilliseconds();

        await app.Ingested(Change(customer, "gold", t + 60_000));                                       // newer, arrives first
        await app.Ingested(Change(customer, "silver", t), key: AppFixture.SecondKey, secret: AppFixture.SecondSecret); // older, arrives later

        (await app.ProfileOf(customer)).Attribute("tier").ShouldBe(["gold"]);
    }

    [Fact]
    public async Task a_server_batch_attribute_counts_at_its_receive_time()
    {
        var customer = Api.NewId("rt");
        var old = DateTimeOffset.UtcNow.AddDays(-1).ToUnixTimeMilliseconds();
        await app.Ingested($$"""{ "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "tier": "gold" } }""");
        await app.Ingested($$"""
            { "user_identities": { "customer_id": "{{customer}}" },
              "events": [ { "event_type": "user_attribute_change", "data": { "user_attribute_name": "tier", "new": "bronze", "timestamp_unixtime_ms": {{old}} } } ] }
            """, key: AppFixture.SecondKey, secret: AppFixture.SecondSecret);

        (await app.ProfileOf(customer)).Attribute("tier").ShouldBe(["gold"]);
    }

    [Fact]
    public async Task a_repeated_source_request_id_is_answered_202_and_stored_once()
    {
        var customer = Api.NewId("dup");
        var json = $$"""
            { "source_request_id": "{{Api.NewId("req")}}", "user_identities": { "customer_id": "{{customer}}" },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "once", "custom_event_type": "other" } } ] }
            """;
        await app.Ingested(json);
        var before = await app.Counts();

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => app.Ingested(json)));

        (await app.Counts()).ShouldBe(before);
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
        (await app.EventCount(mpid, "event_captured")).ShouldBe(1);
        (await app.EventCount(mpid, "batch_received")).ShouldBe(1);
    }

    [Fact]
    public async Task concurrent_requests_with_the_same_request_id_are_stored_once()
    {
        // Several rounds, so copies land both in one commit group and across groups (in flight, then committed).
        for (var round = 0; round < 5; round++)
        {
            var customer = Api.NewId("dupc");
            var json = $$"""
                { "source_request_id": "{{Api.NewId("req")}}", "user_identities": { "customer_id": "{{customer}}" },
                  "events": [ { "event_type": "custom_event", "data": { "event_name": "once", "custom_event_type": "other" } } ] }
                """;
            await Task.WhenAll(Enumerable.Range(0, 24).Select(async i =>
            {
                await Task.Delay(i % 6); // spread the copies over a few milliseconds
                await app.Ingested(json);
            }));

            var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
            (await app.EventCount(mpid, "batch_received")).ShouldBe(1);
        }
    }

    [Fact]
    public async Task an_event_message_id_already_in_the_stream_is_stored_once()
    {
        var customer = Api.NewId("msg");
        var message = Api.NewId("m");
        string Json() => $$"""
            { "source_request_id": "{{Api.NewId("req")}}", "user_identities": { "customer_id": "{{customer}}" },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "e", "custom_event_type": "other", "source_message_id": "{{message}}" } } ] }
            """;
        await app.Ingested(Json());
        await app.Ingested(Json());

        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
        (await app.EventCount(mpid, "event_captured")).ShouldBe(1);
        (await app.EventCount(mpid, "batch_received")).ShouldBe(2);
    }

    [Fact]
    public async Task a_batch_with_a_known_mpid_lands_on_that_profile_whatever_the_spelling_of_the_mpid()
    {
        var customer = Api.NewId("mp");
        await app.Ingested($$"""{ "user_identities": { "customer_id": "{{customer}}" } }""");
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();

        await app.Ingested($$"""{ "mpid": {{mpid}}, "user_attributes": { "as_number": "1" } }""");
        await app.Ingested($$"""{ "mpid": "{{mpid}}", "user_attributes": { "as_string": "1" } }""");

        var profile = await app.ProfileOf(customer);
        profile.Attribute("as_number").ShouldBe(["1"]);
        profile.Attribute("as_string").ShouldBe(["1"]);
    }

    [Fact]
    public async Task a_batch_without_identities_or_mpid_gets_a_new_profile_with_a_non_zero_mpid()
    {
        var before = await app.Counts();
        await app.Ingested("""{ "events": [ { "event_type": "session_start", "data": {} } ] }""");
        var after = await app.Counts();
        after.Streams.ShouldBe(before.Streams + 1);
        await using var command = app.Db.CreateCommand($"select count(*) from {app.Schema}.mt_doc_profile where (data->>'Mpid')::bigint = 0");
        ((long)(await command.ExecuteScalarAsync())!).ShouldBe(0);
    }

    [Fact]
    public async Task old_data_is_accepted_by_the_historical_endpoint_and_shapes_first_seen()
    {
        var customer = Api.NewId("hist");
        var old = DateTimeOffset.UtcNow.AddDays(-100).ToUnixTimeMilliseconds();
        await app.Ingested($$"""
            [{ "user_identities": { "customer_id": "{{customer}}" },
               "events": [ { "event_type": "custom_event", "data": { "event_name": "old", "custom_event_type": "other", "timestamp_unixtime_ms": {{old}} } } ] }]
            """, "/v2/bulkevents/historical");

        var profile = await app.ProfileOf(customer);
        var mpid = profile["mpid"]!.GetValue<long>();
        (await app.EventCount(mpid, "event_captured")).ShouldBe(1);
        await using var command = app.Db.CreateCommand($"select data->>'IsHistorical' from {app.Schema}.mt_events where stream_id = $1 and type = 'batch_received'");
        command.Parameters.AddWithValue(mpid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        (await command.ExecuteScalarAsync())!.ToString().ShouldBe("true");
    }

    [Fact]
    public async Task an_email_found_on_a_known_profile_brings_the_batch_to_that_profile()
    {
        var customer = Api.NewId("em");
        var email = $"{customer}@example.org";
        await app.Ingested($$"""{ "user_identities": { "customer_id": "{{customer}}", "email": "{{email}}" } }""");
        await app.Ingested($$"""{ "user_identities": { "email": "{{email}}" }, "user_attributes": { "via_email": "yes" } }""");

        (await app.ProfileOf(customer)).Attribute("via_email").ShouldBe(["yes"]);
    }

    [Fact]
    public async Task a_new_customer_id_does_not_take_over_a_profile_that_has_another_customer_id()
    {
        var first = Api.NewId("c1");
        var second = Api.NewId("c2");
        var email = $"{first}@example.org";
        await app.Ingested($$"""{ "user_identities": { "customer_id": "{{first}}", "email": "{{email}}" } }""");
        await app.Ingested($$"""{ "user_identities": { "customer_id": "{{second}}", "email": "{{email}}" }, "user_attributes": { "who": "second" } }""");

        var a = await app.ProfileOf(first);
        var b = await app.ProfileOf(second);
        a["mpid"]!.GetValue<long>().ShouldNotBe(b["mpid"]!.GetValue<long>());
        a["user_attributes"]!.AsObject().ContainsKey("who").ShouldBeFalse();
        b.Attribute("who").ShouldBe(["second"]);
    }

    [Fact]
    public async Task a_202_means_stored_even_for_a_bulk_request()
    {
        var customers = Enumerable.Range(0, 50).Select(_ => Api.NewId("b")).ToList();
        var json = "[" + string.Join(",", customers.Select(c => $$"""{ "user_identities": { "customer_id": "{{c}}" }, "user_attributes": { "k": "v" } }""")) + "]";
        using var response = await app.PostBatch(json, "/v2/bulkevents");
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted);

        foreach (var c in customers.Take(5)) (await app.ProfileOf(c)).Attribute("k").ShouldBe(["v"]);
        await using var command = app.Db.CreateCommand($"select count(*) from {app.Schema}.ep_identity_index where identity_value = any($1)");
        command.Parameters.AddWithValue(customers.ToArray());
        ((long)(await command.ExecuteScalarAsync())!).ShouldBe(50);
    }

    [Fact]
    public async Task two_people_on_one_device_both_hold_the_device_and_a_device_only_batch_goes_to_the_latest()
    {
        var device = Api.NewId("das");
        var first = Api.NewId("dev1");
        var second = Api.NewId("dev2");
        await app.Ingested($$"""{ "user_identities": { "customer_id": "{{first}}" }, "mp_deviceid": "{{device}}" }""");
        await app.Ingested($$"""{ "user_identities": { "customer_id": "{{second}}" }, "mp_deviceid": "{{device}}" }""");
        await app.Ingested($$"""{ "mp_deviceid": "{{device}}", "user_attributes": { "last_on_device": "yes" } }""");

        (await app.ProfileOf(first)).Identities("device_identities").ShouldBe([$"device_application_stamp={device}"]);
        var latest = await app.ProfileOf(second);
        latest.Identities("device_identities").ShouldBe([$"device_application_stamp={device}"]);
        latest.Attribute("last_on_device").ShouldBe(["yes"]);
    }
}
