using System.Text;
using EventProfiles.Commands.Ingestion;

namespace EventProfiles.Integration.Tests.Ingestion;

/// <summary>
/// The rules of one event type apply to the events of that type only, each error named by the event's field, in the
/// order the rules are declared; historical batches get their own rules. The answers are those main gave before the
/// validators were reshaped for speed (issue 15): the same 400s, the same fields, the same reasons.
/// </summary>
public class EventRulesTests
{
    private static readonly BatchValidator Validator = new();
    private static readonly DateTimeOffset ReceivedAt = new(2026, 12, 5, 0, 0, 0, TimeSpan.Zero);

    private static List<string> Errors(string json)
    {
        var read = BatchReader.Parse(Encoding.UTF8.GetBytes(json), BodyShape.Single, truncate: true);
        read.Problem.ShouldBeNull();
        var problem = IngestSteps.Validate(read, Validator, historical: false);
        return problem.Extensions.TryGetValue("errors", out var errors) && errors is List<Dictionary<string, string>> list
            ? list.Select(e => $"{e["field"]}: {e["message"]}").ToList()
            : [];
    }

    /// <summary>Historical bulk: each rejected batch's index and errors.</summary>
    private static List<string> HistoricalRejections(string json)
    {
        var read = BatchReader.Parse(Encoding.UTF8.GetBytes(json), BodyShape.Bulk, truncate: true) with { ReceivedAt = ReceivedAt };
        read.Problem.ShouldBeNull();
        IngestSteps.Validate(read, Validator, historical: true);
        return read.Rejected.SelectMany(r => r.Errors.Select(e => $"[{r.Index}] {e.Field}: {e.Message}")).ToList();
    }

    [Fact]
    public void user_attribute_change_events_need_a_name_within_the_limit_and_a_storable_new_value()
    {
        Errors($$"""
            { "events": [
              { "event_type": "user_attribute_change", "data": {} },
              { "event_type": "user_attribute_change", "data": { "user_attribute_name": "{{new string('n', 300)}}", "new": { "a": 1 } } },
              { "event_type": "user_attribute_change", "data": { "user_attribute_name": "x", "new": ["a", 2] } },
              { "event_type": "user_attribute_change", "data": { "user_attribute_name": "x", "new": null } } ] }
            """).ShouldBe([
            "events[0].data.user_attribute_name: is required for user_attribute_change events.",
            "events[1].data.user_attribute_name: The length of 'user_attribute_name' must be 256 characters or fewer. You entered 300 characters.",
            "events[1].data.new: must be a string, number, boolean, null or a list of strings; objects are not allowed.",
            "events[2].data.new: a list value may only contain strings.",
        ]);
    }

    [Fact]
    public void each_event_type_is_held_to_its_own_rules_only()
    {
        Errors("""
            { "events": [
              { "event_type": "application_state_transition", "data": {} },
              { "event_type": "application_state_transition", "data": { "application_transition_type": "application_exit" } },
              { "event_type": "push_registration", "data": {} },
              { "event_type": "breadcrumb", "data": { "label": "" } },
              { "event_type": "custom_event", "data": { "label": "", "user_attribute_name": "", "new": { "a": 1 } } },
              { "event_type": "screen_view", "data": { "product_action": { "action": "steal" } } },
              { "event_type": "commerce_event", "data": {} },
              { "event_type": "commerce_event", "data": { "product_action": { "action": "steal" } } },
              { "event_type": "commerce_event", "data": { "product_action": { "action": "purchase" } } },
              { "event_type": "commerce_event", "data": { "product_action": "x" } } ] }
            """).ShouldBe([
            "events[0].data.application_transition_type: is required for application_state_transition events: one of application_initialized, application_exit, application_background, application_foreground.",
            "events[2].data.registration_token: is required for push_registration events.",
            "events[3].data.label: is required for breadcrumb events.",
            "events[6].data: a commerce_event needs one of product_action, promotion_action or product_impressions.",
            "events[7].data.product_action.action: is required: one of add_to_cart, remove_from_cart, checkout, checkout_option, click, view_detail, purchase, refund, add_to_wishlist, remove_from_wish_list, remove_from_wishlist, unknown.",
            "events[9].data: a commerce_event needs one of product_action, promotion_action or product_impressions.",
        ]);
    }

