using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Audiences;

/// <summary>
/// Membership changes are handled in batches and their deliveries grouped per audience output: each person's messages
/// still arrive once each, in the order the changes happened, and a failing delivery is retried on its own.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class GroupedAudienceDeliveriesTests(AppFixture app) : WithReceiver(app)
{
    private const int People = 12;

    private static string Batch(string customer, string tier) =>
        $$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "tier": "{{tier}}" } }""";

    [Fact]
    public async Task many_changes_at_once_reach_the_output_once_each_in_order_and_a_failed_one_is_retried()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var id = await App.ActiveAudience($"Grouped {s}", $$"""
            [ { "kind": "user_attribute", "attribute_name": "tier", "type": "string", "operator": "equals", "value": "gold{{s}}" } ]
            """);
        await ConnectAudienceAsync(id);
        var customers = Enumerable.Range(0, People).Select(_ => Api.NewId("grouped")).ToList();
        // The first "add" of one person fails once (a 503): retried alone, the others are not held back nor sent again.
        var failing = customers[3];
        long failingMpid = 0;
        var failed = 0;
        Receiver.StatusFor = batch => batch["user_profiles"]?[0]?["mpid"]?.GetValue<string>() == failingMpid.ToString(System.Globalization.CultureInfo.InvariantCulture)
            && Interlocked.Increment(ref failed) == 1 ? 503 : null;

        failingMpid = (await Profile(failing, $"silver{s}"))["mpid"]!.GetValue<long>();
        // Everyone qualifies within the same few pages of the daemon, then everyone leaves again.
        await Task.WhenAll(customers.Select(c => App.Ingested(Batch(c, $"gold{s}"))));
        await App.CatchUpDaemon();
        var mpids = new List<long>();
        foreach (var c in customers) mpids.Add((await App.ProfileOf(c))["mpid"]!.GetValue<long>());
        await Waiting.Until(() => Task.FromResult(mpids.All(m => Receiver.AudienceActions(id, m).Count == 1)), "every add message", 30);
        await Task.WhenAll(customers.Select(c => App.Ingested(Batch(c, $"bronze{s}"))));
        await App.CatchUpDaemon();
        await Waiting.Until(() => Task.FromResult(mpids.All(m => Receiver.AudienceActions(id, m).Count == 2)), "every delete message", 30);

        foreach (var mpid in mpids) Receiver.AudienceActions(id, mpid).ShouldBe(["add", "delete"], $"person {mpid}");
        failed.ShouldBeGreaterThanOrEqualTo(2); // the failed attempt, then its retry
    }

    private async Task<System.Text.Json.Nodes.JsonObject> Profile(string customer, string tier)
    {
        await App.Ingested(Batch(customer, tier));
        return await App.ProfileOf(customer);
    }
}
