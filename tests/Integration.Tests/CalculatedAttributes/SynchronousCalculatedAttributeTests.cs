using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.CalculatedAttributes;

/// <summary>
/// Issue 16 §7: count, sum, minimum, maximum, last value, last timestamp and unique list are computed inside the
/// ingestion transaction, so the batch holding the third purchase leaves with "3" and a read right after its 202 shows
/// it; the other types stay asynchronous and say so; a rebuild and a fold from the stream give what live gave.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class SynchronousCalculatedAttributeTests(AppFixture app) : WithReceiver(app)
{
    private const string Last30Days = """{ "type": "within", "within": 30, "within_unit": "days" }""";
    private const string LastWeek = """{ "type": "within", "within": 1, "within_unit": "weeks" }""";

    private static string Definition(string calculation, string eventName, string? attribute = null, string period = Last30Days, string conditions = "[]") => $$"""
        { "data_point": { "type": "event", "event_type": "custom_event", "event_name": "{{eventName}}", "attribute_name": {{(attribute is null ? "null" : $"\"{attribute}\"")}} },
          "conditions": {{conditions}}, "calculation_type": "{{calculation}}", "time_period": {{period}} }
        """;

    private static string Purchase(string name, DateTimeOffset at, int n, string sku, string amount) =>
        $$"""{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "transaction", "timestamp_unixtime_ms": {{at.ToUnixTimeMilliseconds()}}, "custom_attributes": { "n": {{n}}, "sku": "{{sku}}", "amount": {{amount}} } } }""";

    private Task Send(string customer, params string[] events) =>
        App.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{string.Join(",", events)}} ] }""",
            key: AppFixture.ForwardingKey, secret: AppFixture.ForwardingSecret);

    private static string Timestamp(DateTimeOffset at) =>
        DateTimeOffset.FromUnixTimeMilliseconds(at.ToUnixTimeMilliseconds()).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'");

    /// <summary>The forwarded batch holding the purchase numbered <paramref name="n"/>.</summary>
    private JsonObject Forwarded(string customer, int n) =>
        Receiver.BatchesOf(customer).Single(b => b["events"]!.AsArray().Any(e => e!["data"]!["custom_attributes"]?["n"]?.GetValue<int>() == n));

    private static Dictionary<string, string> Values(JsonObject attributes, string s) => attributes
        .Where(a => a.Key.EndsWith($"_{s}", StringComparison.Ordinal))
        .ToDictionary(a => a.Key, a => a.Value is JsonArray list ? string.Join("|", list.Select(v => v!.GetValue<string>())) : a.Value!.GetValue<string>());

    /// <summary>Only the synchronous definitions' values (the asynchronous ones depend on how far the daemon got).</summary>
    private static Dictionary<string, string> Synchronous(Dictionary<string, string> values) =>
        values.Where(v => !v.Key.StartsWith("average_", StringComparison.Ordinal) && !v.Key.StartsWith("first_sku_", StringComparison.Ordinal))
            .ToDictionary(v => v.Key, v => v.Value);

    /// <summary>Seven synchronous definitions (a rolling window with a condition among them) and two asynchronous ones over one event.</summary>
    private async Task<string> DefinedAsync(string s, string name)
    {
        var since = DateTimeOffset.UtcNow.AddDays(-20).ToString("O");
        var sync = new Dictionary<string, string>
        {
            [$"purchases_{s}"] = Definition("count", name),
            [$"spent_{s}"] = Definition("sum", name, "amount", $$"""{ "type": "since", "date": "{{since}}" }"""),
            [$"cheapest_{s}"] = Definition("min", name, "amount"),
            [$"dearest_{s}"] = Definition("max", name, "amount"),
            [$"last_sku_{s}"] = Definition("last_occurrence", name, "sku"),
            [$"last_at_{s}"] = Definition("last_occurrence_timestamp", name),
            [$"skus_{s}"] = Definition("unique_list", name, "sku"),
            [$"big_this_week_{s}"] = Definition("count", name, period: LastWeek,
                conditions: """[ { "type": "number", "operator": "greater_than", "attribute_name": "amount", "value": "15" } ]"""),
        };
        var async = new Dictionary<string, string>
        {
            [$"average_{s}"] = Definition("average", name, "amount"),
            [$"first_sku_{s}"] = Definition("first_occurrence", name, "sku"),
        };
        foreach (var (attribute, definition) in sync)
            (await App.CalculatedAttribute(await App.ActiveCalculatedAttribute(attribute, definition)))["calculation_mode"]!.GetValue<string>().ShouldBe("sync");
        foreach (var (attribute, definition) in async)
            (await App.CalculatedAttribute(await App.ActiveCalculatedAttribute(attribute, definition)))["calculation_mode"]!.GetValue<string>().ShouldBe("async");
        await NewOutputAsync();
        await App.Connect(AppFixture.ForwardingInput, OutputId);
        return name;
    }

    [Fact]
    public async Task the_batch_holding_the_third_purchase_leaves_with_three_and_a_read_after_its_202_shows_it()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var name = await DefinedAsync(s, $"Purchase{s}");
        var customer = Api.NewId("sync-ca");
        var t0 = DateTimeOffset.UtcNow.AddHours(-3);

        // No waiting for the daemon anywhere: the values must count each batch when it is stored.
        await Send(customer, Purchase(name, t0, 1, "a", "10"));
        (await App.UserAttributesOf(customer))[$"purchases_{s}"]!.GetValue<string>().ShouldBe("1");
        await Send(customer, Purchase(name, t0.AddDays(-10), 2, "old", "100"));
        (await App.UserAttributesOf(customer))[$"purchases_{s}"]!.GetValue<string>().ShouldBe("2");
        await Send(customer, Purchase(name, t0.AddHours(1), 3, "b", "\"20\""));
        var read = Values(await App.UserAttributesOf(customer), s);

        await Waiting.Until(() => Task.FromResult(Receiver.BatchesOf(customer).Count == 3), "the three forwarded batches");
        var third = Values(Forwarded(customer, 3)["user_attributes"]!.AsObject(), s);
        third[$"purchases_{s}"].ShouldBe("3");
        third[$"spent_{s}"].ShouldBe("130");
        third[$"cheapest_{s}"].ShouldBe("10");
        third[$"dearest_{s}"].ShouldBe("100");
        third[$"last_sku_{s}"].ShouldBe("b"); // the latest event time wins, not the last sent
        third[$"last_at_{s}"].ShouldBe(Timestamp(t0.AddHours(1)));
        third[$"skus_{s}"].ShouldBe("a|b|old");
        third[$"big_this_week_{s}"].ShouldBe("1"); // 100 is ten days old, 10 is not above 15
        Synchronous(read).ShouldBe(Synchronous(third)); // the Profile API read right after the 202

        var first = Values(Forwarded(customer, 1)["user_attributes"]!.AsObject(), s);
        first[$"purchases_{s}"].ShouldBe("1");
        first[$"skus_{s}"].ShouldBe("a");
        Values(Forwarded(customer, 2)["user_attributes"]!.AsObject(), s)[$"purchases_{s}"].ShouldBe("2");
        // Asynchronous types count what the daemon has applied: the first batch's own purchase cannot be among it.
        first.ShouldNotContainKey($"average_{s}");
        first.ShouldNotContainKey($"first_sku_{s}");

        await App.CatchUpDaemon();
        var settled = Values(await App.UserAttributesOf(customer), s);
        settled[$"average_{s}"].ShouldBe("43.3333333333");
        settled[$"first_sku_{s}"].ShouldBe("old");
        Synchronous(settled).ShouldBe(Synchronous(third), "the daemon agrees with the writer");
    }

    [Fact]
    public async Task a_rebuild_gives_what_live_gave_and_the_next_batch_folds_the_stream_again_to_the_same_values()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var name = await DefinedAsync(s, $"Order{s}");
        var customer = Api.NewId("sync-rb");
        var t0 = DateTimeOffset.UtcNow.AddHours(-5);
        await Send(customer, Purchase(name, t0, 1, "x", "7"), Purchase(name, t0.AddDays(-9), 2, "y", "70"));
        await Send(customer, Purchase(name, t0.AddHours(1), 3, "z", "\"17.5\""));
        var live = Synchronous(Values(await App.UserAttributesOf(customer), s));
        live[$"purchases_{s}"].ShouldBe("3");
        await App.CatchUpDaemon();
        Synchronous(Values(await App.UserAttributesOf(customer), s)).ShouldBe(live, "the daemon agrees with the writer");
        var settledLive = Values(await App.UserAttributesOf(customer), s);

        // The rebuild folds the documents from the events and drops the writer's states (the next batch folds them again).
        await App.RebuildCalculatedAttributes();
        var rebuilt = Values(await App.UserAttributesOf(customer), s);
        rebuilt.ShouldBe(settledLive);

        await Send(customer, Purchase(name, t0.AddHours(2), 4, "x", "1"));
        await Waiting.Until(() => Task.FromResult(Receiver.BatchesOf(customer).Count == 3), "the forwarded batches");
        var fourth = Values(Forwarded(customer, 4)["user_attributes"]!.AsObject(), s);
        fourth[$"purchases_{s}"].ShouldBe("4");
        fourth[$"spent_{s}"].ShouldBe("95.5");
        fourth[$"cheapest_{s}"].ShouldBe("1");
        fourth[$"dearest_{s}"].ShouldBe("70");
        fourth[$"last_sku_{s}"].ShouldBe("x");
        fourth[$"last_at_{s}"].ShouldBe(Timestamp(t0.AddHours(2)));
        fourth[$"skus_{s}"].ShouldBe("x|y|z");
        fourth[$"big_this_week_{s}"].ShouldBe("1");
        var afterFourth = Values(await App.UserAttributesOf(customer), s);
        await App.CatchUpDaemon();
        var settled = Values(await App.UserAttributesOf(customer), s);
        Synchronous(afterFourth).ShouldBe(Synchronous(fourth));
        Synchronous(settled).ShouldBe(Synchronous(fourth), "the daemon agrees with the writer");
    }

    [Fact]
    public async Task a_seed_another_writer_appends_shows_once_the_daemon_has_it_and_the_next_batch_counts_on_top_of_it()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var name = $"Login{s}";
        var today = DateTimeOffset.UtcNow.UtcDateTime.Date;
        await App.ActiveCalculatedAttribute($"logins_{s}", Definition("count", name).Replace(
            "\"calculation_type\"", $"\"seeding\": {{ \"cutoff_date\": \"{today:yyyy-MM-dd}T00:00:00Z\" }}, \"calculation_type\""));
        await NewOutputAsync();
        await App.Connect(AppFixture.ForwardingInput, OutputId);
        var customer = Api.NewId("sync-seed");
        var now = DateTimeOffset.UtcNow;

        await Send(customer, Purchase(name, now, 1, "a", "1"));
        (await App.UserAttributesOf(customer))[$"logins_{s}"]!.GetValue<string>().ShouldBe("1");
        using (var seeded = await App.PostBatch($$"""
            { "environment": "development", "identities": { "customer_id": "{{customer}}" },
              "calculated_attributes": { "workspace": [ { "attribute_name": "logins_{{s}}", "calculation_type": "count", "cutoff_date": "{{today:yyyy-MM-dd}}", "seed": { "value": 10 } } ] } }
            """, "/v2/calculatedattributes"))
            seeded.StatusCode.ShouldBe(System.Net.HttpStatusCode.Accepted);
        // The seed is on the stream, not in the writer's state: the projection's value is taken once it has folded more.
        await App.CatchUpDaemon();
        (await App.UserAttributesOf(customer))[$"logins_{s}"]!.GetValue<string>().ShouldBe("11");

        // The next batch: the writer folds what others appended since its state (the seed), then the batch.
        await Send(customer, Purchase(name, now.AddSeconds(1), 2, "a", "1"));
        (await App.UserAttributesOf(customer))[$"logins_{s}"]!.GetValue<string>().ShouldBe("12");
        await Waiting.Until(() => Task.FromResult(Receiver.BatchesOf(customer).Count == 2), "the forwarded batches");
        Forwarded(customer, 1)["user_attributes"]![$"logins_{s}"]!.GetValue<string>().ShouldBe("1");
        Forwarded(customer, 2)["user_attributes"]![$"logins_{s}"]!.GetValue<string>().ShouldBe("12");
    }

    private async Task<long> SynchronousRows(long mpid)
    {
        await using var command = App.Db.CreateCommand($"select count(*) from {App.Schema}.ep_sync_calculations where mpid = $1");
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = mpid });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task an_erasure_deletes_the_persons_synchronous_state_with_the_rest()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var name = $"Erased{s}";
        await App.ActiveCalculatedAttribute($"erased_count_{s}", Definition("count", name));
        var customer = Api.NewId("sync-erase");
        await Send(customer, Purchase(name, DateTimeOffset.UtcNow, 1, "a", "1"));
        var mpid = (await App.ProfileOf(customer))["mpid"]!.GetValue<long>();
        (await SynchronousRows(mpid)).ShouldBe(1);

        await DataSubjectRequests.EraseCustomerAsync(App, customer);

        (await SynchronousRows(mpid)).ShouldBe(0);
    }
}
