using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Commands.Audiences;
using EventProfiles.Integration.Tests.Fixtures;
using Marten;
using Microsoft.Extensions.DependencyInjection;

namespace EventProfiles.Integration.Tests.Audiences;

/// <summary>
/// The console's Audiences API (<c>/ui/api/audiences…</c>, issue 19 §2): a session is required, a workspace-limited admin
/// sees and changes only audiences of their workspaces, the size estimate counts without touching memberships, and the
/// members download is a CSV of the current members.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class AudienceConsoleTests(AppFixture app) : WithReceiver(app)
{
    private static string Viewed(string s, DateTimeOffset at) =>
        $$"""{ "event_type": "custom_event", "data": { "event_name": "Viewed Pricing {{s}}", "custom_event_type": "navigation", "timestamp_unixtime_ms": {{at.ToUnixTimeMilliseconds()}} } }""";

    /// <summary>"Viewed Pricing at least twice in 7 days and plan is pro", as the builder sends it.</summary>
    private static object Definition(string s, int workspace = 1, string type = "real_time", object? dateRange = null) => new
    {
        name = $"Pricing-curious pros {s}", workspaces = new[] { workspace }, audience_type = type, date_range = dateRange,
        criteria = new object[]
        {
            new { kind = "event", event_type = "custom_event", event_name = $"Viewed Pricing {s}", frequency = new { @operator = "greater_or_equal", count = 2 },
                recency = type == "standard" ? null : new { within_days = 7 } },
            new { join = "and", kind = "user_attribute", attribute_name = "plan", type = "string", @operator = "equals", value = "pro" },
        },
    };

    /// <summary>Ana (pro, 2 views: in), Bo (free, 3 views: out), Cy (pro, 1 view: out); answers Ana's customer id.</summary>
    private async Task<string> ThreePeopleAsync(string s)
    {
        var now = DateTimeOffset.UtcNow;
        async Task Person(string who, string plan, int views)
        {
            var events = string.Join(", ", Enumerable.Range(0, views).Select(i => Viewed(s, now.AddDays(-i - 1))));
            await App.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{who}}-{{s}}", "email": "{{who}}-{{s}}@example.org" }, "user_attributes": { "plan": "{{plan}}" }, "events": [ {{events}} ] }""");
        }
        await Person("ana", "pro", 2);
        await Person("bo", "free", 3);
        await Person("cy", "pro", 1);
        return $"ana-{s}";
    }

    private static async Task<JsonObject> Json(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(expected, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    private static async Task<JsonObject> FinishedEstimate(HttpClient browser, object definition)
    {
        using var started = await browser.PostAsJsonAsync("/ui/api/audiences/estimates", definition);
        var id = (await Json(started, HttpStatusCode.Accepted))["id"]!.GetValue<string>();
        JsonObject? estimate = null;
        await Waiting.Until(async () => (estimate = await browser.UiJson($"/ui/api/audiences/estimates/{id}"))["status"]!.GetValue<string>() == "finished", "the estimate", 60);
        return estimate!;
    }

    [Fact]
    public async Task console_audience_calls_need_a_signed_in_session()
    {
        using var anonymous = App.Browser();
        foreach (var path in new[] { "/ui/api/audiences", "/ui/api/audiences/builder", "/ui/api/audiences/1", "/ui/api/audiences/1/members.csv",
                     "/ui/api/audiences/1/explain/1", $"/ui/api/audiences/estimates/{Guid.NewGuid()}" })
        {
            using var response = await anonymous.GetAsync(path);
            response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized, path);
        }
        foreach (var path in new[] { "/ui/api/audiences", "/ui/api/audiences/estimates", "/ui/api/audiences/1/activation", "/ui/api/audiences/1/connections" })
        {
            using var response = await anonymous.PostAsJsonAsync(path, new { });
            response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized, path);
        }
        // The admin API's Basic credentials do not open the console's data either.
        using var basic = App.AdminClient();
        using (var response = await basic.GetAsync("/ui/api/audiences")) response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task the_estimate_counts_who_the_definition_would_hold_and_stores_no_membership()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        await ThreePeopleAsync(s);
        using var browser = await App.SignedIn();

        var realTime = await FinishedEstimate(browser, Definition(s));
        realTime["size"]!.GetValue<long>().ShouldBe(1);
        realTime["people_total"]!.GetValue<long>().ShouldBeGreaterThanOrEqualTo(3);
        realTime["percent"]!.GetValue<double>().ShouldBe(100);
        realTime["range"]!["event_data_days"]!.GetValue<int>().ShouldBe(30);

        // A standard audience over a date range that holds none of the views: nobody.
        var longAgo = DateTime.UtcNow.AddDays(-200);
        var standard = await FinishedEstimate(browser, Definition(s, type: "standard", dateRange: new { from = $"{longAgo:yyyy-MM-dd}", to = $"{longAgo.AddDays(10):yyyy-MM-dd}" }));
        standard["size"]!.GetValue<long>().ShouldBe(0);
        var everything = await FinishedEstimate(browser, Definition(s, type: "standard"));
        everything["size"]!.GetValue<long>().ShouldBe(1);

        // Nothing but the estimates was written: no member, no change record, no audience.
        await using var session = App.Services.GetRequiredService<IDocumentStore>().QuerySession();
        (await session.Query<AudienceMember>().CountAsync(m => m.AudienceId == 0)).ShouldBe(0);
        (await session.Query<MembershipChangeRecord>().CountAsync(r => r.AudienceId == 0)).ShouldBe(0);
        (await browser.UiJson("/ui/api/audiences"))["audiences"]!.AsArray().ShouldNotContain(a => a!["name"]!.GetValue<string>().EndsWith(s));
    }

    [Fact]
    public async Task invalid_definitions_are_refused_field_by_field_and_nothing_is_stored()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        using var browser = await App.SignedIn();
        using var bad = await browser.PostAsJsonAsync("/ui/api/audiences", new
        {
            name = $"bad {s}", workspaces = new[] { 1 },
            criteria = new object[] { new { kind = "user_attribute", attribute_name = "age", type = "number", @operator = "contains", value = "3" } },
        });
        bad.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await bad.Errors()).ShouldContain(e => e.Field == "criteria[0].operator");
        using var badEstimate = await browser.PostAsJsonAsync("/ui/api/audiences/estimates", new
        {
            workspaces = new[] { 1 }, criteria = new object[] { new { kind = "event", event_type = "custom_event", event_name = "X", recency = new { within_days = 31 } } },
        });
        badEstimate.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await badEstimate.Errors()).ShouldContain(e => e.Field == "criteria[0].recency");
        (await browser.UiJson("/ui/api/audiences"))["audiences"]!.AsArray().ShouldNotContain(a => a!["name"]!.GetValue<string>() == $"bad {s}");
    }

    [Fact]
    public async Task a_workspace_limited_admin_sees_and_changes_only_audiences_of_their_workspaces()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        using var admin = await App.SignedIn();
        using var created = await admin.PostAsJsonAsync("/ui/api/audiences", Definition(s));
        var id = (await Json(created, HttpStatusCode.OK))["id"]!.GetValue<int>();
        using var started = await admin.PostAsJsonAsync("/ui/api/audiences/estimates", Definition(s));
        var estimate = (await Json(started, HttpStatusCode.Accepted))["id"]!.GetValue<string>();

        using var support = await App.SignedIn(AppFixture.SupportUser, AppFixture.SupportPassword); // workspace 2 only
        (await support.UiJson("/ui/api/audiences"))["audiences"]!.AsArray().ShouldNotContain(a => a!["id"]!.GetValue<int>() == id);
        (await support.UiJson("/ui/api/audiences/builder"))["workspaces"]!.AsArray().Select(w => w!["id"]!.GetValue<int>()).ShouldBe([2]);
        foreach (var path in new[] { $"/ui/api/audiences/{id}", $"/ui/api/audiences/{id}/members.csv", $"/ui/api/audiences/{id}/explain/1", $"/ui/api/audiences/estimates/{estimate}" })
        {
            using var response = await support.GetAsync(path);
            response.StatusCode.ShouldBe(HttpStatusCode.NotFound, path);
        }
        foreach (var path in new[] { $"/ui/api/audiences/{id}/activation", $"/ui/api/audiences/{id}/deactivation" })
        {
            using var response = await support.PostAsync(path, null);
            response.StatusCode.ShouldBe(HttpStatusCode.NotFound, path);
        }
        using (var create = await support.PostAsJsonAsync("/ui/api/audiences", Definition(s + "x")))
        {
            create.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            (await create.Errors()).ShouldContain(e => e.Field == "workspaces" && e.Message.Contains("workspace 1"));
        }
        using (var estimateOther = await support.PostAsJsonAsync("/ui/api/audiences/estimates", Definition(s)))
            estimateOther.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await admin.UiJson($"/ui/api/audiences/{id}"))["audience"]!["status"]!.GetValue<string>().ShouldBe("draft");
    }

    [Fact]
    public async Task an_audience_built_in_the_console_is_activated_connected_explained_and_its_members_download_as_csv()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var ana = await ThreePeopleAsync(s);
        await NewOutputAsync();
        using var browser = await App.SignedIn();
        using var created = await browser.PostAsJsonAsync("/ui/api/audiences", Definition(s));
        var id = (await Json(created, HttpStatusCode.OK))["id"]!.GetValue<int>();
        using (var activated = await browser.PostAsync($"/ui/api/audiences/{id}/activation", null)) activated.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        // Active once everyone is evaluated; a verdict the projection reached itself (Ana's events came after the
        // activation) is listed once the membership handler has recorded it.
        await Waiting.Until(async () => (await browser.UiJson($"/ui/api/audiences/{id}"))["audience"] is { } a
            && a["status"]!.GetValue<string>() == "active" && a["size"]!.GetValue<long>() == 1, "the evaluation of everyone, Ana a member", 60);

        var page = await browser.UiJson($"/ui/api/audiences/{id}");
        page["available_outputs"]!.AsArray().ShouldContain(o => o!["id"]!.GetValue<string>() == OutputId);
        using (var connected = await browser.PostAsJsonAsync($"/ui/api/audiences/{id}/connections", new { output_id = OutputId }))
            connected.StatusCode.ShouldBe(HttpStatusCode.Created, await connected.Content.ReadAsStringAsync());
        page = await browser.UiJson($"/ui/api/audiences/{id}");
        page["connections"]!.AsArray().ShouldHaveSingleItem()!["output_id"]!.GetValue<string>().ShouldBe(OutputId);
        page["available_outputs"]!.AsArray().ShouldNotContain(o => o!["id"]!.GetValue<string>() == OutputId);

        // Someone who qualifies now: the add message reaches the connected output.
        var dee = $"dee-{s}";
        await App.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{dee}}" }, "user_attributes": { "plan": "pro" }, "events": [ {{Viewed(s, DateTimeOffset.UtcNow.AddHours(-2))}}, {{Viewed(s, DateTimeOffset.UtcNow.AddHours(-1))}} ] }""");
        var deeMpid = (await App.ProfileOf(dee))["mpid"]!.GetValue<long>();
        await Waiting.Until(() => Task.FromResult(Receiver.AudienceActions(id, deeMpid).Contains("add")), "the add message for Dee", 60);

        var anaMpid = (await App.ProfileOf(ana))["mpid"]!.GetValue<long>();
        var why = await browser.UiJson($"/ui/api/audiences/{id}/explain/{anaMpid}");
        why["is_member_now"]!.GetValue<bool>().ShouldBeTrue();
        why["criteria"]!.AsArray().Select(c => c!["holds"]!.GetValue<bool>()).ShouldBe([true, true]);
        var bo = (await App.ProfileOf($"bo-{s}"))["mpid"]!.GetValue<long>();
        var whyNot = await browser.UiJson($"/ui/api/audiences/{id}/explain/{bo}");
        whyNot["is_member_now"]!.GetValue<bool>().ShouldBeFalse();
        whyNot["criteria"]![1]!["holds"]!.GetValue<bool>().ShouldBeFalse();
        using (var notAnMpid = await browser.GetAsync($"/ui/api/audiences/{id}/explain/ana")) notAnMpid.StatusCode.ShouldBe(HttpStatusCode.BadRequest);

        await Waiting.Until(async () => (await browser.UiJson($"/ui/api/audiences/{id}"))["audience"]!["size"]!.GetValue<long>() == 2, "Dee to be a member", 60);
        using var csv = await browser.GetAsync($"/ui/api/audiences/{id}/members.csv");
        csv.StatusCode.ShouldBe(HttpStatusCode.OK);
        csv.Content.Headers.ContentType!.MediaType.ShouldBe("text/csv");
        csv.Content.Headers.ContentDisposition!.FileName!.Trim('"').ShouldBe($"audience-{id}-members.csv");
        var lines = (await csv.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        lines[0].ShouldBe("mpid,member_since,customer_id,email");
        lines.Skip(1).Select(l => long.Parse(l.Split(',')[0])).ShouldBe(new[] { anaMpid, deeMpid }.Order()); // by MPID, the order pages are read in
        lines.ShouldContain(l => l.StartsWith($"{anaMpid},") && l.EndsWith($",{ana},{ana}@example.org"));

        using (var disconnected = await browser.DeleteAsync($"/ui/api/audiences/{id}/connections/{page["connections"]![0]!["id"]!.GetValue<string>()}"))
            disconnected.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await browser.UiJson($"/ui/api/audiences/{id}"))["connections"]!.AsArray().ShouldBeEmpty();
    }

    [Fact]
    public async Task a_standard_audience_built_in_the_console_is_calculated_with_progress_and_sent_again()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        await ThreePeopleAsync(s);
        await NewOutputAsync();
        using var browser = await App.SignedIn();
        using var created = await browser.PostAsJsonAsync("/ui/api/audiences", Definition(s, type: "standard"));
        var id = (await Json(created, HttpStatusCode.OK))["id"]!.GetValue<int>();
        using (var early = await browser.PostAsync($"/ui/api/audiences/{id}/send", null)) early.StatusCode.ShouldBe(HttpStatusCode.Conflict); // not calculated yet
        using (var connected = await browser.PostAsJsonAsync($"/ui/api/audiences/{id}/connections", new { output_id = OutputId }))
            connected.StatusCode.ShouldBe(HttpStatusCode.Created);
        using (var activated = await browser.PostAsync($"/ui/api/audiences/{id}/activation", null)) activated.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        await Waiting.Until(async () => (await browser.UiJson($"/ui/api/audiences/{id}"))["audience"]!["status"]!.GetValue<string>() == "ready", "the calculation", 60);
        var audience = (await browser.UiJson($"/ui/api/audiences/{id}"))["audience"]!;
        audience["size"]!.GetValue<long>().ShouldBe(1);
        audience["calculation"]!["percent"]!.GetValue<double>().ShouldBe(100);

        var ana = (await App.ProfileOf($"ana-{s}"))["mpid"]!.GetValue<long>();
        await Waiting.Until(() => Task.FromResult(Receiver.AudienceActions(id, ana).Count == 1), "the calculation's send", 60);
        using (var sent = await browser.PostAsync($"/ui/api/audiences/{id}/send", null)) sent.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        await Waiting.Until(() => Task.FromResult(Receiver.AudienceActions(id, ana).Count == 2), "the second send", 60);
    }

    [Fact]
    public void csv_values_are_quoted_and_never_run_as_formulas()
    {
        ConsoleAudienceMembersEndpoint.Csv("a,b").ShouldBe("\"a,b\"");
        ConsoleAudienceMembersEndpoint.Csv("say \"hi\"").ShouldBe("\"say \"\"hi\"\"\"");
        ConsoleAudienceMembersEndpoint.Csv("=HYPERLINK(1)").ShouldBe("'=HYPERLINK(1)");
        ConsoleAudienceMembersEndpoint.Csv(null).ShouldBe("");
    }
}
