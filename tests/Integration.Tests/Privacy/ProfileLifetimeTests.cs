using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Commands.Privacy;
using EventProfiles.Integration.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace EventProfiles.Integration.Tests.Privacy;

/// <summary>
/// Profile lifetime: ageing out at the boundary (archived stream, audience removal), Lifetime Profiles, and the return
/// (issue 16 §2): MPID and identities kept, the real-time profile afresh, the history still readable until retention ends.
/// </summary>
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

    private static string Batch(string customer, string device, string extra = "", string eventName = "Open") => $$"""
        { "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "device_info": { "platform": "iOS", "ios_idfv": "{{device}}" }{{extra}},
          "events": [ { "event_type": "custom_event", "data": { "event_name": "{{eventName}}", "custom_event_type": "other" } } ] }
        """;

    /// <summary>Lifetime Profiles off (the 30-day default) or on with a 200-day lifetime; put back afterwards.</summary>
    private async Task<int> LifetimeAsync(bool lifetimeProfiles)
    {
        if (!lifetimeProfiles) return 30;
        // Retention stays two years: it counts from the last batch, and only a batch moves it (RetentionTests).
        using var set = await App.AdminClient().PutAsJsonAsync("/api/admin/retention", new { data_retention_days = 730, profile_lifetime_days = 200, lifetime_profiles = true });
        set.StatusCode.ShouldBe(HttpStatusCode.OK, await set.Content.ReadAsStringAsync());
        return 200;
    }

    private async Task RestoreAsync()
    {
        App.Clock.Reset();
        using (await App.AdminClient().PutAsJsonAsync("/api/admin/retention", new { data_retention_days = 730, profile_lifetime_days = 30, lifetime_profiles = false })) { }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task a_returning_person_keeps_mpid_and_identities_but_not_the_profile_from_before_and_the_history_stays_readable(bool lifetimeProfiles)
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var audience = await App.ActiveAudience($"Lifers {s}", $$"""[ { "kind": "user_attribute", "attribute_name": "life_{{s}}", "type": "string", "operator": "exists" } ]""");
        await ConnectAudienceAsync(audience);

        var customer = Api.NewId("lifetime");
        var oldDevice = Guid.NewGuid().ToString().ToUpperInvariant();
        var day = DateTimeOffset.UtcNow;
        await App.Ingested(Batch(customer, oldDevice, $$"""
            , "user_attributes": { "life_{{s}}": "yes" },
              "consent_state": { "gdpr": { "marketing_{{s}}": { "consented": true, "timestamp_unixtime_ms": {{day.ToUnixTimeMilliseconds()}}, "document": "v1" } } }
            """, $"Open{s}"));
        var mpid = (await App.ProfileOf(customer))["mpid"]!.GetValue<long>();
        (await App.ProfileOf(customer))["consent_state"]!["gdpr"]!.AsObject().ContainsKey($"marketing_{s}").ShouldBeTrue();
        await App.CatchUpDaemon();
        await Waiting.Until(async () => (await App.MembershipsOf(customer)).Contains(audience), "the membership");

        try
        {
            var lifetime = TimeSpan.FromDays(await LifetimeAsync(lifetimeProfiles));
            App.Clock.Advance(lifetime - TimeSpan.FromMinutes(1)); // just inside the lifetime
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
                (await browser.UiJson($"/ui/api/people/{mpid}/events"))["total"]!.GetValue<int>().ShouldBe(1);
            }
            // A standard audience reads the retention period: the archived event counts.
            (await StandardAudienceSizeAsync($"Open{s}", day)).ShouldBe(1);

            var newDevice = Guid.NewGuid().ToString().ToUpperInvariant();
            await App.Ingested(Batch(customer, newDevice, eventName: $"Open{s}")); // seen again: reactivated
            (await IsArchived(mpid)).ShouldBeFalse();
            var profile = await App.ProfileOf(customer);
            profile["mpid"]!.GetValue<long>().ShouldBe(mpid);
            profile.Identities().ShouldContain($"customer_id={customer}");
            profile.Identities("device_identities").ShouldBe([$"ios_vendor_id={newDevice}"]); // the old device does not come back
            profile.Attribute($"life_{s}").ShouldBeEmpty(); // nor do attributes
            (profile["consent_state"]?["gdpr"]?.AsObject().ContainsKey($"marketing_{s}") ?? false).ShouldBeFalse(); // nor consent
            await App.CatchUpDaemon();
            (await App.MembershipsOf(customer)).ShouldNotContain(audience); // nor the membership built on them
            Receiver.Received.Count(r => r.Batch.ToJsonString().Contains("\"add\"")).ShouldBe(1); // no second add
            using (var browser = await App.SignedIn())
            {
                (await browser.UiJson($"/ui/api/search?q={customer}"))["results"]![0]!["status"]!.GetValue<string>().ShouldBe("live");
                (await browser.UiJson($"/ui/api/people/{mpid}/events"))["total"]!.GetValue<int>().ShouldBe(2); // the history from before, and the return
            }

            // What the person sends from now on is their profile again.
            await App.Ingested(Batch(customer, newDevice, $$""", "user_attributes": { "life_{{s}}": "again" }"""));
            (await App.ProfileOf(customer)).Attribute($"life_{s}").ShouldBe(["again"]);
            await App.CatchUpDaemon();
            await Waiting.Until(async () => (await App.MembershipsOf(customer)).Contains(audience), "the membership earned again");

            // The fresh start is the fold's: rebuilding the profile from the whole stream gives the same profile.
            var folded = (await App.ProfileOf(customer)).ToJsonString();
            await App.Completed((await App.StartJob(Domain.Operations.OperationKinds.Rebuild, new { projection = "profiles", mpid = mpid.ToString() }))["id"]!.GetValue<string>());
            (await App.ProfileOf(customer)).ToJsonString().ShouldBe(folded);
        }
        finally
        {
            await RestoreAsync();
        }
    }

    private async Task<long> StandardAudienceSizeAsync(string eventName, DateTimeOffset day)
    {
        using var created = await App.Platform(HttpMethod.Post, "/v1/audiences?accountId=1", $$"""
            { "name": "History {{eventName}}", "audience_type": "standard", "workspaces": [1],
              "date_range": { "from": "{{day.AddDays(-1):yyyy-MM-dd}}", "to": "{{day.AddDays(1):yyyy-MM-dd}}" },
              "criteria": [ { "kind": "event", "event_type": "custom_event", "event_name": "{{eventName}}", "frequency": { "operator": "greater_or_equal", "count": 1 } } ] }
            """);
        created.StatusCode.ShouldBe(HttpStatusCode.OK, await created.Content.ReadAsStringAsync());
        var id = JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!.GetValue<int>();
        using (var activated = await App.Platform(HttpMethod.Post, $"/v1/audiences/{id}/activation?accountId=1"))
            activated.StatusCode.ShouldBe(HttpStatusCode.NoContent, await activated.Content.ReadAsStringAsync());
        await Waiting.Until(async () => (await App.Audience(id))["status"]!.GetValue<string>() == "ready", "the standard audience", 60);
        return (await App.Audience(id))["size"]!.GetValue<long>();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task a_person_brought_back_by_idsync_or_a_seed_is_not_aged_out_again_a_minute_later(bool lifetimeProfiles)
    {
        var customer = Api.NewId("lifetime-idsync");
        var device = Guid.NewGuid().ToString().ToUpperInvariant();
        await App.Ingested(Batch(customer, device));
        try
        {
            var lifetime = TimeSpan.FromDays(await LifetimeAsync(lifetimeProfiles));
            App.Clock.Advance(lifetime + TimeSpan.FromMinutes(1));
            await Enforcer.RunOnceAsync(CancellationToken.None);
            using (var agedOut = await App.ResolveProfile(customer)) agedOut.StatusCode.ShouldBe(HttpStatusCode.NotFound);

            // A new identity: back, with the device the call names (the one in use now) and the user identities.
            await App.Identity("identify", new { customerid = customer, email = $"{customer}@example.org", ios_idfv = device });
            var back = await App.ProfileOf(customer);
            back.Identities().ShouldBe([$"customer_id={customer}", $"email={customer}@example.org"], ignoreOrder: true);
            back.Identities("device_identities").ShouldBe([$"ios_vendor_id={device}"]);
            App.Clock.Advance(TimeSpan.FromMinutes(2));
            await Enforcer.RunOnceAsync(CancellationToken.None);
            using (var stillLive = await App.ResolveProfile(customer)) stillLive.StatusCode.ShouldBe(HttpStatusCode.OK);

            App.Clock.Advance(lifetime); // a lifetime after the return, with nothing in between: out again
            await Enforcer.RunOnceAsync(CancellationToken.None);
            using (var again = await App.ResolveProfile(customer)) again.StatusCode.ShouldBe(HttpStatusCode.NotFound);

            using (var seeded = await App.PostBatch($$"""
                { "environment": "development", "identities": { "customer_id": "{{customer}}" },
                  "user_attributes": [ { "attribute_name": "seeded", "attribute_value": "yes" } ] }
                """, "/v2/calculatedattributes"))
                seeded.StatusCode.ShouldBe(HttpStatusCode.Accepted, await seeded.Content.ReadAsStringAsync());
            App.Clock.Advance(TimeSpan.FromMinutes(2));
            await Enforcer.RunOnceAsync(CancellationToken.None);
            var profile = await App.ProfileOf(customer); // live: the seed moved the lifetime's start
            profile.Attribute("seeded").ShouldBe(["yes"]);
        }
        finally
        {
            await RestoreAsync();
        }
    }

    [Fact]
    public async Task an_aged_out_persons_stored_batches_can_still_be_replayed()
    {
        var customer = Api.NewId("lifetime-replay");
        await NewOutputAsync();
        var connection = (await App.Connect(AppFixture.ForwardingInput, OutputId))["id"]!.GetValue<string>();
        var from = App.Clock.GetUtcNow().AddSeconds(-1);
        await App.Ingested(Batch(customer, Guid.NewGuid().ToString()), key: AppFixture.ForwardingKey, secret: AppFixture.ForwardingSecret);
        var to = App.Clock.GetUtcNow().AddSeconds(1);
        await Waiting.Until(() => Task.FromResult(Receiver.BatchesOf(customer).Count == 1), "the live delivery");
        var mpid = (await App.ProfileOf(customer))["mpid"]!.GetValue<long>();
        try
        {
            App.Clock.Advance(TimeSpan.FromDays(31));
            await Enforcer.RunOnceAsync(CancellationToken.None);
            await App.CatchUpDaemon();
            await Enforcer.RunOnceAsync(CancellationToken.None);
            (await IsArchived(mpid)).ShouldBeTrue();

            var job = await App.StartJob(Domain.Operations.OperationKinds.Replay,
                new { input = AppFixture.ForwardingInput, connection, from = from.ToString("O"), to = to.ToString("O") }, workspace: 1);
            await App.Completed(job["id"]!.GetValue<string>());
            await Waiting.Until(() => Task.FromResult(Receiver.BatchesOf(customer).Count == 2), "the replayed batch");
            Receiver.BatchesOf(customer).Count(b => b["source_info"]?["is_replay"]?.GetValue<bool>() == true).ShouldBe(1);
            (await IsArchived(mpid)).ShouldBeTrue(); // reading the history does not bring the person back
        }
        finally
        {
            await RestoreAsync();
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
            await RestoreAsync();
        }
    }
}
