using System.Net;
using System.Net.Http.Json;
using EventProfiles.Commands.Privacy;
using EventProfiles.Integration.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;

namespace EventProfiles.Integration.Tests.Audiences;

/// <summary>
/// Lifetime Profiles (issue 16 §1, retention-and-privacy.md §3): what people earned is kept for the profile lifetime,
/// recency criteria still expire, memberships end with a removal message when the person ages out, "since"
/// calculated attributes may start before the lookback. Each test turns the org setting on and back off.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class LifetimeProfilesTests(AppFixture app) : WithReceiver(app)
{
    private RetentionEnforcer Enforcer => App.Services.GetRequiredService<RetentionEnforcer>();

    private async Task Retention(int retentionDays, int lifetimeDays, bool lifetimeProfiles)
    {
        using var set = await App.AdminClient().PutAsJsonAsync("/api/admin/retention",
            new { data_retention_days = retentionDays, profile_lifetime_days = lifetimeDays, lifetime_profiles = lifetimeProfiles });
        set.StatusCode.ShouldBe(HttpStatusCode.OK, await set.Content.ReadAsStringAsync());
    }

    private Task LifetimeProfilesOn() => Retention(730, 365, true);
    private Task Defaults() => Retention(730, 30, false);

    private static string Event(string name, DateTimeOffset at) =>
        $$"""{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "other", "timestamp_unixtime_ms": {{at.ToUnixTimeMilliseconds()}} } }""";

    private static string Batch(string customer, params string[] events) =>
        $$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{string.Join(",", events)}} ] }""";

    /// <summary>The add/delete messages the receiver got for this audience and person, in order.</summary>
    [Fact]
    public async Task a_purchase_keeps_its_membership_for_the_lifetime_a_recency_criterion_still_expires_and_ageing_out_removes_the_member()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        try
        {
            await LifetimeProfilesOn();
            var buyers = await App.ActiveAudience($"Buyers {s}", $$"""[ { "kind": "event", "event_type": "custom_event", "event_name": "Purchase{{s}}" } ]""");
            var installed = await App.ActiveAudience($"Installed lately {s}",
                $$"""[ { "kind": "event", "event_type": "custom_event", "event_name": "Install{{s}}", "recency": { "within_days": 30 } } ]""");
            await ConnectAudienceAsync(buyers);
            await ConnectAudienceAsync(installed);
            var range = (await App.Audience(buyers))["data_range"]!;
            (range["event_data_days"]!.GetValue<int>(), range["profile_data_days"]!.GetValue<int>(), range["lifetime_profiles"]!.GetValue<bool>()).ShouldBe((30, 365, true));

            var customer = Api.NewId("lifetime-buyer");
            var regular = Api.NewId("lifetime-regular");
            var start = App.Clock.GetUtcNow();
            await App.Ingested(Batch(customer, Event($"Purchase{s}", start), Event($"Install{s}", start)));
            await App.Ingested(Batch(regular, Event($"Purchase{s}", start)));
            await App.CatchUpDaemon();
            await Waiting.Until(async () => (await App.MembershipsOf(customer)).Intersect([buyers, installed]).Count() == 2, "both memberships");
            var mpid = (await App.ProfileOf(customer))["mpid"]!.GetValue<long>();
            var regularMpid = (await App.ProfileOf(regular))["mpid"]!.GetValue<long>();

            // Day 31: "installed within the last 30 days" expires; the purchase, counted since activation, does not.
            App.Clock.Advance(TimeSpan.FromDays(31) + TimeSpan.FromHours(1));
            await Waiting.Until(async () => !(await App.MembershipsOf(customer)).Contains(installed), "the install to expire", 60);
            (await App.MembershipsOf(customer)).ShouldContain(buyers);
            // A second purchase, 31 days after the first (outside the 30-day lookback): both count.
            await App.Ingested(Batch(regular, Event($"Purchase{s}", App.Clock.GetUtcNow())));
            await App.CatchUpDaemon();
            (await App.Explain(buyers, regularMpid))["criteria"]![0]!["why"]!.GetValue<string>().ShouldStartWith("2 matching");

            // Day 200: no activity since the purchase, older than the lookback but within the lifetime: still a member.
            App.Clock.Advance(TimeSpan.FromDays(169));
            await Enforcer.RunOnceAsync(CancellationToken.None);
            await App.CatchUpDaemon();
            (await App.MembershipsOf(customer)).ShouldContain(buyers);
            var explained = await App.Explain(buyers, mpid);
            explained["is_member_now"]!.GetValue<bool>().ShouldBeTrue();
            explained["criteria"]![0]!["why"]!.GetValue<string>().ShouldContain("counted for the profile's lifetime");

            // Day 366: past the 365-day lifetime the person ages out, and the audience's outputs are told.
            App.Clock.Advance(TimeSpan.FromDays(166));
            await Enforcer.RunOnceAsync(CancellationToken.None);
            using (var agedOut = await App.ResolveProfile(customer)) agedOut.StatusCode.ShouldBe(HttpStatusCode.NotFound);
            await App.CatchUpDaemon();
            await Waiting.Until(() => Task.FromResult(Receiver.AudienceActions(buyers, mpid).Count == 2), "the removal message", 60);
            Receiver.AudienceActions(buyers, mpid).ShouldBe(["add", "delete"]);
            Receiver.AudienceActions(installed, mpid).ShouldBe(["add", "delete"]);
            (await App.Explain(buyers, mpid))["recorded_member"]!.GetValue<bool>().ShouldBeFalse();
        }
        finally
        {
            App.Clock.Reset();
            await Defaults();
        }
    }

    [Fact]
    public async Task with_lifetime_profiles_a_since_attribute_may_start_before_the_lookback_bounded_by_retention()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var customer = Api.NewId("lifetime-since");
        var now = App.Clock.GetUtcNow();
        await App.Ingested(Batch(customer, Event($"Movie{s}", now.AddDays(-100)), Event($"Movie{s}", now.AddDays(-60)), Event($"Movie{s}", now.AddDays(-1))));
        await App.CatchUpDaemon();
        string Since(DateTimeOffset date) => $$"""
            { "recipe_type": "event", "data_point": { "type": "event", "event_type": "custom_event", "event_name": "Movie{{s}}" },
              "conditions": [], "calculation_type": "count", "time_period": { "type": "since", "date": "{{date:O}}" } }
            """;

        // Off: the lookback bounds the start, in the product's words.
        using (var refused = await App.Platform(HttpMethod.Post, CalculatedAttributesApi.Path(), $$"""{ "name": "movies_{{s}}", "draft_definition": {{Since(now.AddDays(-120))}} }"""))
        {
            refused.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            (await refused.Errors()).ShouldContain(e => e.Field == "draft_definition.time_period.date" && e.Message.Contains("earliest date available"));
        }
        (await App.ProfileOf(customer))["user_attributes"]!.AsObject().ContainsKey($"movies_{s}").ShouldBeFalse(); // nothing was stored

        try
        {
            await LifetimeProfilesOn();
            await App.ActiveCalculatedAttribute($"movies_{s}", Since(now.AddDays(-120)));
            (await App.UserAttributesOf(customer))[$"movies_{s}"]!.GetValue<string>().ShouldBe("3"); // 100 and 60 days ago count too

            using var beyond = await App.Platform(HttpMethod.Post, CalculatedAttributesApi.Path(), $$"""{ "name": "movies_old_{{s}}", "draft_definition": {{Since(now.AddDays(-800))}} }""");
            beyond.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            (await beyond.Errors()).ShouldContain(e => e.Field == "draft_definition.time_period.date"
                && e.Message.Contains("with Lifetime Profiles on, the limit is the data retention period of 730 days"));
        }
        finally
        {
            await Defaults();
        }
    }
}
