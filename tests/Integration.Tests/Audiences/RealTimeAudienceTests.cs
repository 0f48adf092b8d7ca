using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Audiences;

/// <summary>Real-time audiences end to end: defined over the API, evaluated by the daemon, sent to a webhook as add/delete.</summary>
[Collection(AppCollection.Name)]
public sealed class RealTimeAudienceTests(AppFixture app) : IAsyncLifetime
{
    private Receiver _receiver = null!;
    private string _outputId = "";

    public async Task InitializeAsync() => _receiver = await Receiver.StartAsync();

    public async Task DisposeAsync()
    {
        if (_outputId.Length > 0) using (await app.AdminClient().DeleteAsync($"/api/admin/outputs/{_outputId}")) { }
        await _receiver.DisposeAsync();
    }

    private async Task Connect(int audienceId)
    {
        _outputId = (await app.CreateOutput(_receiver.Url))["id"]!.GetValue<string>();
        using var response = await app.AdminClient().PostAsJsonAsync("/api/admin/audience-connections", new { audience_id = audienceId, output_id = _outputId });
        response.StatusCode.ShouldBe(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
    }

    private static string Event(string name, DateTimeOffset at) =>
        $$"""{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "transaction", "timestamp_unixtime_ms": {{at.ToUnixTimeMilliseconds()}}, "custom_attributes": { "amount": "42" } } }""";

    /// <summary>The add/delete messages the receiver got for this audience, in order, as "add"/"delete".</summary>
    private List<string> Actions(int audienceId, long mpid) =>
        _receiver.Received.Select(r => r.Batch)
            .Where(b => b["type"]?.GetValue<string>() == "audience_membership_change_request")
            .SelectMany(b => b["user_profiles"]!.AsArray())
            .Where(p => p!["mpid"]!.GetValue<string>() == mpid.ToString())
            .SelectMany(p => p!["audiences"]!.AsArray())
            .Where(a => a!["audience_id"]!.GetValue<int>() == audienceId)
            .Select(a => a!["action"]!.GetValue<string>())
            .ToList();

    [Fact]
    public async Task a_person_enters_after_a_qualifying_event_leaves_when_the_window_passes_and_outputs_get_each_message_once()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var id = await app.ActiveAudience($"Gold buyers {s}", $$"""
            [ { "kind": "event", "event_type": "custom_event", "event_name": "Purchase{{s}}",
                "conditions": [ { "type": "number", "operator": "greater_than", "attribute_name": "amount", "value": "10" } ],
                "frequency": { "operator": "greater_than", "count": 0 }, "recency": { "within_days": 2 } },
              { "join": "and", "kind": "user_attribute", "attribute_name": "tier", "type": "string", "operator": "equals", "value": "GOLD" } ]
            """);
        await Connect(id);

        var customer = Api.NewId("aud");
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}", "email": "{{customer}}@example.org" }, "user_attributes": { "tier": "gold" }, "events": [ {{Event($"Purchase{s}", DateTimeOffset.UtcNow.AddDays(-1))}} ] }""");
        await app.CatchUpDaemon();
        await Waiting.Until(async () => (await app.MembershipsOf(customer)).Contains(id), "the membership");
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
        await Waiting.Until(() => Task.FromResult(Actions(id, mpid).Count == 1), "the add message");
        var add = _receiver.Received.Select(r => r.Batch).First(b => b["type"]?.GetValue<string>() == "audience_membership_change_request");
        add["user_profiles"]![0]!["user_identities"]!.AsArray().Select(i => i!["type"]!.GetValue<string>()).ShouldBe(["customer_id", "email"], ignoreOrder: true);

        var explained = await app.Explain(id, mpid);
        explained["is_member_now"]!.GetValue<bool>().ShouldBeTrue();
        explained["criteria"]![0]!["why"]!.GetValue<string>().ShouldContain("1 matching");

        var audience = await app.Audience(id);
        audience["size"]!.GetValue<long>().ShouldBe(1);
        audience["added_last_24_hours"]!.GetValue<long>().ShouldBe(1);

        try
        {
            app.Clock.Advance(TimeSpan.FromHours(26)); // the purchase is now 50 h old: outside the 2 days, no new event
            await Waiting.Until(async () => !(await app.MembershipsOf(customer)).Contains(id), "the scheduled removal", 30);
            await Waiting.Until(() => Task.FromResult(Actions(id, mpid).Count == 2), "the delete message");
            Actions(id, mpid).ShouldBe(["add", "delete"]);
            (await app.Explain(id, mpid))["criteria"]![0]!["holds"]!.GetValue<bool>().ShouldBeFalse();
        }
        finally
        {
            app.Clock.Reset();
        }
    }

    [Fact]
    public async Task an_opted_out_person_is_removed_and_not_added_again()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var id = await app.ActiveAudience($"Everyone with a plan {s}", $$"""
            [ { "kind": "user_attribute", "attribute_name": "plan_{{s}}", "type": "string", "operator": "exists" } ]
            """);
        await Connect(id);
        var customer = Api.NewId("aud-optout");
        string Batch(string extra) => $$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "plan_{{s}}": "pro" }, "events": [ {{extra}} ] }""";
        await app.Ingested(Batch(""));
        await app.CatchUpDaemon();
        await Waiting.Until(async () => (await app.MembershipsOf(customer)).Contains(id), "the membership");

        await app.Ingested(Batch("""{ "event_type": "opt_out", "data": { "is_opted_out": true } }"""));
        await app.CatchUpDaemon();
        await Waiting.Until(async () => !(await app.MembershipsOf(customer)).Contains(id), "the removal on opt-out");
        await app.Ingested(Batch("")); // still opted out: not added back
        await app.CatchUpDaemon();
        (await app.MembershipsOf(customer)).ShouldNotContain(id);
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
        await Waiting.Until(() => Task.FromResult(Actions(id, mpid).Count == 2), "the messages");
        Actions(id, mpid).ShouldBe(["add", "delete"]);
    }

    [Fact]
    public async Task an_audience_activated_after_the_data_arrived_holds_the_people_who_qualified_before()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var buyers = Enumerable.Range(0, 3).Select(i => Api.NewId($"aud-hist{i}")).ToList();
        foreach (var buyer in buyers)
            await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{buyer}}" }, "events": [ {{Event($"Renewal{s}", DateTimeOffset.UtcNow.AddDays(-3))}} ] }""");
        var other = Api.NewId("aud-hist-other");
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{other}}" }, "events": [ {{Event("Unrelated", DateTimeOffset.UtcNow)}} ] }""");
        await app.CatchUpDaemon();

        var id = await app.ActiveAudience($"Renewed {s}", $$"""
            [ { "kind": "event", "event_type": "custom_event", "event_name": "Renewal{{s}}", "recency": { "within_days": 7 } } ]
            """);
        await app.CatchUpDaemon();
        await Waiting.Until(async () => (await app.Audience(id))["size"]!.GetValue<long>() == 3, "three members");
        foreach (var buyer in buyers) (await app.MembershipsOf(buyer)).ShouldContain(id);
        (await app.MembershipsOf(other)).ShouldNotContain(id);
    }
}
