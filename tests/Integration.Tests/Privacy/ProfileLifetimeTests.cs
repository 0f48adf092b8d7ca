using System.Net;
using System.Net.Http.Json;
using EventProfiles.Commands.Privacy;
using EventProfiles.Integration.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace EventProfiles.Integration.Tests.Privacy;

/// <summary>Profile lifetime: ageing out at the boundary (archived stream, audience removal), Lifetime Profiles, reactivation.</summary>
[Collection(AppCollection.Name)]
public sealed class ProfileLifetimeTests(AppFixture app) : IAsyncLifetime
{
    private Receiver _receiver = null!;
    private string _outputId = "";

    public async Task InitializeAsync() => _receiver = await Receiver.StartAsync();

    public async Task DisposeAsync()
    {
        if (_outputId.Length > 0) using (await app.AdminClient().DeleteAsync($"/api/admin/outputs/{_outputId}")) { }
        await _receiver.DisposeAsync();
    }

    private RetentionEnforcer Enforcer => app.Services.GetRequiredService<RetentionEnforcer>();

    private async Task<bool> IsArchived(long mpid)
    {
        await using var command = app.Db.CreateCommand($"select is_archived from {app.Schema}.mt_streams where id = $1");
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
        var audience = await app.ActiveAudience($"Lifers {s}", $$"""[ { "kind": "user_attribute", "attribute_name": "life_{{s}}", "type": "string", "operator": "exists" } ]""");
        _outputId = (await app.CreateOutput(_receiver.Url))["id"]!.GetValue<string>();
        using (var connected = await app.AdminClient().PostAsJsonAsync("/api/admin/audience-connections", new { audience_id = audience, output_id = _outputId }))
            connected.StatusCode.ShouldBe(HttpStatusCode.Created);

        var customer = Api.NewId("lifetime");
        var oldDevice = Guid.NewGuid().ToString().ToUpperInvariant();
        await app.Ingested(Batch(customer, oldDevice, $$""", "user_attributes": { "life_{{s}}": "yes" }"""));
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
        await app.CatchUpDaemon();
        await Waiting.Until(async () => (await app.MembershipsOf(customer)).Contains(audience), "the membership");

        try
        {
            app.Clock.Advance(TimeSpan.FromDays(30) - TimeSpan.FromMinutes(1)); // just inside the 30-day lifetime
            await Enforcer.RunOnceAsync(CancellationToken.None);
            using (var live = await app.ResolveProfile(customer)) live.StatusCode.ShouldBe(HttpStatusCode.OK);

            app.Clock.Advance(TimeSpan.FromMinutes(2)); // just past it
            await Enforcer.RunOnceAsync(CancellationToken.None);
            using (var agedOut = await app.ResolveProfile(customer)) agedOut.StatusCode.ShouldBe(HttpStatusCode.NotFound);
            await app.CatchUpDaemon();
            await Enforcer.RunOnceAsync(CancellationToken.None); // the daemon has applied the ageing out: now archived
            (await IsArchived(mpid)).ShouldBeTrue();
            await Waiting.Until(() => Task.FromResult(_receiver.Received.Count(r => r.Batch.ToJsonString().Contains("\"delete\"")) == 1), "the removal message");

            var newDevice = Guid.NewGuid().ToString().ToUpperInvariant();
            await app.Ingested(Batch(customer, newDevice)); // seen again: reactivated
            (await IsArchived(mpid)).ShouldBeFalse();
            var profile = await app.ProfileOf(customer);
            profile["mpid"]!.GetValue<long>().ShouldBe(mpid);
            profile.Attribute($"life_{s}").ShouldBe(["yes"]); // attributes come back
            profile.Identities("device_identities").ShouldBe([$"ios_vendor_id={newDevice}"]); // the old device does not
            profile.Identities().ShouldContain($"customer_id={customer}");
            await app.CatchUpDaemon();
            await Waiting.Until(async () => (await app.MembershipsOf(customer)).Contains(audience), "the membership back");
        }
        finally
        {
            app.Clock.Reset();
        }
    }

    [Fact]
    public async Task with_lifetime_profiles_a_profile_stays_live_past_the_default_lifetime()
    {
        var customer = Api.NewId("lifetime-long");
        await app.Ingested(Batch(customer, Guid.NewGuid().ToString()));
        try
        {
            using (var set = await app.AdminClient().PutAsJsonAsync("/api/admin/retention", new { data_retention_days = 365, profile_lifetime_days = 200, lifetime_profiles = true }))
                set.StatusCode.ShouldBe(HttpStatusCode.OK);
            app.Clock.Advance(TimeSpan.FromDays(45));
            await Enforcer.RunOnceAsync(CancellationToken.None);
            using var live = await app.ResolveProfile(customer);
            live.StatusCode.ShouldBe(HttpStatusCode.OK);
        }
        finally
        {
            app.Clock.Reset();
            using (await app.AdminClient().PutAsJsonAsync("/api/admin/retention", new { data_retention_days = 730, profile_lifetime_days = 30, lifetime_profiles = false })) { }
        }
    }
}
