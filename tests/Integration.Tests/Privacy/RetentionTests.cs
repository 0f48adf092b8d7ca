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
    public async Task retention_deletes_exactly_the_events_older_than_the_period_and_then_the_people_entirely()
    {
        var customer = Api.NewId("retain");
        var now = DateTimeOffset.UtcNow;
        string Event(string name, DateTimeOffset at) =>
            $$"""{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "other", "timestamp_unixtime_ms": {{at.ToUnixTimeMilliseconds()}} } }""";
        await app.Ingested($$"""
            { "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "tier": "gold" },
              "events": [ {{Event("Old", now.AddDays(-61))}}, {{Event("Edge", now.AddDays(-59))}}, {{Event("New", now.AddHours(-1))}} ] }
            """);
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
        await app.CatchUpDaemon(); // events are deleted only below what the daemon has applied
        var enforcer = app.Services.GetRequiredService<RetentionEnforcer>();
        try
        {
            using (var set = await Put(new { data_retention_days = 60, profile_lifetime_days = 30 })) set.StatusCode.ShouldBe(HttpStatusCode.OK);
            await enforcer.RunOnceAsync(CancellationToken.None);
            (await EventsOf(mpid, "event_captured")).ShouldBe(2); // only the 61-day-old event went
            (await app.ProfileOf(customer)).Attribute("tier").ShouldBe(["gold"]); // the profile stays

            app.Clock.Advance(TimeSpan.FromDays(61)); // now everything, the profile included, is past the period
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
}
