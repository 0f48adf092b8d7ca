using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Profiles;
using EventProfiles.Integration.Tests.Fixtures;
using Marten;
using Microsoft.Extensions.DependencyInjection;

namespace EventProfiles.Integration.Tests.CalculatedAttributes;

/// <summary>
/// Issue 16 §6: the calculations projection takes time from the events (stored times, the scheduler's clock events),
/// never from a wall clock, so a rebuild run later folds byte-identical documents: values, memberships, "member since".
/// </summary>
[Collection(AppCollection.Name)]
public sealed class ReplayIndependenceTests(AppFixture app)
{
    private static string Event(string name, DateTimeOffset at) =>
        $$"""{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "other", "timestamp_unixtime_ms": {{at.ToUnixTimeMilliseconds()}}, "custom_attributes": { "page": "/{{at.Hour}}" } } }""";

    private async Task<List<string>> Documents(IEnumerable<long> mpids)
    {
        await using var session = app.Services.GetRequiredService<IDocumentStore>().QuerySession();
        var documents = new List<string>();
        foreach (var mpid in mpids) documents.Add(await session.Json.FindByIdAsync<PersonCalculations>(StreamKey.For(mpid)) ?? "(none)");
        return documents;
    }

    [Fact]
    public async Task a_rebuild_run_with_the_clock_moved_forward_gives_identical_documents()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var name = $"Visit{s}";
        var audience = await app.ActiveAudience($"Recent visitors {s}",
            $$"""[ { "kind": "event", "event_type": "custom_event", "event_name": "{{name}}", "recency": { "within_days": 2 } } ]""");
        await app.ActiveCalculatedAttribute($"visits_week_{s}", $$"""
            { "data_point": { "type": "event", "event_type": "custom_event", "event_name": "{{name}}" }, "conditions": [],
              "calculation_type": "count", "time_period": { "type": "within", "within": 1, "within_unit": "weeks" } }
            """);
        await app.ActiveCalculatedAttribute($"pages_{s}", $$"""
            { "data_point": { "type": "event", "event_type": "custom_event", "event_name": "{{name}}", "attribute_name": "page" }, "conditions": [],
              "calculation_type": "unique_list", "time_period": { "type": "since", "date": "{{app.Clock.GetUtcNow().AddDays(-7):O}}" } }
            """);

        var early = Api.NewId("replay-early"); // visited a day ago: leaves the audience when the clock moves 26 h on
        var recent = Api.NewId("replay-recent"); // visits now: still a member 26 h later
        var now = app.Clock.GetUtcNow();
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{early}}" }, "events": [ {{Event(name, now.AddDays(-1))}}, {{Event(name, now.AddDays(-5))}} ] }""");
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{recent}}" }, "events": [ {{Event(name, now)}} ] }""");
        await app.CatchUpDaemon();
        await Waiting.Until(async () => (await app.MembershipsOf(early)).Contains(audience) && (await app.MembershipsOf(recent)).Contains(audience), "both memberships");
        var mpids = new[] { (await app.ProfileOf(early))["mpid"]!.GetValue<long>(), (await app.ProfileOf(recent))["mpid"]!.GetValue<long>() };
        try
        {
            app.Clock.Advance(TimeSpan.FromHours(26)); // the scheduler records the moment on the early visitor's stream
            await Waiting.Until(async () => !(await app.MembershipsOf(early)).Contains(audience), "the scheduled removal", 60);
            await app.CatchUpDaemon();
            var live = await Documents(mpids);
            live.ShouldAllBe(d => d.Contains("\"AsOf\"") && d.Contains($"\"{audience}\""));

            app.Clock.Advance(TimeSpan.FromHours(1)); // a rebuild run later: nothing of its own time may reach the documents
            await app.RebuildCalculatedAttributes();
            await app.CatchUpDaemon();
            (await Documents(mpids)).ShouldBe(live);
            (await app.MembershipsOf(recent)).ShouldContain(audience);
        }
        finally
        {
            app.Clock.Reset();
        }
    }
}
