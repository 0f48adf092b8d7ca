using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.ActivityView;

/// <summary>What the User Activity View's data API answers: search, the profile page, the timeline and its chart.</summary>
[Collection(AppCollection.Name)]
public class ActivityViewDataTests(AppFixture app)
{
    private static string Event(string type, string name, DateTimeOffset at) => type == "screen_view"
        ? $$"""{ "event_type": "screen_view", "data": { "screen_name": "{{name}}", "timestamp_unixtime_ms": {{at.ToUnixTimeMilliseconds()}} } }"""
        : $$"""{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "other", "timestamp_unixtime_ms": {{at.ToUnixTimeMilliseconds()}} } }""";

    private async Task<string> MpidOf(string customer) => (await app.ProfileOf(customer))["mpid"]!.GetValue<long>().ToString();

    [Fact]
    public async Task search_finds_people_by_mpid_by_exact_identity_and_by_the_beginning_of_emails_and_customer_ids()
    {
        var run = Guid.NewGuid().ToString("N")[..10];
        var (ana, bob) = ($"uav-ana-{run}", $"uav-bob-{run}");
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{ana}}", "email": "{{ana}}@example.org", "other": "o-{{run}}" }, "events": [] }""");
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{bob}}", "email": "{{bob}}@example.org" }, "events": [] }""");
        var anaMpid = await MpidOf(ana);
        using var browser = await app.SignedIn();

        async Task<JsonArray> Search(string q, string type = "any") =>
            (await browser.UiJson($"/ui/api/search?q={Uri.EscapeDataString(q)}&type={type}"))["results"]!.AsArray();

        var byMpid = await Search(anaMpid, "mpid");
        byMpid.Single()!["customer_id"]!.GetValue<string>().ShouldBe(ana);
        byMpid.Single()!["status"]!.GetValue<string>().ShouldBe("live");
        (await Search(anaMpid)).Single()!["matched_by"]!.GetValue<string>().ShouldBe("mpid");
        var byOther = (await Search($"o-{run}")).Single()!;
        (byOther["mpid"]!.GetValue<string>(), byOther["matched_by"]!.GetValue<string>()).ShouldBe((anaMpid, "other"));
        (await Search($"o-{run}", "email")).ShouldBeEmpty(); // the chosen type only
        (await Search($"{ana}@example.org", "email")).Single()!["email"]!.GetValue<string>().ShouldBe($"{ana}@example.org");

        // Prefixes: both people by the shared beginning of their customer ids and emails, one by a longer one.
        (await Search($"uav-")).Select(r => r!["customer_id"]!.GetValue<string>()).ShouldContain(bob);
        (await Search($"uav-ana-{run[..6]}")).Select(r => r!["mpid"]!.GetValue<string>()).Distinct().ShouldBe([anaMpid]);
        (await Search($"uav-ana-{run[..6]}", "other")).ShouldBeEmpty(); // other identities match exactly only
        (await Search($"uav-%-{run}")).ShouldBeEmpty(); // LIKE wildcards are plain characters
        (await Search("nobody-at-all@example.org")).ShouldBeEmpty();

        using (var bad = await browser.GetAsync("/ui/api/search?q=abc&type=mpid"))
        {
            bad.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            (await bad.Errors()).Single().Field.ShouldBe("q");
        }
        using (var badType = await browser.GetAsync("/ui/api/search?q=abc&type=shoe_size"))
            (await badType.Errors()).Single().Field.ShouldBe("type");
        using (var missing = await browser.GetAsync("/ui/api/search"))
            (await missing.Errors()).Single().Field.ShouldBe("q");
    }

    [Fact]
    public async Task a_user_limited_to_one_workspace_sees_nobody_and_nothing_from_the_others()
    {
        var run = Guid.NewGuid().ToString("N")[..10];
        var (onlyFirst, both) = ($"ws1-{run}", $"both-{run}");
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{onlyFirst}}" }, "user_attributes": { "secret_plan": "gold" }, "events": [ {{Event("custom_event", "First only", DateTimeOffset.UtcNow)}} ] }""");
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{both}}" }, "user_attributes": { "tier": "one" }, "events": [ {{Event("custom_event", "In one", DateTimeOffset.UtcNow)}} ] }""");
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{both}}" }, "user_attributes": { "tier": "two" }, "events": [ {{Event("custom_event", "In two", DateTimeOffset.UtcNow)}} ] }""",
            key: Api.OtherKey, secret: Api.OtherSecret);
        var (firstMpid, bothMpid) = (await MpidOf(onlyFirst), await MpidOf(both));

        using var support = await app.SignedIn(AppFixture.SupportUser, AppFixture.SupportPassword);
        (await support.UiJson("/ui/api/session"))["workspaces"]!.AsArray().Select(w => w!["id"]!.GetValue<int>()).ShouldBe([2]);
        (await support.UiJson($"/ui/api/search?q={onlyFirst}"))["results"]!.AsArray().ShouldBeEmpty();
        (await support.UiJson($"/ui/api/search?q={firstMpid}"))["results"]!.AsArray().ShouldBeEmpty();
        foreach (var path in new[] { $"/ui/api/people/{firstMpid}", $"/ui/api/people/{firstMpid}/events", $"/ui/api/people/{firstMpid}/activity" })
        {
            using var response = await support.GetAsync(path);
            response.StatusCode.ShouldBe(HttpStatusCode.NotFound, path);
            (await response.Content.ReadAsStringAsync()).ShouldNotContain("gold");
        }

        var person = await support.UiJson($"/ui/api/people/{bothMpid}");
        person["workspaces"]!.AsArray().Select(w => w!["name"]!.GetValue<string>()).ShouldBe(["Other"]);
        person["workspaces"]![0]!["user_attributes"]!.AsArray().Single(a => a!["name"]!.GetValue<string>() == "tier")!["value"]!.GetValue<string>().ShouldBe("two");
        person["identities"]!.AsArray().ShouldAllBe(i => i!["workspace"]!["id"]!.GetValue<int>() == 2);
        var events = await support.UiJson($"/ui/api/people/{bothMpid}/events");
        events["events"]!.AsArray().Select(e => e!["name"]!.GetValue<string>()).ShouldBe(["In two"]);
        (await support.UiJson($"/ui/api/people/{bothMpid}/activity"))["total"]!.GetValue<int>().ShouldBe(1);

        using var admin = await app.SignedIn();
        (await admin.UiJson($"/ui/api/people/{bothMpid}"))["workspaces"]!.AsArray().Count.ShouldBe(2);
    }

    [Fact]
    public async Task the_profile_shows_identities_attributes_consent_devices_calculated_attributes_audiences_and_retention()
    {
        var run = Guid.NewGuid().ToString("N")[..10];
        var customer = $"profile-{run}";
        var attributeId = await app.CreateCalculatedAttribute($"Pricing views {run}", $$"""
            { "recipe_type": "event", "data_point": { "type": "event", "event_type": "custom_event", "event_name": "Pricing {{run}}", "attribute_name": null },
              "conditions": [], "calculation_type": "count", "time_period": { "type": "within", "within": 30, "within_unit": "days" } }
            """);
        await app.Activate(attributeId);
        var audience = await app.ActiveAudience($"Pricing fans {run}", $$"""
            [ { "kind": "event", "event_type": "custom_event", "event_name": "Pricing {{run}}", "frequency": { "operator": "greater_than", "count": 1 }, "recency": { "within_days": 7 } } ]
            """);
        var draft = await app.CreateCalculatedAttribute($"Draft {run}", $$"""
            { "recipe_type": "event", "data_point": { "type": "event", "event_type": "custom_event", "event_name": "x", "attribute_name": null },
              "conditions": [], "calculation_type": "count", "time_period": { "type": "within", "within": 30, "within_unit": "days" } }
            """);

        var now = DateTimeOffset.UtcNow;
        await app.Ingested($$"""
            { "environment": "development", "mp_deviceid": "das-{{run}}",
              "user_identities": { "customer_id": "{{customer}}", "email": "{{customer}}@example.org" },
              "device_info": { "platform": "iOS", "ios_idfv": "idfv-{{run}}", "limit_ad_tracking": true },
              "user_attributes": { "plan": "pro", "$FirstName": "Ana" },
              "consent_state": { "gdpr": { "marketing": { "consented": true, "document": "privacy-v2", "timestamp_unixtime_ms": {{now.ToUnixTimeMilliseconds()}} } } },
              "events": [ {{Event("custom_event", $"Pricing {run}", now.AddMinutes(-2))}}, {{Event("custom_event", $"Pricing {run}", now.AddMinutes(-1))}} ] }
            """);
        var mpid = await MpidOf(customer);
        await app.CatchUpDaemon();
        using var browser = await app.SignedIn();
        await Waiting.Until(async () => (await browser.UiJson($"/ui/api/people/{mpid}"))["audiences"]!.AsArray().Count == 1, "the audience membership", 30);

        var person = await browser.UiJson($"/ui/api/people/{mpid}");
        person["status"]!.GetValue<string>().ShouldBe("live");
        person["retention"]!["profile_lifetime_days"]!.GetValue<int>().ShouldBeGreaterThan(0);
        person["retention"]!["live_until"].ShouldNotBeNull();
        var identities = person["identities"]!.AsArray();
        identities.Select(i => $"{i!["type"]}={i["value"]} via {i["input"]}").ShouldContain($"customer_id={customer} via demo-server");
        identities.Single(i => i!["type"]!.GetValue<string>() == "ios_idfv")!["kind"]!.GetValue<string>().ShouldBe("device");
        var workspace = person["workspaces"]!.AsArray().Single()!;
        workspace["user_attributes"]!.AsArray().Select(a => $"{a!["name"]}={a["value"]}").ShouldBe(["$FirstName=Ana", "plan=pro"], ignoreOrder: true);
        var calculated = workspace["calculated_attributes"]!.AsArray();
        var counted = calculated.Single(c => c!["id"]!.GetValue<int>() == attributeId)!;
        (counted["status"]!.GetValue<string>(), counted["value"]!["text"]!.GetValue<string>()).ShouldBe(("ready", "2"));
        calculated.Single(c => c!["id"]!.GetValue<int>() == draft)!["status"]!.GetValue<string>().ShouldBe("draft");
        calculated.ShouldNotContain(c => c!["name"]!.GetValue<string>().StartsWith("audience")); // hidden counters stay hidden
        var consent = workspace["consent"]!["gdpr"]!.AsArray().Single()!;
        (consent["purpose"]!.GetValue<string>(), consent["consented"]!.GetValue<bool>(), consent["document"]!.GetValue<string>()).ShouldBe(("marketing", true, "privacy-v2"));
        workspace["devices"]!.AsArray().Single()!["platform"]!.GetValue<string>().ShouldBe("iOS");
        person["limit_ad_tracking"]!.GetValue<bool>().ShouldBeTrue();
        person["audiences"]!.AsArray().Single()!["id"]!.GetValue<int>().ShouldBe(audience);

        using var unknown = await browser.GetAsync("/ui/api/people/12345678987654321");
        unknown.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        using var notAnMpid = await browser.GetAsync("/ui/api/people/not-a-number");
        notAnMpid.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task the_timeline_is_newest_first_paged_and_filtered_by_type_name_and_date_and_the_chart_counts_days()
    {
        var run = Guid.NewGuid().ToString("N")[..10];
        var customer = $"timeline-{run}";
        var today = DateTimeOffset.UtcNow;
        var day = new DateTimeOffset(today.Year, today.Month, today.Day, 12, 0, 0, TimeSpan.Zero);
        await app.Ingested($$"""
            { "environment": "development", "user_identities": { "customer_id": "{{customer}}" },
              "events": [ {{Event("custom_event", "Signed Up", day.AddDays(-3))}}, {{Event("screen_view", "Home", day.AddDays(-3).AddHours(1))}},
                          {{Event("custom_event", "Viewed Pricing", day.AddDays(-1))}}, {{Event("screen_view", "Pricing", day.AddDays(-1).AddHours(1))}},
                          {{Event("custom_event", "Bought 100% more", day.AddHours(-1))}} ] }
            """);
        var mpid = await MpidOf(customer);
        using var browser = await app.SignedIn();
        async Task<JsonObject> Page(string query = "") => await browser.UiJson($"/ui/api/people/{mpid}/events?{query}");

        var all = await Page();
        all["total"]!.GetValue<int>().ShouldBe(5);
        all["events"]!.AsArray().Select(e => e!["name"]!.GetValue<string>()).ShouldBe(["Bought 100% more", "Pricing", "Viewed Pricing", "Home", "Signed Up"]);
        all["event_types"]!.AsArray().Select(t => t!.GetValue<string>()).ShouldBe(["custom_event", "screen_view"]);
        var first = all["events"]![0]!;
        first["input"]!.GetValue<string>().ShouldBe("demo-server");
        var json = JsonNode.Parse(first["json"]!.GetValue<string>())!;
        json["event"]!["data"]!["event_name"]!.GetValue<string>().ShouldBe("Bought 100% more");
        json["batch"]!["user_identities"]!["customer_id"]!.GetValue<string>().ShouldBe(customer);

        (await Page("size=2&page=2"))["events"]!.AsArray().Select(e => e!["name"]!.GetValue<string>()).ShouldBe(["Viewed Pricing", "Home"]);
        (await Page("type=screen_view"))["events"]!.AsArray().Select(e => e!["name"]!.GetValue<string>()).ShouldBe(["Pricing", "Home"]);
        (await Page("name=pricing"))["events"]!.AsArray().Select(e => e!["name"]!.GetValue<string>()).ShouldBe(["Pricing", "Viewed Pricing"]);
        (await Page("name=100%25"))["events"]!.AsArray().Select(e => e!["name"]!.GetValue<string>()).ShouldBe(["Bought 100% more"]);
        var yesterday = day.AddDays(-1).ToString("yyyy-MM-dd");
        (await Page($"from={yesterday}&to={yesterday}"))["total"]!.GetValue<int>().ShouldBe(2);
        (await Page($"from={yesterday}&type=custom_event"))["events"]!.AsArray().Select(e => e!["name"]!.GetValue<string>()).ShouldBe(["Bought 100% more", "Viewed Pricing"]);

        var chart = await browser.UiJson($"/ui/api/people/{mpid}/activity");
        chart["total"]!.GetValue<int>().ShouldBe(5);
        chart["days"]!.AsArray().Select(d => $"{d!["date"]}:{d["count"]}")
            .ShouldBe([$"{day.AddDays(-3):yyyy-MM-dd}:2", $"{yesterday}:2", $"{day:yyyy-MM-dd}:1"]);
        chart["to"]!.GetValue<string>().ShouldBe(today.ToString("yyyy-MM-dd"));

        // A batch through another input: the input filter and the workspace's inputs.
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{Event("custom_event", "From second", day)}} ] }""",
            key: AppFixture.SecondKey, secret: AppFixture.SecondSecret);
        var second = await Page("input=second-server");
        second["events"]!.AsArray().Select(e => e!["name"]!.GetValue<string>()).ShouldBe(["From second"]);
        second["inputs"]!.AsArray().Select(i => i!.GetValue<string>()).ShouldBe(["demo-server", "second-server"]);
        (await Page("input=demo-server"))["total"]!.GetValue<int>().ShouldBe(5);
        (await browser.UiJson($"/ui/api/people/{mpid}"))["workspaces"]![0]!["inputs"]!.AsArray().Select(i => i!.GetValue<string>()).ShouldBe(["demo-server", "second-server"]);

        foreach (var (query, field) in new[] { ("page=0", "page"), ("size=500", "size"), ("from=2026-02-30", "from"), ("to=yesterday", "to"), ($"from={yesterday}&to={day.AddDays(-3):yyyy-MM-dd}", "from") })
        {
            using var bad = await browser.GetAsync($"/ui/api/people/{mpid}/events?{query}");
            bad.StatusCode.ShouldBe(HttpStatusCode.BadRequest, query);
            (await bad.Errors()).Single().Field.ShouldBe(field, query);
        }
    }

    [Fact]
    public async Task an_erased_person_is_found_as_erased_and_shows_no_data()
    {
        var email = $"erase-me-{Guid.NewGuid():N}@example.org";
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "email": "{{email}}" }, "user_attributes": { "plan": "pro" }, "events": [] }""");
        var requestId = Guid.NewGuid().ToString();
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v3/requests"))
        {
            request.Content = new StringContent($$"""
                { "regulation": "gdpr", "subject_request_id": "{{requestId}}", "subject_request_type": "erasure", "submitted_time": "2026-11-01T10:00:00Z",
                  "subject_identities": { "email": { "value": "{{email}}", "encoding": "raw" } }, "api_version": "3.0",
                  "extensions": { "opendsr.mparticle.com": { "skip_waiting_period": true } } }
                """, Encoding.UTF8, "application/json");
            request.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
            using var created = await app.Client.SendAsync(request);
            created.StatusCode.ShouldBe(HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        }
        using var browser = await app.SignedIn();
        await Waiting.Until(async () =>
        {
            await Task.Delay(200);
            var results = (await browser.UiJson($"/ui/api/search?q={Uri.EscapeDataString(email)}"))["results"]!.AsArray();
            return results.Count == 1 && results[0]!["status"]!.GetValue<string>() == "erased";
        }, "the person to show as erased", 60);
        var hit = (await browser.UiJson($"/ui/api/search?q={Uri.EscapeDataString(email)}&type=email"))["results"]!.AsArray().Single()!;
        hit["erasure_request"]!.GetValue<string>().ShouldBe(requestId);
        hit["mpid"].ShouldBeNull();
        hit.ToJsonString().ShouldNotContain("pro");
    }

    [Fact]
    public async Task a_privacy_request_started_from_the_profile_page_is_a_data_subject_request_for_that_person()
    {
        var customer = Api.NewId("dsr-ui");
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "plan": "pro" }, "events": [] }""");
        var mpid = await MpidOf(customer);
        using var browser = await app.SignedIn();
        async Task<(HttpStatusCode Status, JsonNode? Body)> Submit(object body)
        {
            using var response = await browser.PostAsync($"/ui/api/people/{mpid}/requests",
                new StringContent(System.Text.Json.JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"));
            return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync()));
        }

        var bad = await Submit(new { workspace_id = 2, regulation = "lgpd", type = "forget" });
        bad.Status.ShouldBe(HttpStatusCode.BadRequest);
        bad.Body!["errors"]!.AsArray().Select(e => e!["field"]!.GetValue<string>()).ShouldBe(["workspace_id", "regulation", "type"]);

        var created = await Submit(new { workspace_id = 1, regulation = "gdpr", type = "erasure" });
        created.Status.ShouldBe(HttpStatusCode.Created, created.Body?.ToJsonString());
        created.Body!["status"]!.GetValue<string>().ShouldBe("pending");
        var id = created.Body["subject_request_id"]!.GetValue<string>();
        (await Submit(new { workspace_id = 1, regulation = "gdpr", type = "erasure" })).Status.ShouldBe(HttpStatusCode.Conflict);

        var listed = JsonNode.Parse(await browser.GetStringAsync($"/ui/api/people/{mpid}/requests"))!.AsArray();
        listed.Single()!["subject_request_id"]!.GetValue<string>().ShouldBe(id);
        // It is an OpenDSR request like any other: the workspace's credentials see it and may cancel it in its waiting period.
        using (var status = new HttpRequestMessage(HttpMethod.Get, $"/v3/requests/{id}"))
        {
            status.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
            using var response = await app.Client.SendAsync(status);
            response.StatusCode.ShouldBe(HttpStatusCode.OK);
        }
        using (var cancel = new HttpRequestMessage(HttpMethod.Delete, $"/v3/requests/{id}"))
        {
            cancel.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
            using var response = await app.Client.SendAsync(cancel);
            response.IsSuccessStatusCode.ShouldBeTrue();
        }

        using var support = await app.SignedIn(AppFixture.SupportUser, AppFixture.SupportPassword);
        using var refused = await support.PostAsync($"/ui/api/people/{mpid}/requests",
            new StringContent("""{ "workspace_id": 1, "regulation": "gdpr", "type": "access" }""", Encoding.UTF8, "application/json"));
        refused.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }
}
