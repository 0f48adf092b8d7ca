using System.Net;
using System.Text;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Ingestion;

/// <summary>Every kind of bad request gets its status and a reason naming the field, and changes nothing.</summary>
[Collection(AppCollection.Name)]
public class BadInputTests(AppFixture app)
{
    private static string Batch(string customerId, string events = """[{ "event_type": "custom_event", "data": { "event_name": "e", "custom_event_type": "other" } }]""") =>
        $$"""{ "environment": "development", "user_identities": { "customer_id": "{{customerId}}" }, "events": {{events}} }""";

    private async Task<IReadOnlyList<(string Field, string Message)>> Rejected(HttpStatusCode status, Func<Task<HttpResponseMessage>> send)
    {
        var before = await app.Counts();
        using var response = await send();
        var body = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(status, body);
        (await app.Counts()).ShouldBe(before, "a rejected request must not change the database");
        return await response.Errors();
    }

    [Fact]
    public async Task malformed_json_is_rejected()
    {
        var errors = await Rejected(HttpStatusCode.BadRequest, () => app.PostBatch("""{ "environment": "development", "events": [ """));
        errors.Single().Message.ShouldContain("not valid JSON");
    }

    [Theory]
    [InlineData("""{ "events": "not a list" }""", "events", "must be a JSON array")]
    [InlineData("""{ "events": [ { "event_type": "custom_event", "data": { "timestamp_unixtime_ms": "yesterday" } } ] }""", "events[0].data.timestamp_unixtime_ms", "must be an integer")]
    [InlineData("""{ "mpid": "not-a-number" }""", "mpid", "signed 64-bit integer")]
    [InlineData("""{ "user_attributes": { "address": { "street": "x" } } }""", "user_attributes.address", "objects are not allowed")]
    [InlineData("""{ "user_identities": { "passport": "X1" } }""", "user_identities.passport", "not a user identity type")]
    [InlineData("""{ "environment": "staging" }""", "environment", "production")]
    [InlineData("""{ "consent_state": { "gdpr": { "marketing": { "timestamp_unixtime_ms": 1 } } } }""", "consent_state.gdpr.marketing.consented", "required")]
    [InlineData("""{ "events": [ { "event_type": "commerce_event", "data": { } } ] }""", "events[0].data", "product_action")]
    [InlineData("""{ "events": [ { "event_type": "user_attribute_change" } ] }""", "events[0].data.user_attribute_name", "required")]
    [InlineData("""{ "events": [ { "event_type": "application_state_transition" } ] }""", "events[0].data.application_transition_type", "required")]
    [InlineData("""{ "events": [ { "event_type": "push_registration" } ] }""", "events[0].data.registration_token", "required")]
    [InlineData("""{ "events": [ { "event_type": "breadcrumb" } ] }""", "events[0].data.label", "required")]
    [InlineData("""{ "events": [ { "event_type": "commerce_event" } ] }""", "events[0].data", "product_action")]
    [InlineData("""{ "events": [ { "event_type": "custom_event", "data": { "custom_attributes": { "nested": { "a": 1 } } } } ] }""", "events[0].data.custom_attributes.nested", "must be strings, numbers")]
    [InlineData("""{ "consent_state": { "ccpa": { "sale": { "consented": true } } } }""", "consent_state.ccpa.sale", "one purpose")]
    public async Task wrong_types_and_values_name_the_field_and_the_reason(string json, string field, string reason)
    {
        var errors = await Rejected(HttpStatusCode.BadRequest, () => app.PostBatch(json));
        errors.ShouldContain(e => e.Field == field && e.Message.Contains(reason), string.Join("; ", errors));
    }

    [Fact]
    public async Task every_bad_field_is_reported_not_just_the_first()
    {
        var json = """
            { "environment": "staging",
              "events": [ { "data": { } }, { "event_type": "teleport", "data": { } } ],
              "user_identities": { "passport": "X1" } }
            """;
        var errors = await Rejected(HttpStatusCode.BadRequest, () => app.PostBatch(json));
        errors.Select(e => e.Field).ShouldBe(["environment", "user_identities.passport", "events[0].event_type", "events[1].event_type"], ignoreOrder: true);
    }

    [Fact]
    public async Task an_unknown_event_type_is_rejected()
    {
        var errors = await Rejected(HttpStatusCode.BadRequest,
            () => app.PostBatch(Batch(Api.NewId("c"), """[{ "event_type": "teleport", "data": {} }]""")));
        errors.Single().Field.ShouldBe("events[0].event_type");
        errors.Single().Message.ShouldContain("\"teleport\" is not an event type");
    }

