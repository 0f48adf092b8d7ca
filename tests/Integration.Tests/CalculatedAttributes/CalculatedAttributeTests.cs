using System.Net;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.CalculatedAttributes;

/// <summary>Calculated attributes end to end: defined over the Platform API, computed by the daemon, read from the Profile API.</summary>
[Collection(AppCollection.Name)]
public class CalculatedAttributeTests(AppFixture app)
{
    private const string Last30Days = """{ "type": "within", "within": 30, "within_unit": "days" }""";

    private static string Definition(string calculation, string eventName, string? attribute = null, string period = Last30Days,
        string conditions = "[]", string eventType = "custom_event", string extra = "") => $$"""
        { "recipe_type": "event",
          "data_point": { "type": "event", "event_type": "{{eventType}}", "event_name": "{{eventName}}", "attribute_name": {{(attribute is null ? "null" : $"\"{attribute}\"")}} {{extra}} },
          "conditions": {{conditions}}, "calculation_type": "{{calculation}}", "time_period": {{period}} }
        """;

    private static string Event(string name, long at, string attributes = "{}") =>
        $$"""{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "other", "timestamp_unixtime_ms": {{at}}, "custom_attributes": {{attributes}} } }""";

    private static string Batch(string customer, params string[] events) => BatchWithAttributes(customer, "{}", events);

    private static string BatchWithAttributes(string customer, string userAttributes, params string[] events) =>
        $$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": {{userAttributes}}, "events": [ {{string.Join(",", events)}} ] }""";

    private static long Ms(DateTimeOffset at) => at.ToUnixTimeMilliseconds();

    [Fact]
    public async Task every_kind_of_value_is_computed_live_and_shown_as_a_user_attribute_overriding_the_same_name()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var name = $"Purchase{s}";
        var since = DateTimeOffset.UtcNow.AddDays(-1).ToString("O");
        await app.ActiveCalculatedAttribute($"orders_{s}", Definition("count", name));
        await app.ActiveCalculatedAttribute($"revenue_{s}", Definition("sum", name, "amount", $$"""{ "type": "since", "date": "{{since}}" }"""));
        await app.ActiveCalculatedAttribute($"skus_{s}", Definition("unique_list", name, "sku"));
        await app.ActiveCalculatedAttribute($"last_sku_{s}", Definition("last_occurrence", name, "sku"));
        await app.ActiveCalculatedAttribute($"top_sku_{s}", Definition("most_frequent", name, "sku"));
        await app.ActiveCalculatedAttribute($"first_at_{s}", Definition("first_occurrence_timestamp", name));
        await app.ActiveCalculatedAttribute($"big_orders_{s}", Definition("count", name, conditions:
            """[ { "type": "number", "operator": "greater_than", "attribute_name": "amount", "value": "15" } ]"""));

        var customer = Api.NewId("ca-live");
        var t0 = DateTimeOffset.UtcNow.AddHours(-3);
        await app.Ingested(BatchWithAttributes(customer, $$"""{ "orders_{{s}}": "999" }""",
            Event(name, Ms(t0), """{ "sku": "b", "amount": 10 }"""),
            Event(name, Ms(t0.AddHours(1)), """{ "sku": "a", "amount": "20.5" }"""),
            Event("Unrelated", Ms(t0.AddHours(1)), """{ "sku": "z", "amount": 1000 }""")));
        await app.Ingested(Batch(customer, Event(name, Ms(t0.AddHours(2)), """{ "sku": "b", "amount": "not a number" }""")));
        await app.CatchUpDaemon();

        var attributes = await app.UserAttributesOf(customer);
        attributes[$"orders_{s}"]!.GetValue<string>().ShouldBe("3"); // the calculated attribute wins over the user attribute
        attributes[$"revenue_{s}"]!.GetValue<string>().ShouldBe("30.5"); // "20.5" coerced, "not a number" skipped
        attributes[$"skus_{s}"]!.AsArray().Select(v => v!.GetValue<string>()).ShouldBe(["a", "b"]);
        attributes[$"last_sku_{s}"]!.GetValue<string>().ShouldBe("b");
        attributes[$"top_sku_{s}"]!.GetValue<string>().ShouldBe("b");
        attributes[$"first_at_{s}"]!.GetValue<string>().ShouldBe(DateTimeOffset.FromUnixTimeMilliseconds(Ms(t0)).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'"));
        attributes[$"big_orders_{s}"]!.GetValue<string>().ShouldBe("1");
    }

    [Fact]
    public async Task a_definition_activated_after_the_data_arrived_is_initialised_from_history_and_equals_one_that_was_live()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var name = $"Donation{s}";
        var live = await app.ActiveCalculatedAttribute($"donated_live_{s}", Definition("average", name, "amount"));

