using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Commands.Privacy;
using EventProfiles.Integration.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace EventProfiles.Integration.Tests.Privacy;

/// <summary>Retention settings through the admin API, and the data retention period enforced on stored data.</summary>
[Collection(AppCollection.Name)]
public sealed class RetentionTests(AppFixture app)
{
    private async Task<HttpResponseMessage> Put(object body) => await app.AdminClient().PutAsJsonAsync("/api/admin/retention", body);

    private async Task<long> EventsOf(long mpid, string type)
    {
        await using var command = app.Db.CreateCommand($"select count(*) from {app.Schema}.mt_events where stream_id = $1 and type = $2");
        command.Parameters.AddWithValue(mpid.ToString());
        command.Parameters.AddWithValue(type);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task settings_are_validated_and_lifetime_profiles_allow_a_lifetime_up_to_retention()
    {
        using (var tooLong = await Put(new { profile_lifetime_days = 90 }))
        {
            tooLong.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            (await tooLong.Errors()).ShouldContain(e => e.Field == "profile_lifetime_days" && e.Message.Contains("lifetime_profiles"));
        }
        using (var beyond = await Put(new { data_retention_days = 365, profile_lifetime_days = 400, lifetime_profiles = true }))
            (await beyond.Errors()).ShouldContain(e => e.Field == "profile_lifetime_days" && e.Message.Contains("retention"));
        using (var shortRetention = await Put(new { data_retention_days = 10 }))
            (await shortRetention.Errors()).ShouldContain(e => e.Field == "data_retention_days");
        try
        {
            using var ok = await Put(new { data_retention_days = 365, profile_lifetime_days = 200, lifetime_profiles = true });
            ok.StatusCode.ShouldBe(HttpStatusCode.OK, await ok.Content.ReadAsStringAsync());
            var read = await app.AdminClient().GetFromJsonAsync<JsonObject>("/api/admin/retention");
            read!["profile_lifetime_days"]!.GetValue<int>().ShouldBe(200);
            read["real_time_lookback_days"]!.GetValue<int>().ShouldBe(30);
            using var anonymous = await app.NewClient().GetAsync("/api/admin/retention");
            anonymous.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        }
        finally
        {
            using (await Put(new { data_retention_days = 730, profile_lifetime_days = 30, lifetime_profiles = false })) { }
        }
    }

    [Fact]
    public async Task retention_counts_events_from_receipt_so_historical_batches_survive_a_sweep_until_the_period_has_passed()
    {
        var customer = Api.NewId("retain");
        var now = DateTimeOffset.UtcNow;
        string Event(string name, DateTimeOffset at) =>
            $$"""{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "other", "timestamp_unixtime_ms": {{at.ToUnixTimeMilliseconds()}} } }""";
        await app.Ingested($$"""
            { "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "tier": "gold" },
              "events": [ {{Event("Old", now.AddDays(-61))}}, {{Event("Edge", now.AddDays(-59))}}, {{Event("New", now.AddHours(-1))}} ] }
            """);
        // Two-year-old history imported today (issue 16 §3): received now, so it lives the full period from now.
        await app.Ingested($$"""
            [{ "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{Event("Imported", now.AddDays(-700))}}, {{Event("Imported", now.AddDays(-400))}} ] }]
            """, "/v2/bulkevents/historical");
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
        await app.CatchUpDaemon(); // events are deleted only below what the daemon has applied
        var enforcer = app.Services.GetRequiredService<RetentionEnforcer>();
        try
        {
            using (var set = await Put(new { data_retention_days = 60, profile_lifetime_days = 30 })) set.StatusCode.ShouldBe(HttpStatusCode.OK);
            await enforcer.RunOnceAsync(CancellationToken.None);
            (await EventsOf(mpid, "event_captured")).ShouldBe(5); // nothing was received before the period
            (await EventsOf(mpid, "batch_received")).ShouldBe(2);
            (await app.ProfileOf(customer)).Attribute("tier").ShouldBe(["gold"]);

            app.Clock.Advance(TimeSpan.FromDays(59));
            await enforcer.RunOnceAsync(CancellationToken.None);
            (await EventsOf(mpid, "event_captured")).ShouldBe(5); // received 59 days ago: still inside

            app.Clock.Advance(TimeSpan.FromDays(2)); // now everything, the profile included, was received before the period
            await app.CatchUpDaemon();
            await enforcer.RunOnceAsync(CancellationToken.None);
            (await EventsOf(mpid, "event_captured")).ShouldBe(0);
            (await EventsOf(mpid, "profile_created")).ShouldBe(0);
            using var gone = await app.ResolveProfile(customer);
            gone.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        }
        finally
        {
            app.Clock.Reset();
            using (await Put(new { data_retention_days = 730, profile_lifetime_days = 30, lifetime_profiles = false })) { }
        }
    }

    [Fact]
    public async Task an_alias_source_outlives_its_own_last_update_while_its_destination_is_updated()
    {
        async Task<long> Person(string customer)
        {
            await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" } }""");
            return (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
        }
        var source = await Person(Api.NewId("alias-src"));
        var destinationCustomer = Api.NewId("alias-dst");
        var destination = await Person(destinationCustomer);
        var alone = await Person(Api.NewId("alias-none")); // as old as the source, aliased to no one
        var t = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        using (var aliased = await app.Call("/v1/alias", new
               {
                   request_type = "alias", request_id = Guid.NewGuid().ToString(), environment = "development",
                   data = new { source_mpid = source, destination_mpid = destination, start_unixtime_ms = t - 60_000, end_unixtime_ms = t },
               }, key: "demo-web-key"))
            aliased.StatusCode.ShouldBe(HttpStatusCode.Accepted, await aliased.Content.ReadAsStringAsync());
        await Waiting.Until(async () => await app.EventCount(destination, "profile_aliased_from") == 1, "the alias");

        var enforcer = app.Services.GetRequiredService<RetentionEnforcer>();
        try
        {
            using (var set = await Put(new { data_retention_days = 60, profile_lifetime_days = 30 })) set.StatusCode.ShouldBe(HttpStatusCode.OK);
            app.Clock.Advance(TimeSpan.FromDays(40));
            await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{destinationCustomer}}" } }"""); // the destination is updated
            app.Clock.Advance(TimeSpan.FromDays(25)); // 65 days after the source's last batch, 25 after the destination's
            await app.CatchUpDaemon();
            await enforcer.RunOnceAsync(CancellationToken.None);
            (await EventsOf(alone, "profile_created")).ShouldBe(0); // past the period on its own clock: gone
            (await EventsOf(source, "profile_created")).ShouldBe(1); // measured from the aliased-to profile: kept
            (await EventsOf(destination, "profile_created")).ShouldBe(1);

            app.Clock.Advance(TimeSpan.FromDays(40)); // now the destination, too, is 65 days past its last batch
            await app.CatchUpDaemon();
            await enforcer.RunOnceAsync(CancellationToken.None);
            (await EventsOf(source, "profile_created")).ShouldBe(0);
            (await EventsOf(destination, "profile_created")).ShouldBe(0);
        }
        finally
        {
            app.Clock.Reset();
            using (await Put(new { data_retention_days = 730, profile_lifetime_days = 30, lifetime_profiles = false })) { }
        }
    }
}