    [Fact]
    public void an_event_breaking_common_and_type_rules_gets_both_in_declaration_order()
    {
        Errors("""
            { "events": [ { "event_type": "breadcrumb", "data": { "timestamp_unixtime_ms": -5, "custom_attributes": { "o": { "a": 1 } } } } ] }
            """).ShouldBe([
            "events[0].data.timestamp_unixtime_ms: 'timestamp_unixtime_ms' must be between 0 and 253402300799999. You entered -5.",
            "events[0].data.custom_attributes.o: event attribute values must be strings, numbers, booleans or null.",
            "events[0].data.label: is required for breadcrumb events.",
        ]);
    }

    [Fact]
    public void a_valid_batch_of_every_kind_of_event_has_no_errors()
    {
        Errors("""
            { "environment": "development", "user_identities": { "email": "a@b.c" }, "user_attributes": { "plan": "gold", "l": ["a"] },
              "events": [
                { "event_type": "custom_event", "data": { "event_name": "ok", "custom_attributes": { "a": "b", "n": 1 } } },
                { "event_type": "user_attribute_change", "data": { "user_attribute_name": "plan", "new": "gold" } },
                { "event_type": "application_state_transition", "data": { "application_transition_type": "application_initialized" } },
                { "event_type": "push_registration", "data": { "registration_token": "t" } },
                { "event_type": "breadcrumb", "data": { "label": "l" } },
                { "event_type": "commerce_event", "data": { "product_action": { "action": "purchase" } } } ] }
            """).ShouldBeEmpty();
    }

    [Fact]
    public void historical_batches_need_events_with_timestamps_at_least_72_hours_old()
    {
        HistoricalRejections("""
            [ { "events": [] }, {},
              { "events": [ { "event_type": "custom_event", "data": {} }, { "event_type": "custom_event", "data": { "timestamp_unixtime_ms": 1796000000000 } },
                            { "event_type": "custom_event", "data": { "timestamp_unixtime_ms": 1796500000000 } }, null ] },
              { "events": [ { "event_type": "custom_event", "data": { "timestamp_unixtime_ms": 1000 } } ] } ]
            """).ShouldBe([
            "[0] events: a historical batch must contain at least one event.",
            "[1] events: a historical batch must contain at least one event.",
            "[2] events[3]: must be an event object, not null.",
            "[2] events[0]: historical events must carry data.timestamp_unixtime_ms.",
            "[2] events[2]: historical events must be at least 72 hours old; send newer data to /v2/events.",
            "[2] events[3]: historical events must carry data.timestamp_unixtime_ms.",
        ]);
    }

    [Fact]
    public void batches_sent_to_v2_events_are_not_held_to_the_historical_rules()
    {
        Errors("""{ "events": [ { "event_type": "custom_event", "data": {} } ] }""").ShouldBeEmpty();
        Errors("""{ "events": [] }""").ShouldBeEmpty();
    }

