using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Audiences;

/// <summary>Real-time audiences end to end: defined over the API, evaluated by the daemon, sent to a webhook as add/delete.</summary>
[Collection(AppCollection.Name)]
public sealed class RealTimeAudienceTests(AppFixture app) : WithReceiver(app)
{

    private static string Event(string name, DateTimeOffset at) =>
        $$"""{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "transaction", "timestamp_unixtime_ms": {{at.ToUnixTimeMilliseconds()}}, "custom_attributes": { "amount": "42" } } }""";

    /// <summary>The add/delete messages the receiver got for this audience, in order, as "add"/"delete".</summary>
    [Fact]
    public async Task a_person_enters_after_a_qualifying_event_leaves_when_the_window_passes_and_outputs_get_each_message_once()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var id = await App.ActiveAudience($"Gold buyers {s}", $$"""
            [ { "kind": "event", "event_type": "custom_event", "event_name": "Purchase{{s}}",
                "conditions": [ { "type": "number", "operator": "greater_than", "attribute_name": "amount", "value": "10" } ],
                "frequency": { "operator": "greater_than", "count": 0 }, "recency": { "within_days": 2 } },
              { "join": "and", "kind": "user_attribute", "attribute_name": "tier", "type": "string", "operator": "equals", "value": "GOLD" } ]
            """);
        await ConnectAudienceAsync(id);

        var customer = Api.NewId("aud");
        await App.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}", "email": "{{customer}}@example.org" }, "user_attributes": { "tier": "gold" }, "events": [ {{Event($"Purchase{s}", DateTimeOffset.UtcNow.AddDays(-1))}} ] }""");
        await App.CatchUpDaemon();
        await Waiting.Until(async () => (await App.MembershipsOf(customer)).Contains(id), "the membership");
        var mpid = (await App.ProfileOf(customer))["mpid"]!.GetValue<long>();
        await Waiting.Until(() => Task.FromResult(Receiver.AudienceActions(id, mpid).Count == 1), "the add message");
        var add = Receiver.Received.Select(r => r.Batch).First(b => b["type"]?.GetValue<string>() == "audience_membership_change_request");
        add["user_profiles"]![0]!["user_identities"]!.AsArray().Select(i => i!["type"]!.GetValue<string>()).ShouldBe(["customer_id", "email"], ignoreOrder: true);

        var explained = await App.Explain(id, mpid);
        explained["is_member_now"]!.GetValue<bool>().ShouldBeTrue();
        explained["criteria"]![0]!["why"]!.GetValue<string>().ShouldContain("1 matching");

        var audience = await App.Audience(id);
        audience["size"]!.GetValue<long>().ShouldBe(1);
        audience["added_last_24_hours"]!.GetValue<long>().ShouldBe(1);

        try
        {
            App.Clock.Advance(TimeSpan.FromHours(26)); // the purchase is now 50 h old: outside the 2 days, no new event
            await Waiting.Until(async () => !(await App.MembershipsOf(customer)).Contains(id), "the scheduled removal", 30);
            await Waiting.Until(() => Task.FromResult(Receiver.AudienceActions(id, mpid).Count == 2), "the delete message");
            Receiver.AudienceActions(id, mpid).ShouldBe(["add", "delete"]);
            (await App.Explain(id, mpid))["criteria"]![0]!["holds"]!.GetValue<bool>().ShouldBeFalse();
        }
        finally
        {
            App.Clock.Reset();
        }
    }

    [Fact]
    public async Task an_opted_out_person_is_removed_and_not_added_again()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var id = await App.ActiveAudience($"Everyone with a plan {s}", $$"""
            [ { "kind": "user_attribute", "attribute_name": "plan_{{s}}", "type": "string", "operator": "exists" } ]
            """);
        await ConnectAudienceAsync(id);
        var customer = Api.NewId("aud-optout");
        string Batch(string extra) => $$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "plan_{{s}}": "pro" }, "events": [ {{extra}} ] }""";
        await App.Ingested(Batch(""));
        await App.CatchUpDaemon();
        await Waiting.Until(async () => (await App.MembershipsOf(customer)).Contains(id), "the membership");

        await App.Ingested(Batch("""{ "event_type": "opt_out", "data": { "is_opted_out": true } }"""));
        await App.CatchUpDaemon();
        await Waiting.Until(async () => !(await App.MembershipsOf(customer)).Contains(id), "the removal on opt-out");
        await App.Ingested(Batch("")); // still opted out: not added back
        await App.CatchUpDaemon();
        (await App.MembershipsOf(customer)).ShouldNotContain(id);
        var mpid = (await App.ProfileOf(customer))["mpid"]!.GetValue<long>();
        await Waiting.Until(() => Task.FromResult(Receiver.AudienceActions(id, mpid).Count == 2), "the messages");
        Receiver.AudienceActions(id, mpid).ShouldBe(["add", "delete"]);
    }

    [Fact]
    public async Task an_audience_activated_after_the_data_arrived_holds_the_people_who_qualified_before()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var buyers = Enumerable.Range(0, 3).Select(i => Api.NewId($"aud-hist{i}")).ToList();
        foreach (var buyer in buyers)
            await App.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{buyer}}" }, "events": [ {{Event($"Renewal{s}", DateTimeOffset.UtcNow.AddDays(-3))}} ] }""");
        var other = Api.NewId("aud-hist-other");
        await App.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{other}}" }, "events": [ {{Event("Unrelated", DateTimeOffset.UtcNow)}} ] }""");
        await App.CatchUpDaemon();

        var id = await App.ActiveAudience($"Renewed {s}", $$"""
            [ { "kind": "event", "event_type": "custom_event", "event_name": "Renewal{{s}}", "recency": { "within_days": 7 } } ]
            """);
        await App.CatchUpDaemon();
        await Waiting.Until(async () => (await App.Audience(id))["size"]!.GetValue<long>() == 3, "three members");
        foreach (var buyer in buyers) (await App.MembershipsOf(buyer)).ShouldContain(id);
        (await App.MembershipsOf(other)).ShouldNotContain(id);
    }
}
