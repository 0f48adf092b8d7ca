using System.Net;
using System.Text.Json.Nodes;
using EventProfiles.Commands.Audiences;
using EventProfiles.Integration.Tests.Fixtures;
using Marten;
using Microsoft.Extensions.DependencyInjection;

namespace EventProfiles.Integration.Tests.Audiences;

/// <summary>
/// Activating a real-time audience evaluates the people who sent data before it, without writing to their streams
/// (issue 15, write amplification): initial memberships are stored apart, shown like the projection's own, announced
/// to the audience's outputs once, and superseded by the projection when the person's data changes.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class AudienceActivationTests(AppFixture app) : WithReceiver(app)
{
    private static string Purchase(string name, DateTimeOffset at) =>
        $$"""{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "transaction", "timestamp_unixtime_ms": {{at.ToUnixTimeMilliseconds()}} } }""";

    /// <summary>Each person's stream length, read through Marten.</summary>
    private async Task<Dictionary<long, long>> StreamVersions(IEnumerable<long> mpids)
    {
        await using var session = App.Services.GetRequiredService<IDocumentStore>().QuerySession();
        var versions = new Dictionary<long, long>();
        foreach (var mpid in mpids)
            versions[mpid] = (await session.Events.FetchStreamStateAsync(mpid.ToString(System.Globalization.CultureInfo.InvariantCulture)))!.Version;
        return versions;
    }

    [Fact]
    public async Task activating_an_audience_adds_no_event_to_peoples_streams_and_its_initial_members_are_shown_announced_once_and_can_leave()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var now = DateTimeOffset.UtcNow;
        // Two qualify (gold and a purchase), one lacks the purchase, one the tier.
        var people = new[] { ("gold", true), ("gold", true), ("gold", false), ("silver", true) }
            .Select((p, i) => (Customer: Api.NewId($"act{i}"), Tier: p.Item1, Buys: p.Item2)).ToList();
        foreach (var person in people)
            await App.Ingested($$"""
                { "environment": "development", "user_identities": { "customer_id": "{{person.Customer}}" }, "user_attributes": { "tier_{{s}}": "{{person.Tier}}" },
                  "events": [ {{(person.Buys ? Purchase($"Purchase{s}", now.AddDays(-1)) : Purchase("Browse", now))}} ] }
                """);
        await App.CatchUpDaemon();
        var mpids = new List<long>();
        foreach (var person in people) mpids.Add((await App.ProfileOf(person.Customer))["mpid"]!.GetValue<long>());
        var before = await StreamVersions(mpids);

        var id = (await App.CreateAudience($"Gold buyers {s}", $$"""
            [ { "kind": "event", "event_type": "custom_event", "event_name": "Purchase{{s}}", "recency": { "within_days": 7 } },
              { "join": "and", "kind": "user_attribute", "attribute_name": "tier_{{s}}", "type": "string", "operator": "equals", "value": "gold" } ]
            """))["id"]!.GetValue<int>();
        await ConnectAudienceAsync(id);
        using (var activated = await App.Platform(HttpMethod.Post, $"/v1/audiences/{id}/activation?accountId=1"))
            activated.StatusCode.ShouldBe(HttpStatusCode.NoContent, await activated.Content.ReadAsStringAsync());
        // The evaluation records its members in its own transactions (no message between): the audience shows as
        // calculating, with its progress, until it has finished; then every member is listed.
        var seen = new List<string>();
        JsonObject audience = null!;
        await Waiting.Until(async () =>
        {
            audience = await App.Audience(id);
            var status = audience["status"]!.GetValue<string>();
            var calculation = audience["calculation"] as JsonObject;
            seen.Add($"{status} {calculation?["people_done"]}/{calculation?["people_total"]} finished {calculation?["finished_on"]}");
            if (status == "active") calculation!["finished_on"].ShouldNotBeNull(string.Join("; ", seen));
            else audience["is_calculated"]!.GetValue<bool>().ShouldBeFalse();
            return status == "active";
        }, "the evaluation of everyone", 60);
        audience["is_calculated"]!.GetValue<bool>().ShouldBeTrue();
        var done = audience["calculation"]!["people_done"]!.GetValue<long>();
        done.ShouldBe(audience["calculation"]!["people_total"]!.GetValue<long>());
        done.ShouldBeGreaterThanOrEqualTo(people.Count);
        audience["calculation"]!["percent"]!.GetValue<double>().ShouldBe(100);
        audience["size"]!.GetValue<long>().ShouldBe(2);
        await App.CatchUpDaemon();

        // No event on anyone's stream, yet the initial members are members wherever memberships are read.
        (await StreamVersions(mpids)).ShouldBe(before);
        (await App.MembershipsOf(people[0].Customer)).ShouldContain(id);
        (await App.MembershipsOf(people[1].Customer)).ShouldContain(id);
        (await App.MembershipsOf(people[2].Customer)).ShouldNotContain(id);
        (await App.MembershipsOf(people[3].Customer)).ShouldNotContain(id);
        (await App.Explain(id, mpids[1]))["recorded_member"]!.GetValue<bool>().ShouldBeTrue();
        await Waiting.Until(() => Task.FromResult(Receiver.AudienceActions(id, mpids[0]).Count == 1 && Receiver.AudienceActions(id, mpids[1]).Count == 1), "one add message per initial member");

        // New data of an initial member that still qualifies: no second "add"; of one who no longer does: they leave.
        await App.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{people[1].Customer}}" }, "events": [ {{Purchase($"Purchase{s}", DateTimeOffset.UtcNow)}} ] }""");
        await App.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{people[0].Customer}}" }, "user_attributes": { "tier_{{s}}": "silver" } }""");
        await App.CatchUpDaemon();
        await Waiting.Until(async () => !(await App.MembershipsOf(people[0].Customer)).Contains(id), "the initial member to leave");
        await Waiting.Until(() => Task.FromResult(Receiver.AudienceActions(id, mpids[0]).Count == 2), "the delete message");
        Receiver.AudienceActions(id, mpids[0]).ShouldBe(["add", "delete"]);
        (await App.MembershipsOf(people[1].Customer)).ShouldContain(id);
        await Waiting.Until(async () => (await App.Audience(id))["size"]!.GetValue<long>() == 1, "one member left");
        Receiver.AudienceActions(id, mpids[1]).ShouldBe(["add"]);
        (await App.Explain(id, mpids[0]))["recorded_member"]!.GetValue<bool>().ShouldBeFalse();
    }
}
