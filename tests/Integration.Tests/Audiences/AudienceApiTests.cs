using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Audiences;

/// <summary>The audience API: validation, scope, lifecycle; standard audiences; rebuilds that equal the live memberships.</summary>
[Collection(AppCollection.Name)]
public sealed class AudienceApiTests(AppFixture app) : WithReceiver(app)
{

    private async Task<IReadOnlyList<(string Field, string Message)>> Rejected(string body)
    {
        using var response = await App.Platform(HttpMethod.Post, "/v1/audiences?accountId=1", body);
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync());
        return await response.Errors();
    }

    private static string Event(string name, DateTimeOffset at) =>
        $$"""{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "other", "timestamp_unixtime_ms": {{at.ToUnixTimeMilliseconds()}} } }""";

    [Fact]
    public async Task invalid_audiences_are_refused_with_the_field_and_nothing_is_stored()
    {
        var name = Api.NewId("bad-audience");
        (await Rejected($$"""{ "name": "{{name}}", "workspaces": [1], "criteria": [] }""")).ShouldContain(e => e.Field == "criteria");
        (await Rejected($$"""{ "name": "{{name}}", "workspaces": [1], "criteria": [ { "kind": "horoscope" } ] }""")).ShouldContain(e => e.Field == "criteria[0].kind");
        (await Rejected($$"""{ "name": "{{name}}", "workspaces": [1], "criteria": [ { "kind": "user_attribute", "attribute_name": "age", "type": "number", "operator": "contains", "value": "3" } ] }"""))
            .ShouldContain(e => e.Field == "criteria[0].operator");
        (await Rejected($$"""{ "name": "{{name}}", "workspaces": [1], "criteria": [ { "kind": "event", "event_type": "custom_event", "event_name": "X", "recency": { "within_days": 31 } } ] }"""))
            .ShouldContain(e => e.Field == "criteria[0].recency" && e.Message.Contains("30 days"));
        (await Rejected($$"""{ "name": "{{name}}", "workspaces": [2], "criteria": [ { "kind": "identity", "identity_type": "email", "operator": "exists" } ] }"""))
            .ShouldContain(e => e.Field == "workspaces"); // the demo client may not use workspace 2
        using var list = await App.Platform(HttpMethod.Get, "/v1/audiences?accountId=1");
        JsonNode.Parse(await list.Content.ReadAsStringAsync())!.AsArray().ShouldNotContain(a => a!["name"]!.GetValue<string>() == name);
    }

    [Fact]
    public async Task a_token_sees_only_audiences_of_its_workspaces_and_accountId_is_required()
    {
        var created = await App.CreateAudience(Api.NewId("scoped"), """[ { "kind": "identity", "identity_type": "email", "operator": "exists" } ]""");
        var id = created["id"]!.GetValue<int>();
        created["status"]!.GetValue<string>().ShouldBe("draft");
        created["workspaces"]![0]!["id"]!.GetValue<int>().ShouldBe(1);
        created["data_type"]!.GetValue<string>().ShouldBe("audience");
        var other = await App.Token("other-client", "other-client-secret");
        using (var hidden = await App.Platform(HttpMethod.Get, $"/v1/audiences/{id}?accountId=1", token: other)) hidden.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        using (var wsList = await App.Platform(HttpMethod.Get, "/v1/workspace/1/audiences?accountId=1", token: other)) wsList.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        using (var noAccount = await App.Platform(HttpMethod.Get, "/v1/audiences")) noAccount.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        using (var anonymous = await App.NewClient().GetAsync("/v1/audiences?accountId=1")) anonymous.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        using (var mine = await App.Platform(HttpMethod.Get, "/v1/workspace/1/audiences?accountId=1"))
            JsonNode.Parse(await mine.Content.ReadAsStringAsync())!.AsArray().ShouldContain(a => a!["id"]!.GetValue<int>() == id);
        using (var deleted = await App.Platform(HttpMethod.Delete, $"/v1/audiences/{id}?accountId=1")) deleted.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        using (var gone = await App.Platform(HttpMethod.Get, $"/v1/audiences/{id}?accountId=1")) gone.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task a_standard_audience_over_historical_data_reaches_ready_with_the_right_members_and_is_sent_once()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var inRange = Enumerable.Range(0, 2).Select(i => Api.NewId($"std-in{i}")).ToList();
        var outOfRange = Api.NewId("std-out");
        var twice = Api.NewId("std-twice");
        var day = DateTimeOffset.UtcNow.UtcDateTime.Date.AddDays(-20);
        foreach (var c in inRange)
            await App.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{c}}" }, "events": [ {{Event($"Signup{s}", day.AddHours(12))}} ] }""");
        await App.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{outOfRange}}" }, "events": [ {{Event($"Signup{s}", day.AddDays(-5))}} ] }""");
        await App.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{twice}}" }, "events": [ {{Event($"Signup{s}", day.AddHours(1))}}, {{Event($"Signup{s}", day.AddHours(2))}} ] }""");

        using var created = await App.Platform(HttpMethod.Post, "/v1/audiences?accountId=1", $$"""
            { "name": "Signed up {{s}}", "audience_type": "standard", "workspaces": [1],
              "date_range": { "from": "{{day.AddDays(-1):yyyy-MM-dd}}", "to": "{{day.AddDays(1):yyyy-MM-dd}}" },
              "criteria": [ { "kind": "event", "event_type": "custom_event", "event_name": "Signup{{s}}", "frequency": { "operator": "equals", "count": 1 } } ] }
            """);
        created.StatusCode.ShouldBe(HttpStatusCode.OK, await created.Content.ReadAsStringAsync());
        var id = JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!.GetValue<int>();
        await ConnectAudienceAsync(id);

        using (var activated = await App.Platform(HttpMethod.Post, $"/v1/audiences/{id}/activation?accountId=1")) activated.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        await Waiting.Until(async () => (await App.Audience(id))["status"]!.GetValue<string>() == "ready", "the standard audience", 60);
        var audience = await App.Audience(id);
        audience["size"]!.GetValue<long>().ShouldBe(2);
        audience["calculation"]!["percent"]!.GetValue<double>().ShouldBe(100);
        foreach (var c in inRange) (await App.MembershipsOf(c)).ShouldContain(id);
        (await App.MembershipsOf(outOfRange)).ShouldNotContain(id);
        (await App.MembershipsOf(twice)).ShouldNotContain(id); // two signups: "equals 1" is false

        await Waiting.Until(() => Task.FromResult(Receiver.Received.Any()), "the one-time send");
        var sent = Receiver.Received.Select(r => r.Batch).SelectMany(b => b["user_profiles"]!.AsArray()).Select(p => p!["mpid"]!.GetValue<string>()).ToList();
        sent.Count.ShouldBe(2);

        try
        {
            App.Clock.Advance(TimeSpan.FromDays(31));
            (await App.Audience(id))["status"]!.GetValue<string>().ShouldBe("expired");
            using var late = await App.Platform(HttpMethod.Post, $"/v1/audiences/{id}/send?accountId=1");
            late.StatusCode.ShouldBe(HttpStatusCode.Conflict);
            (await App.MembershipsOf(inRange[0])).ShouldContain(id); // membership survives expiry
        }
        finally
        {
            App.Clock.Reset();
        }
    }

    [Fact]
    public async Task rebuilding_the_projection_gives_the_same_members_and_sends_nothing_again()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var id = await App.ActiveAudience($"Viewers {s}", $$"""
            [ { "kind": "event", "event_type": "custom_event", "event_name": "View{{s}}", "frequency": { "operator": "greater_or_equal", "count": 2 }, "recency": { "within_days": 7 } },
              { "join": "or", "kind": "user_attribute", "attribute_name": "vip_{{s}}", "type": "boolean", "operator": "equals", "value": "true" },
              { "join": "exclude", "kind": "consent", "regulation": "ccpa", "consented": true } ]
            """);
        await ConnectAudienceAsync(id);
        var now = DateTimeOffset.UtcNow;
        var people = Enumerable.Range(0, 5).Select(i => Api.NewId($"aud-rb{i}")).ToList();
        for (var i = 0; i < people.Count; i++)
        {
            var events = string.Join(",", Enumerable.Range(0, i).Select(k => Event($"View{s}", now.AddDays(-k))));
            var optOut = i == 4 ? """, "consent_state": { "ccpa": { "data_sale_opt_out": { "consented": true, "timestamp_unixtime_ms": 1700000000000 } } }""" : "";
            await App.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{people[i]}}" }, "user_attributes": { "vip_{{s}}": {{(i == 1 ? "true" : "false")}} }{{optOut}}, "events": [ {{events}} ] }""");
        }
        await App.CatchUpDaemon();
        var before = new List<int[]>();
        foreach (var p in people) before.Add(await App.MembershipsOf(p));
        before.Select(m => m.Contains(id)).ShouldBe([false, true, true, true, false]); // 0 views; vip; 2 and 3 views; excluded (CCPA opt-out)
        await Waiting.Until(() => Task.FromResult(Receiver.Received.Count == 3), "three add messages");

        await App.RebuildCalculatedAttributes();
        await App.CatchUpDaemon();
        for (var i = 0; i < people.Count; i++) (await App.MembershipsOf(people[i])).ShouldBe(before[i]);
        (await App.Audience(id))["size"]!.GetValue<long>().ShouldBe(3);
        await Task.Delay(500); // give any (wrong) duplicate a chance to arrive before counting
        Receiver.Received.Count.ShouldBe(3);
    }
}
