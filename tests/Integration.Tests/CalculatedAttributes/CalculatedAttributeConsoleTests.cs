using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.CalculatedAttributes;

/// <summary>
/// The console's Calculated attributes API (<c>/ui/api/calculated-attributes…</c>, issue 19 §2): built, activated and
/// ready through the session; the distribution of current values; a workspace-limited admin is kept to their workspaces.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class CalculatedAttributeConsoleTests(AppFixture app)
{
    private static object Body(string name, string eventName, int workspace = 1, string type = "count") => new
    {
        workspace_id = workspace, name, description = "built in the console",
        draft_definition = new
        {
            recipe_type = "event", data_point = new { type = "event", event_type = "custom_event", event_name = eventName },
            conditions = Array.Empty<object>(), calculation_type = type, time_period = new { type = "within", within = 30, within_unit = "days" },
        },
    };

    [Fact]
    public async Task a_calculated_attribute_built_in_the_console_reaches_ready_and_shows_how_its_values_spread()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var now = DateTimeOffset.UtcNow;
        foreach (var (who, views) in new[] { ("one", 1), ("two", 2), ("also-two", 2) })
        {
            var events = string.Join(", ", Enumerable.Range(0, views).Select(i =>
                $$"""{ "event_type": "custom_event", "data": { "event_name": "Console view {{s}}", "custom_event_type": "other", "timestamp_unixtime_ms": {{now.AddHours(-i - 1).ToUnixTimeMilliseconds()}} } }"""));
            await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{who}}-{{s}}" }, "events": [ {{events}} ] }""");
        }
        using var browser = await app.SignedIn();
        using var created = await browser.PostAsJsonAsync("/ui/api/calculated-attributes", Body($"Console views {s}", $"Console view {s}"));
        var text = await created.Content.ReadAsStringAsync();
        created.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        var id = int.Parse(text);

        var draft = await browser.UiJson($"/ui/api/calculated-attributes/{id}");
        draft["attribute"]!["status"]!.GetValue<string>().ShouldBe("draft");
        draft["attribute"]!["calculation_mode"]!.GetValue<string>().ShouldBe("sync");
        draft["workspace"]!["name"]!.GetValue<string>().ShouldBe("Demo");
        draft["seeding"]!["accepting_seeds"]!.GetValue<bool>().ShouldBeFalse();
        (await browser.UiJson($"/ui/api/calculated-attributes/{id}/distribution"))["distribution"]!["buckets"]!.AsArray().ShouldBeEmpty();

        using (var activated = await browser.PostAsync($"/ui/api/calculated-attributes/{id}/activation", null))
            activated.StatusCode.ShouldBe(HttpStatusCode.NoContent, await activated.Content.ReadAsStringAsync());
        await Waiting.Until(async () => (await browser.UiJson($"/ui/api/calculated-attributes/{id}"))["attribute"]!["status"]!.GetValue<string>() == "ready", "ready", 60);
        (await browser.UiJson("/ui/api/calculated-attributes"))["attributes"]!.AsArray()
            .ShouldContain(a => a!["attribute"]!["id"]!.GetValue<int>() == id && a["attribute"]!["initialization"]!["percent"]!.GetValue<double>() == 100);

        JsonObject? spread = null;
        await Waiting.Until(async () => (spread = await browser.UiJson($"/ui/api/calculated-attributes/{id}/distribution"))["distribution"]!["people_with_value"]!.GetValue<long>() == 3,
            "the three people's values", 60);
        var distribution = spread!["distribution"]!;
        distribution["kind"]!.GetValue<string>().ShouldBe("histogram");
        distribution["buckets"]!.AsArray().Select(b => (b!["label"]!.GetValue<string>(), b["count"]!.GetValue<long>())).ShouldBe([("1", 1L), ("2", 2L)]);
        spread["limited"]!.GetValue<bool>().ShouldBeFalse();

        using (var deactivated = await browser.PostAsync($"/ui/api/calculated-attributes/{id}/deactivation", null)) deactivated.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await browser.UiJson($"/ui/api/calculated-attributes/{id}"))["attribute"]!["status"]!.GetValue<string>().ShouldBe("inactive");
    }

    [Fact]
    public async Task invalid_definitions_are_refused_with_the_field()
    {
        using var browser = await app.SignedIn();
        using (var noWorkspace = await browser.PostAsJsonAsync("/ui/api/calculated-attributes", new { name = "x" }))
        {
            noWorkspace.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            (await noWorkspace.Errors()).ShouldContain(e => e.Field == "workspace_id");
        }
        using var badType = await browser.PostAsJsonAsync("/ui/api/calculated-attributes", Body(Api.NewId("bad"), "X", type: "median"));
        badType.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await badType.Errors()).ShouldContain(e => e.Field.EndsWith("calculation_type"));
    }

    [Fact]
    public async Task a_workspace_limited_admin_sees_and_changes_only_calculated_attributes_of_their_workspaces()
    {
        using var admin = await app.SignedIn();
        using var created = await admin.PostAsJsonAsync("/ui/api/calculated-attributes", Body(Api.NewId("ws1"), "X"));
        var id = int.Parse(await created.Content.ReadAsStringAsync());

        using var support = await app.SignedIn(AppFixture.SupportUser, AppFixture.SupportPassword); // workspace 2 only
        (await support.UiJson("/ui/api/calculated-attributes"))["attributes"]!.AsArray().ShouldNotContain(a => a!["attribute"]!["id"]!.GetValue<int>() == id);
        (await support.UiJson("/ui/api/calculated-attributes/builder"))["workspaces"]!.AsArray().Select(w => w!["id"]!.GetValue<int>()).ShouldBe([2]);
        foreach (var path in new[] { $"/ui/api/calculated-attributes/{id}", $"/ui/api/calculated-attributes/{id}/distribution" })
        {
            using var response = await support.GetAsync(path);
            response.StatusCode.ShouldBe(HttpStatusCode.NotFound, path);
        }
        using (var activate = await support.PostAsync($"/ui/api/calculated-attributes/{id}/activation", null)) activate.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        using (var other = await support.PostAsJsonAsync("/ui/api/calculated-attributes", Body(Api.NewId("not-mine"), "X")))
        {
            other.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
            (await other.Errors()).ShouldContain(e => e.Field == "workspace_id");
        }
        using (var mine = await support.PostAsJsonAsync("/ui/api/calculated-attributes", Body(Api.NewId("mine"), "X", workspace: 2)))
            mine.StatusCode.ShouldBe(HttpStatusCode.OK, await mine.Content.ReadAsStringAsync());
        (await admin.UiJson($"/ui/api/calculated-attributes/{id}"))["attribute"]!["status"]!.GetValue<string>().ShouldBe("draft");

        using var anonymous = app.Browser();
        using (var none = await anonymous.GetAsync("/ui/api/calculated-attributes")) none.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }
}
