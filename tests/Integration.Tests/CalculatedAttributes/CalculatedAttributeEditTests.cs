using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.CalculatedAttributes;

/// <summary>
/// Editing an existing calculated attribute from the console (<c>PUT /ui/api/calculated-attributes/{id}</c>, issue 19 §2,
/// spec §A1): the draft and description change freely, the name only until the first activation; an active attribute is
/// calculated again when its edited draft is activated, to the values a fresh attribute with that definition has.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class CalculatedAttributeEditTests(AppFixture app)
{
    private static object Body(string name, string eventName, string type = "count", int within = 30, int workspace = 1) => new
    {
        workspace_id = workspace, name, description = "built in the console",
        draft_definition = new
        {
            recipe_type = "event", data_point = new { type = "event", event_type = "custom_event", event_name = eventName },
            conditions = Array.Empty<object>(), calculation_type = type, time_period = new { type = "within", within, within_unit = "days" },
        },
    };

    private static async Task<int> CreatedAsync(HttpClient browser, object body)
    {
        using var created = await browser.PostAsJsonAsync("/ui/api/calculated-attributes", body);
        var text = await created.Content.ReadAsStringAsync();
        created.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return int.Parse(text);
    }

    private static async Task ReadyAsync(HttpClient browser, int id)
    {
        using (var activated = await browser.PostAsync($"/ui/api/calculated-attributes/{id}/activation", null))
            activated.StatusCode.ShouldBe(HttpStatusCode.NoContent, await activated.Content.ReadAsStringAsync());
        await Waiting.Until(async () => (await browser.UiJson($"/ui/api/calculated-attributes/{id}"))["attribute"]!["status"]!.GetValue<string>() == "ready", $"attribute {id} ready", 60);
    }

    [Fact]
    public async Task an_active_attribute_edited_and_activated_again_has_the_values_of_a_fresh_one_with_the_new_definition()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var now = DateTimeOffset.UtcNow;
        string Event(string name, DateTimeOffset at) =>
            $$"""{ "event_type": "custom_event", "data": { "event_name": "{{name}} {{s}}", "custom_event_type": "other", "timestamp_unixtime_ms": {{at.ToUnixTimeMilliseconds()}} } }""";
        // One: a view and two purchases; two: three views and no purchase.
        var people = new[] { ("one", 1, 2), ("two", 3, 0) };
        foreach (var (who, views, purchases) in people)
        {
            var events = Enumerable.Range(0, views).Select(i => Event("Edit view", now.AddDays(-i - 1).AddHours(-1)))
                .Concat(Enumerable.Range(0, purchases).Select(i => Event("Edit purchase", now.AddHours(-i - 1))));
            await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{who}}-{{s}}" }, "events": [ {{string.Join(", ", events)}} ] }""");
        }
        using var browser = await app.SignedIn();
        var id = await CreatedAsync(browser, Body($"edited_{s}", $"Edit view {s}"));
        await ReadyAsync(browser, id);
        await app.CatchUpDaemon();
        (await app.UserAttributesOf($"two-{s}"))[$"edited_{s}"]!.GetValue<string>().ShouldBe("3");

        // The new definition counts purchases instead of views.
        using (var saved = await browser.PutAsJsonAsync($"/ui/api/calculated-attributes/{id}", new
               {
                   description = "purchases",
                   draft_definition = new
                   {
                       recipe_type = "event", data_point = new { type = "event", event_type = "custom_event", event_name = $"Edit purchase {s}" },
                       conditions = Array.Empty<object>(), calculation_type = "count", time_period = new { type = "within", within = 30, within_unit = "days" },
                   },
               }))
            saved.StatusCode.ShouldBe(HttpStatusCode.NoContent, await saved.Content.ReadAsStringAsync());
        // Saved as the draft: the active definition keeps computing until the draft is activated.
        var draft = (await browser.UiJson($"/ui/api/calculated-attributes/{id}"))["attribute"]!;
        draft["draft_definition"]!["data_point"]!["event_name"]!.GetValue<string>().ShouldBe($"Edit purchase {s}");
        draft["active_definition"]!["data_point"]!["event_name"]!.GetValue<string>().ShouldBe($"Edit view {s}");
        draft["status"]!.GetValue<string>().ShouldBe("ready");
        draft["description"]!.GetValue<string>().ShouldBe("purchases");
        (await app.UserAttributesOf($"two-{s}"))[$"edited_{s}"]!.GetValue<string>().ShouldBe("3");
        await ReadyAsync(browser, id);

        var fresh = await CreatedAsync(browser, Body($"fresh_{s}", $"Edit purchase {s}"));
        await ReadyAsync(browser, fresh);
        await app.CatchUpDaemon();
        foreach (var (who, _, _) in people)
        {
            var attributes = await app.UserAttributesOf($"{who}-{s}");
            attributes[$"edited_{s}"]?.ToJsonString().ShouldBe(attributes[$"fresh_{s}"]?.ToJsonString(), who);
        }
        (await app.UserAttributesOf($"one-{s}"))[$"edited_{s}"]!.GetValue<string>().ShouldBe("2");
        var edited = (await browser.UiJson($"/ui/api/calculated-attributes/{id}"))["attribute"]!;
        edited["active_definition"]!["data_point"]!["event_name"]!.GetValue<string>().ShouldBe($"Edit purchase {s}");
        edited["last_modified_by"]!.GetValue<string>().ShouldBe("admin");
    }

    [Fact]
    public async Task a_draft_is_edited_freely_the_name_freezes_at_activation_and_bad_edits_are_refused_with_the_field()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        using var browser = await app.SignedIn();
        var id = await CreatedAsync(browser, Body($"draft_{s}", $"Draft view {s}"));

        using (var renamed = await browser.PutAsJsonAsync($"/ui/api/calculated-attributes/{id}", new { name = $"renamed_{s}" }))
            renamed.StatusCode.ShouldBe(HttpStatusCode.NoContent, await renamed.Content.ReadAsStringAsync());
        (await browser.UiJson($"/ui/api/calculated-attributes/{id}"))["attribute"]!["name"]!.GetValue<string>().ShouldBe($"renamed_{s}");

        using (var badType = await browser.PutAsJsonAsync($"/ui/api/calculated-attributes/{id}", Body($"renamed_{s}", "X", type: "median")))
        {
            badType.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            (await badType.Errors()).ShouldContain(e => e.Field.EndsWith("calculation_type"));
        }
        using (var otherWorkspace = await browser.PutAsJsonAsync($"/ui/api/calculated-attributes/{id}", Body($"renamed_{s}", $"Draft view {s}", workspace: 2)))
        {
            otherWorkspace.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            (await otherWorkspace.Errors()).ShouldContain(e => e.Field == "workspace_id");
        }
        (await browser.UiJson($"/ui/api/calculated-attributes/{id}"))["attribute"]!["draft_definition"]!["calculation_type"]!.GetValue<string>().ShouldBe("count");

        await ReadyAsync(browser, id);
        using (var frozen = await browser.PutAsJsonAsync($"/ui/api/calculated-attributes/{id}", new { name = $"again_{s}" }))
        {
            frozen.StatusCode.ShouldBe(HttpStatusCode.Conflict);
            (await frozen.Errors()).ShouldContain(e => e.Field == "name");
        }
        (await browser.UiJson($"/ui/api/calculated-attributes/{id}"))["attribute"]!["name"]!.GetValue<string>().ShouldBe($"renamed_{s}");
    }

    [Fact]
    public async Task only_an_admin_of_the_attributes_workspace_may_edit_it()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        using var admin = await app.SignedIn();
        var id = await CreatedAsync(admin, Body($"mine_{s}", $"Mine {s}"));

        using (var anonymous = app.Browser())
        using (var response = await anonymous.PutAsJsonAsync($"/ui/api/calculated-attributes/{id}", new { description = "x" }))
            response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        using var support = await app.SignedIn(AppFixture.SupportUser, AppFixture.SupportPassword); // workspace 2 only
        using (var response = await support.PutAsJsonAsync($"/ui/api/calculated-attributes/{id}", new { description = "taken over" }))
            response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        using (var response = await support.PutAsJsonAsync("/ui/api/calculated-attributes/999999999", new { description = "x" }))
            response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await admin.UiJson($"/ui/api/calculated-attributes/{id}"))["attribute"]!["description"]!.GetValue<string>().ShouldBe("built in the console");
    }
}
