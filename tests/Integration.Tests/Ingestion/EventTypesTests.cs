using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Ingestion;

[Collection(AppCollection.Name)]
public class EventTypesTests(AppFixture app)
{
    /// <summary>One event of every type the spec lists, each with the fields its type needs.</summary>
    private static readonly string[] EveryType =
    [
        """{ "event_type": "custom_event", "data": { "event_name": "Clicked", "custom_event_type": "navigation", "custom_attributes": { "a": "1", "n": 2, "b": true, "z": null } } }""",
        """{ "event_type": "screen_view", "data": { "screen_name": "Home", "activity_type": "activity_started" } }""",
        """{ "event_type": "commerce_event", "data": { "product_action": { "action": "purchase", "transaction_id": "t1", "total_amount": 10.5, "products": [ { "id": "p1", "price": 10.5, "quantity": 1 } ] }, "currency_code": "EUR" } }""",
        """{ "event_type": "commerce_event", "data": { "promotion_action": { "action": "view", "promotions": [ { "id": "promo" } ] } } }""",
        """{ "event_type": "commerce_event", "data": { "product_impressions": [ { "product_impression_list": "home", "products": [ { "id": "p2" } ] } ] } }""",
        """{ "event_type": "session_start", "data": { "session_uuid": "S-1" } }""",
        """{ "event_type": "session_end", "data": { "session_uuid": "S-1", "session_duration_ms": 5000 } }""",
        """{ "event_type": "application_state_transition", "data": { "application_transition_type": "application_initialized", "is_first_run": true, "is_upgrade": false } }""",
        """{ "event_type": "opt_out", "data": { "is_opted_out": false } }""",
        """{ "event_type": "push_registration", "data": { "register": true, "registration_token": "tok" } }""",
        """{ "event_type": "push_message", "data": { "push_message_type": "received", "push_message_token": "tok", "push_notification_payload": "{}", "network": "apn", "push_message_behavior": 1 } }""",
        """{ "event_type": "crash_report", "data": { "class_name": "Boom", "severity": "fatal", "breadcrumbs": ["a", "b"], "exception_handled": false } }""",
        """{ "event_type": "breadcrumb", "data": { "label": "step 1", "session_number": 3 } }""",
        """{ "event_type": "network_performance", "data": { "url": "https://example.org", "response_code": 200, "http_verb": "GET", "time_elapsed": 12 } }""",
        """{ "event_type": "uninstall", "data": {} }""",
        """{ "event_type": "user_attribute_change", "data": { "user_attribute_name": "tier", "new": "gold", "old": null, "deleted": false, "is_new_attribute": true } }""",
        """{ "event_type": "user_identity_change", "data": { "new": { "identity_type": "email", "identity": "x@example.org", "timestamp_unixtime_ms": 1, "created_this_batch": true }, "old": { "identity_type": "email", "identity": null, "timestamp_unixtime_ms": 1, "created_this_batch": false } } }""",
        """{ "event_type": "first_run", "data": {} }""",
        """{ "event_type": "profile", "data": { "previous_mpid": 1, "current_mpid": 2, "profile_event_type": "login" } }""",
        """{ "event_type": "pre_attribution", "data": {} }""",
        """{ "event_type": "push_reaction", "data": {} }""",
        """{ "event_type": "unknown", "data": {} }""",
        """{ "event_type": "validation_result", "data": {} }""",
    ];

    [Fact]
    public async Task every_event_type_of_the_spec_is_accepted_and_stored_with_its_full_data()
    {
        var customer = Api.NewId("types");
        await app.Ingested($$"""{ "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{string.Join(",", EveryType)}} ] }""");

        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
        (await app.EventCount(mpid, "event_captured")).ShouldBe(EveryType.Length);
        await using var command = app.Db.CreateCommand(
            $"select data->'Data'->'product_action'->'products'->0->>'price' from {app.Schema}.mt_events where stream_id = $1 and data->>'EventType' = 'commerce_event' and data->'Data' ? 'product_action'");
        command.Parameters.AddWithValue(mpid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        (await command.ExecuteScalarAsync())!.ToString().ShouldBe("10.5");
    }

    [Fact]
    public async Task fields_we_do_not_model_are_stored_not_dropped()
    {
        var customer = Api.NewId("keep");
        await app.Ingested($$"""
            { "user_identities": { "customer_id": "{{customer}}" }, "partner_identities": { "mParticle_mpid": "x" },
              "integration_attributes": { "123": { "k": "v" } }, "brand_new_field": [1, 2],
              "events": [ { "event_type": "custom_event", "data": { "event_name": "e", "custom_event_type": "other", "a_future_field": { "deep": true } } } ] }
            """);

        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
        await using var command = app.Db.CreateCommand(
            $"select (select data->'Batch'->'brand_new_field'->>1 from {app.Schema}.mt_events where stream_id = $1 and type = 'batch_received') || ',' || " +
            $"(select data->'Batch'->'integration_attributes'->'123'->>'k' from {app.Schema}.mt_events where stream_id = $1 and type = 'batch_received') || ',' || " +
            $"(select data->'Data'->'a_future_field'->>'deep' from {app.Schema}.mt_events where stream_id = $1 and type = 'event_captured')");
        command.Parameters.AddWithValue(mpid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        (await command.ExecuteScalarAsync())!.ToString().ShouldBe("2,v,true");
    }
}
