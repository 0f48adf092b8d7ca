using System.Net;
using System.Net.Http.Json;
using EventProfiles.Commands.Privacy;
using EventProfiles.Integration.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace EventProfiles.Integration.Tests.Privacy;

/// <summary>Profile lifetime: ageing out at the boundary (archived stream, audience removal), Lifetime Profiles, reactivation.</summary>
[Collection(AppCollection.Name)]
public sealed class ProfileLifetimeTests(AppFixture app) : WithReceiver(app)
{

    private RetentionEnforcer Enforcer => App.Services.GetRequiredService<RetentionEnforcer>();

    private async Task<bool> IsArchived(long mpid)
    {
        await using var command = App.Db.CreateCommand($"select is_archived from {App.Schema}.mt_streams where id = $1");
        command.Parameters.AddWithValue(mpid.ToString());
        return (bool)(await command.ExecuteScalarAsync())!;
    }

    private static string Batch(string customer, string device, string extra = "") => $$"""
        { "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "device_info": { "platform": "iOS", "ios_idfv": "{{device}}" }{{extra}},
          "events": [ { "event_type": "custom_event", "data": { "event_name": "Open", "custom_event_type": "other" } } ] }
        """;

    [Fact]
    public async Task a_profile_ages_out_at_the_lifetime_boundary_and_comes_back_with_new_data_but_not_its_old_devices()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var audience = await App.ActiveAudience($"Lifers {s}", $$"""[ { "kind": "user_attribute", "attribute_name": "life_{{s}}", "type": "string", "operator": "exists" } ]""");
        await ConnectAudienceAsync(audience);

        var customer = Api.NewId("lifetime");
        var oldDevice = Guid.NewGuid().ToString().ToUpperInvariant();
        await App.Ingested(Batch(customer, oldDevice, $$""", "user_attributes": { "life_{{s}}": "yes" }"""));
        var mpid = (await App.ProfileOf(customer))["mpid"]!.GetValue<long>();
        await App.CatchUpDaemon();
        await Waiting.Until(async () => (await App.MembershipsOf(customer)).Contains(audience), "the membership");

        try
        {
            App.Clock.Advance(TimeSpan.FromDays(30) - TimeSpan.FromMinutes(1)); // just inside the 30-day lifetime
            await Enforcer.RunOnceAsync(CancellationToken.None);
            using (var live = await App.ResolveProfile(customer)) live.StatusCode.ShouldBe(HttpStatusCode.OK);

            App.Clock.Advance(TimeSpan.FromMinutes(2)); // just past it
            await Enforcer.RunOnceAsync(CancellationToken.None);
            using (var agedOut = await App.ResolveProfile(customer)) agedOut.StatusCode.ShouldBe(HttpStatusCode.NotFound);
            await App.CatchUpDaemon();
            await Enforcer.RunOnceAsync(CancellationToken.None); // the daemon has applied the ageing out: now archived
            (await IsArchived(mpid)).ShouldBeTrue();
            await Waiting.Until(() => Task.FromResult(Receiver.Received.Count(r => r.Batch.ToJsonString().Contains("\"delete\"")) == 1), "the removal message");
            // The User Activity View still finds them, marked aged out, with their stored events.
            using (var browser = await App.SignedIn())
            {
                (await browser.UiJson($"/ui/api/search?q={customer}"))["results"]![0]!["status"]!.GetValue<string>().ShouldBe("aged_out");
                var page = await browser.UiJson($"/ui/api/people/{mpid}");
                (page["status"]!.GetValue<string>(), page["retention"]!["aged_out_at"] is not null).ShouldBe(("aged_out", true));
                (await browser.UiJson($"/ui/api/people/{mpid}/events"))["total"]!.GetValue<int>().ShouldBeGreaterThan(0);
            }

            var newDevice = Guid.NewGuid().ToString().ToUpperInvariant();
            await App.Ingested(Batch(customer, newDevice)); // seen again: reactivated
            (await IsArchived(mpid)).ShouldBeFalse();
            using (var browser = await App.SignedIn())
                (await browser.UiJson($"/ui/api/search?q={customer}"))["results"]![0]!["status"]!.GetValue<string>().ShouldBe("live");
            var profile = await App.ProfileOf(customer);
            profile["mpid"]!.GetValue<long>().ShouldBe(mpid);
            profile.Attribute($"life_{s}").ShouldBe(["yes"]); // attributes come back
            profile.Identities("device_identities").ShouldBe([$"ios_vendor_id={newDevice}"]); // the old device does not
            profile.Identities().ShouldContain($"customer_id={customer}");
            await App.CatchUpDaemon();
            await Waiting.Until(async () => (await App.MembershipsOf(customer)).Contains(audience), "the membership back");
        }
        finally
        {
            App.Clock.Reset();
        }
    }

    [Fact]
    public async Task with_lifetime_profiles_a_profile_stays_live_past_the_default_lifetime()
    {
        var customer = Api.NewId("lifetime-long");
        await App.Ingested(Batch(customer, Guid.NewGuid().ToString()));
        try
        {
            using (var set = await App.AdminClient().PutAsJsonAsync("/api/admin/retention", new { data_retention_days = 365, profile_lifetime_days = 200, lifetime_profiles = true }))
                set.StatusCode.ShouldBe(HttpStatusCode.OK);
            App.Clock.Advance(TimeSpan.FromDays(45));
            await Enforcer.RunOnceAsync(CancellationToken.None);
            using var live = await App.ResolveProfile(customer);
            live.StatusCode.ShouldBe(HttpStatusCode.OK);
        }
        finally
        {
            App.Clock.Reset();
            using (await App.AdminClient().PutAsJsonAsync("/api/admin/retention", new { data_retention_days = 730, profile_lifetime_days = 30, lifetime_profiles = false })) { }
        }
    }
}