        var customers = Enumerable.Range(0, 3).Select(i => Api.NewId($"ca-init{i}")).ToList();
        var t0 = DateTimeOffset.UtcNow.AddDays(-2);
        for (var i = 0; i < customers.Count; i++)
            await app.Ingested(Batch(customers[i],
                Event(name, Ms(t0), $$"""{ "amount": {{10 * (i + 1)}} }"""),
                Event(name, Ms(t0.AddHours(1)), """{ "amount": "5" }""")));
        await app.CatchUpDaemon();

        var later = await app.CreateCalculatedAttribute($"donated_replayed_{s}", Definition("average", name, "amount"));
        (await app.CalculatedAttribute(later))["status"]!.GetValue<string>().ShouldBe("draft");
        await app.Activate(later);
        await app.UntilReady(later);

        var resource = await app.CalculatedAttribute(later);
        resource["initialization"]!["percent"]!.GetValue<double>().ShouldBe(100);
        resource["initialization"]!["events_done"]!.GetValue<long>().ShouldBeGreaterThanOrEqualTo(6);
        resource["initialization"]!["events_total"]!.GetValue<long>().ShouldBe(resource["initialization"]!["events_done"]!.GetValue<long>());
        resource["initialization"]!["people"]!.GetValue<long>().ShouldBe(3); // saved in two chunks (ReplayChunk 2 in the tests)
        resource["active_definition"]!["calculation_type"]!.GetValue<string>().ShouldBe("average");
        (await app.CalculatedAttribute(live))["status"]!.GetValue<string>().ShouldBe("ready");

        for (var i = 0; i < customers.Count; i++)
        {
            var attributes = await app.UserAttributesOf(customers[i]);
            var expected = ((10m * (i + 1) + 5) / 2).ToString(System.Globalization.CultureInfo.InvariantCulture);
            attributes[$"donated_replayed_{s}"]!.GetValue<string>().ShouldBe(expected);
            attributes[$"donated_live_{s}"]!.GetValue<string>().ShouldBe(expected);
        }