    [Fact]
    public async Task a_batch_over_128_kb_is_too_large()
    {
        var padding = new string('x', 4000);
        var attributes = string.Join(",", Enumerable.Range(0, 33).Select(i => $$"""{ "event_type": "custom_event", "data": { "event_name": "e", "custom_event_type": "other", "custom_attributes": { "pad": "{{padding}}" } } }"""));
        var json = Batch(Api.NewId("c"), $"[{attributes}]");
        Encoding.UTF8.GetByteCount(json).ShouldBeGreaterThan(128 * 1024);

        var errors = await Rejected(HttpStatusCode.RequestEntityTooLarge, () => app.PostBatch(json));
        errors.Single().Message.ShouldContain("a batch may be at most 131072 bytes");
    }

    [Fact]
    public async Task a_request_over_256_kb_is_too_large()
    {
        var padding = new string('x', 4000);
        var batch = Batch("c", "[" + string.Join(",", Enumerable.Range(0, 20).Select(_ => $$"""{ "event_type": "custom_event", "data": { "event_name": "e", "custom_event_type": "other", "custom_attributes": { "pad": "{{padding}}" } } }""")) + "]");
        var json = "[" + string.Join(",", Enumerable.Repeat(batch, 4)) + "]";
        Encoding.UTF8.GetByteCount(json).ShouldBeGreaterThan(256 * 1024);

        var errors = await Rejected(HttpStatusCode.RequestEntityTooLarge, () => app.PostBatch(json, "/v2/bulkevents"));
        errors.Single().Message.ShouldContain("a request may be at most 262144 bytes");
    }

    [Fact]
    public async Task more_than_100_batches_in_one_request_are_rejected()
    {
        var json = "[" + string.Join(",", Enumerable.Range(0, 101).Select(i => Batch(Api.NewId("c")))) + "]";
        var errors = await Rejected(HttpStatusCode.BadRequest, () => app.PostBatch(json, "/v2/bulkevents"));
        errors.Single().Message.ShouldContain("101 batches; at most 100");
    }

    [Fact]
    public async Task a_missing_authorization_is_401()
    {
        await Rejected(HttpStatusCode.Unauthorized, () => app.NewClient().PostAsync("/v2/events",
            new StringContent(Batch(Api.NewId("c")), Encoding.UTF8, "application/json")));
    }

    [Fact]
    public async Task a_wrong_secret_is_403()
    {
        var errors = await Rejected(HttpStatusCode.Forbidden, () => app.PostBatch(Batch(Api.NewId("c")), secret: "wrong"));
        errors.Single().Message.ShouldContain("wrong secret");
    }

    [Fact]
    public async Task another_workspaces_key_with_this_workspaces_secret_is_403()
    {
        await Rejected(HttpStatusCode.Forbidden, () => app.PostBatch(Batch(Api.NewId("c")), key: Api.OtherKey, secret: Api.DemoSecret));
    }

    [Fact]
    public async Task a_browser_input_cannot_use_the_server_api()
    {
        await Rejected(HttpStatusCode.Forbidden, () => app.PostBatch(Batch(Api.NewId("c")), key: "demo-web-key", secret: ""));
    }

    [Fact]
    public async Task historical_batches_must_be_old_enough_and_carry_timestamps()
    {
        var recent = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeMilliseconds();
        var events = $$"""[{ "event_type": "custom_event", "data": { "event_name": "e", "custom_event_type": "other", "timestamp_unixtime_ms": {{recent}} } }, { "event_type": "custom_event", "data": { "event_name": "e", "custom_event_type": "other" } }]""";
        var json = "[" + Batch(Api.NewId("c"), events) + "]";
        var errors = await Rejected(HttpStatusCode.BadRequest, () => app.PostBatch(json, "/v2/bulkevents/historical"));
        errors.Select(e => e.Field).ShouldBe(["[0].events[0]", "[0].events[1]"], ignoreOrder: true);
        errors.ShouldContain(e => e.Message.Contains("72 hours"));
        errors.ShouldContain(e => e.Message.Contains("must carry data.timestamp_unixtime_ms"));

        var empty = "[" + $$"""{ "user_identities": { "customer_id": "{{Api.NewId("c")}}" } }""" + "]";
        (await Rejected(HttpStatusCode.BadRequest, () => app.PostBatch(empty, "/v2/bulkevents/historical")))
            .Single().Message.ShouldContain("at least one event");
    }
}
