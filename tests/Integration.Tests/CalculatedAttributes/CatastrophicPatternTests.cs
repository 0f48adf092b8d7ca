using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.CalculatedAttributes;

/// <summary>
/// Issue 14, item 16, through the real Host: one tenant's catastrophic pattern is cut off after its budget of timeouts
/// on the daemon's page of events, is logged, and another definition over the same events is computed as usual.
/// </summary>
[Collection(AppCollection.Name)]
public class CatastrophicPatternTests(AppFixture app)
{
    private static string CountWhereSku(string eventName, string pattern) => $$"""
        { "data_point": { "type": "event", "event_type": "custom_event", "event_name": "{{eventName}}", "attribute_name": null },
          "conditions": [ { "type": "string", "operator": "pattern", "attribute_name": "sku", "value": "{{pattern}}" } ],
          "calculation_type": "count", "time_period": { "type": "within", "within": 30, "within_unit": "days" } }
        """;

    [Fact]
    public async Task a_catastrophic_pattern_is_cut_off_and_logged_while_another_definition_over_the_same_events_is_computed()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var name = $"Scan{s}";
        var evil = await app.ActiveCalculatedAttribute($"evil_{s}", CountWhereSku(name, "(a+)+$"));
        await app.ActiveCalculatedAttribute($"fine_{s}", CountWhereSku(name, "^a+b$"));

        var customer = Api.NewId("regex");
        var sku = new string('a', 40) + "b"; // every split of the a's is tried before the b refutes them: exponential
        var at = DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeMilliseconds();
        var events = string.Join(",", Enumerable.Range(0, 10).Select(_ =>
            $$"""{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "other", "timestamp_unixtime_ms": {{at}}, "custom_attributes": { "sku": "{{sku}}" } } }"""));
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{events}} ] }""");
        await app.CatchUpDaemon();

        var attributes = await app.UserAttributesOf(customer);
        attributes[$"fine_{s}"]!.GetValue<string>().ShouldBe("10");
        (attributes[$"evil_{s}"]?.GetValue<string>() ?? "0").ShouldBe("0");
        app.Logs.Lines.ShouldContain(l => l.Contains($"Calculated attribute {evil} (evil_{s}") && l.Contains("timed out 3 times"));
    }
}