    /// <summary>
    /// Valid batches skip FluentValidation through <see cref="BatchValidator.IsPlainlyValid"/>: it must pass the usual
    /// SDK batch (else nothing is saved) and refuse every batch that breaks a rule (else the error would be lost).
    /// </summary>
    [Fact]
    public void the_plain_check_passes_valid_batches_and_none_that_break_a_rule()
    {
        const string valid = """
            { "environment": "production", "source_request_id": "r-1", "mp_deviceid": "d-1",
              "user_identities": { "customer_id": "c1", "email": "a@b.c" },
              "user_attributes": { "plan": "gold", "interests": ["ski", "jazz"], "ltv": 1.5, "vip": true, "tag": null },
              "deleted_user_attributes": ["old"],
              "device_info": { "platform": "iOS", "att_authorization_status": "authorized", "att_timestamp_unixtime_ms": 1 },
              "consent_state": { "gdpr": { "marketing": { "consented": true, "timestamp_unixtime_ms": 1 } },
                                 "ccpa": { "data_sale_opt_out": { "consented": false } } },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "e", "timestamp_unixtime_ms": 1796000000000,
                            "session_start_unixtime_ms": 1, "source_message_id": "m", "screen_name": "s",
                            "custom_attributes": { "a": "b", "n": 1, "f": false, "z": null } } },
                          { "event_type": "screen_view" }, { "event_type": "session_start", "data": {} } ] }
            """;
        var n300 = new string('n', 300);
        var many = string.Join(", ", Enumerable.Range(0, 101).Select(i => $"\"a{i}\": 1")); // 101 attributes
        string[] broken =
        [
            """{ "environment": "staging" }""",
            $$"""{ "source_request_id": "{{n300}}" }""",
            $$"""{ "mp_deviceid": "{{new string('d', 4097)}}" }""",
            """{ "user_identities": { "shoe_size": "42" } }""",
            """{ "user_identities": { "email": "" } }""",
            $$"""{ "user_identities": { "email": "{{new string('e', 4097)}}" } }""",
            $$"""{ "user_attributes": { {{many}} } }""",
            """{ "user_attributes": { "": 1 } }""",
            $$"""{ "user_attributes": { "{{n300}}": 1 } }""",
            """{ "user_attributes": { "o": { "x": 1 } } }""",
            """{ "user_attributes": { "l": ["a", 1] } }""",
            """{ "deleted_user_attributes": [" "] }""",
            """{ "deleted_user_attributes": [null] }""",
            $$"""{ "deleted_user_attributes": ["{{n300}}"] }""",
            """{ "device_info": { "platform": "Symbian" } }""",
            """{ "device_info": { "att_authorization_status": "maybe" } }""",
            """{ "device_info": { "att_timestamp_unixtime_ms": -1 } }""",
            """{ "consent_state": { "gdpr": { " ": null } } }""",
            """{ "consent_state": { "gdpr": { "m": { "timestamp_unixtime_ms": 1 } } } }""",
            """{ "consent_state": { "gdpr": { "m": { "consented": true, "timestamp_unixtime_ms": -1 } } } }""",
            """{ "consent_state": { "ccpa": { "other": { "consented": true } } } }""",
            """{ "events": [ null ] }""",
            """{ "events": [ { "data": {} } ] }""",
            """{ "events": [ { "event_type": "no_such_type" } ] }""",
            """{ "events": [ { "event_type": "custom_event", "data": { "timestamp_unixtime_ms": -1 } } ] }""",
            """{ "events": [ { "event_type": "custom_event", "data": { "session_start_unixtime_ms": 253402300800000 } } ] }""",
            $$"""{ "events": [ { "event_type": "custom_event", "data": { "source_message_id": "{{n300}}" } } ] }""",
            $$"""{ "events": [ { "event_type": "custom_event", "data": { "event_name": "{{n300}}" } } ] }""",
            $$"""{ "events": [ { "event_type": "screen_view", "data": { "screen_name": "{{n300}}" } } ] }""",
            $$"""{ "events": [ { "event_type": "custom_event", "data": { "custom_attributes": { {{many}} } } } ] }""",
            $$"""{ "events": [ { "event_type": "custom_event", "data": { "custom_attributes": { "{{n300}}": 1 } } } ] }""",
            """{ "events": [ { "event_type": "custom_event", "data": { "custom_attributes": { "a": [1] } } } ] }""",
            $$"""{ "events": [ { "event_type": "custom_event", "data": { "custom_attributes": { "a": "{{new string('v', 4097)}}" } } } ] }""",
            """{ "events": [ { "event_type": "breadcrumb", "data": {} } ] }""",
        ];

        var plain = BatchReader.Parse(Encoding.UTF8.GetBytes(valid), BodyShape.Single, truncate: false).Batches[0].Batch;
        BatchValidator.IsPlainlyValid(plain).ShouldBeTrue();
        Validator.Validate(plain).IsValid.ShouldBeTrue();
        foreach (var json in broken)
        {
            var read = BatchReader.Parse(Encoding.UTF8.GetBytes(json), BodyShape.Single, truncate: false);
            read.Problem.ShouldBeNull(json);
            var batch = read.Batches[0].Batch;
            Validator.Validate(batch).IsValid.ShouldBeFalse(json);
            BatchValidator.IsPlainlyValid(batch).ShouldBeFalse(json);
        }
        // An event type with rules of its own is left to the validator even when valid.
        var breadcrumb = BatchReader.Parse("""{ "events": [ { "event_type": "breadcrumb", "data": { "label": "l" } } ] }"""u8.ToArray(), BodyShape.Single, truncate: false).Batches[0].Batch;
        BatchValidator.IsPlainlyValid(breadcrumb).ShouldBeFalse();
    }
}