        // After activation, new events count on top of the replayed part.
        await app.Ingested(Batch(customers[0], Event(name, Ms(DateTimeOffset.UtcNow), """{ "amount": 30 }""")));
        await app.CatchUpDaemon();
        (await app.UserAttributesOf(customers[0]))[$"donated_replayed_{s}"]!.GetValue<string>().ShouldBe("15");
    }

    [Fact]
    public async Task rebuilding_the_projection_from_the_events_gives_exactly_the_live_values()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var view = $"View{s}";
        await app.ActiveCalculatedAttribute($"views_7d_{s}", Definition("count", view, period: """{ "type": "within", "within": 1, "within_unit": "weeks" }"""));
        await app.ActiveCalculatedAttribute($"pages_{s}", Definition("unique_values_count", view, "page"));
        await app.ActiveCalculatedAttribute($"spend_{s}", $$"""
            { "data_point": { "type": "event", "event_type": "commerce_event", "custom_event_type": "purchase", "attribute_name": "price",
                              "attribute_category": "product_attribute", "use_product_quantity": true },
              "conditions": [ { "type": "string", "operator": "equals", "attribute_name": "campaign", "value": "{{s}}" } ],
              "calculation_type": "average", "time_period": {{Last30Days}} }
            """);

        var customers = Enumerable.Range(0, 4).Select(i => Api.NewId($"ca-rb{i}")).ToList();
        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < customers.Count; i++)
        {
            var purchase = $$"""
                { "event_type": "commerce_event", "data": { "timestamp_unixtime_ms": {{Ms(now.AddHours(-i))}}, "custom_attributes": { "campaign": "{{s}}" },
                  "product_action": { "action": "purchase", "products": [ { "id": "p1", "price": {{i + 1}}, "quantity": 2 }, { "id": "p2", "price": "4", "quantity": {{i + 1}} } ] } } }
                """;
            await app.Ingested(Batch(customers[i], Event(view, Ms(now.AddDays(-i)), $$"""{ "page": "/p{{i}}" }"""), purchase));
            await app.Ingested(Batch(customers[i], Event(view, Ms(now.AddDays(-i - 3)), """{ "page": "/home" }"""),
                Event(view, Ms(now.AddDays(-10)), """{ "page": "/old" }""")));
        }
        await app.CatchUpDaemon();
        var liveValues = new List<string>();
        foreach (var customer in customers) liveValues.Add((await app.UserAttributesOf(customer)).ToJsonString());
        liveValues[0].ShouldContain($"\"views_7d_{s}\":\"2\""); // the event 10 days ago is outside the week
        liveValues[0].ShouldContain($"\"pages_{s}\":\"3\"");
        liveValues[0].ShouldContain($"\"spend_{s}\":\"2\""); // (1×2 + 4×1) / 3 products

        await app.RebuildCalculatedAttributes();
        await app.CatchUpDaemon();
        for (var i = 0; i < customers.Count; i++)
            (await app.UserAttributesOf(customers[i])).ToJsonString().ShouldBe(liveValues[i]);
    }

    [Fact]
    public async Task a_rolling_window_falls_back_when_time_passes_with_no_new_events()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var name = $"Visit{s}";
        await app.ActiveCalculatedAttribute($"visits_2d_{s}", Definition("count", name, period: """{ "type": "within", "within": 2, "within_unit": "days" }"""));
        await app.ActiveCalculatedAttribute($"last_page_2d_{s}", Definition("last_occurrence", name, "page", period: """{ "type": "within", "within": 2, "within_unit": "days" }"""));
        var customer = Api.NewId("ca-window");
        await app.Ingested(Batch(customer, Event(name, Ms(DateTimeOffset.UtcNow.AddDays(-1)), """{ "page": "/pricing" }""")));
        await app.CatchUpDaemon();
        (await app.UserAttributesOf(customer))[$"visits_2d_{s}"]!.GetValue<string>().ShouldBe("1");

        try
        {
            app.Clock.Advance(TimeSpan.FromHours(22)); // the visit is 46 h old: still inside the two days
            var inside = await app.UserAttributesOf(customer);
            inside[$"visits_2d_{s}"]!.GetValue<string>().ShouldBe("1");
            inside[$"last_page_2d_{s}"]!.GetValue<string>().ShouldBe("/pricing");

            app.Clock.Advance(TimeSpan.FromHours(3)); // 49 h: out of the window (and past its one-hour bucket)
            var outside = await app.UserAttributesOf(customer);
            outside[$"visits_2d_{s}"]!.GetValue<string>().ShouldBe("0");
            outside.ContainsKey($"last_page_2d_{s}").ShouldBeFalse();
        }
        finally
        {
            app.Clock.Reset();
        }
    }

    [Fact]
    public async Task seeds_are_the_starting_point_and_only_data_from_the_cutoff_on_counts()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var name = $"Login{s}";
        var today = DateTimeOffset.UtcNow.UtcDateTime.Date;
        var id = await app.CreateCalculatedAttribute($"logins_{s}", Definition("count", name) .Replace(
            "\"calculation_type\"", $"\"seeding\": {{ \"cutoff_date\": \"{today:yyyy-MM-dd}T00:00:00Z\" }}, \"calculation_type\""));
        var customer = Api.NewId("ca-seed");
        await app.Ingested(Batch(customer,
            Event(name, Ms(new DateTimeOffset(today, TimeSpan.Zero).AddHours(-2))), // before the cutoff: the seed covers it
            Event(name, Ms(DateTimeOffset.UtcNow)), Event(name, Ms(DateTimeOffset.UtcNow))));

        string Seed(int value) => $$"""
            { "environment": "development", "identities": { "customer_id": "{{customer}}" },
              "calculated_attributes": { "workspace": [ { "attribute_name": "logins_{{s}}", "calculation_type": "count", "cutoff_date": "{{today:yyyy-MM-dd}}", "seed": { "value": {{value}} } } ] } }
            """;
        using (var seeded = await app.PostBatch(Seed(10), "/v2/calculatedattributes")) // seeded while a draft, as recommended
            seeded.StatusCode.ShouldBe(HttpStatusCode.Accepted, await seeded.Content.ReadAsStringAsync());
        await app.Activate(id);
        await app.UntilReady(id);
        await app.CatchUpDaemon();
        (await app.UserAttributesOf(customer))[$"logins_{s}"]!.GetValue<string>().ShouldBe("12");

        using (var again = await app.PostBatch(Seed(20), "/v2/calculatedattributes")) // re-sending overwrites
            again.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        await app.CatchUpDaemon();
        (await app.UserAttributesOf(customer))[$"logins_{s}"]!.GetValue<string>().ShouldBe("22");

        using var wrongType = await app.PostBatch(Seed(1).Replace("\"count\"", "\"sum\""), "/v2/calculatedattributes");
        wrongType.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await wrongType.Errors()).ShouldContain(e => e.Field == "calculated_attributes[0].calculation_type");
        using var nobody = await app.PostBatch(Seed(1).Replace(customer, Api.NewId("nobody")), "/v2/calculatedattributes");
        nobody.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        using var unauthenticated = await app.PostBatch(Seed(1), "/v2/calculatedattributes", secret: "wrong");
        unauthenticated.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }
}
