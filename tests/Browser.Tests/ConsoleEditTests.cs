using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace EventProfiles.Browser.Tests;

/// <summary>
/// Editing in Debian's Chromium (issue 19 §2): an active audience opens in the builder with its criteria filled in, and
/// saving a changed criterion makes a new version whose removal and addition reach a real webhook receiver; an active
/// calculated attribute opens in its builder with its definition, and "Save and recalculate" brings it back to ready.
/// </summary>
[Collection(BrowserCollection.Name)]
public class ConsoleEditTests(BrowserFixture host)
{
    [Fact]
    public async Task an_analyst_edits_an_active_audience_and_an_active_calculated_attribute_in_their_builders()
    {
        SetDefaultExpectTimeout(60_000);
        var run = Guid.NewGuid().ToString("N")[..8];
        var viewed = $"Viewed Plans {run}";
        var name = $"Plan viewers {run}";
        var ana = await host.PersonAsync($"ana-{run}", "pro", viewed, 2);
        var bo = await host.PersonAsync($"bo-{run}", "free", viewed, 3);
        await using var receiver = await Receiver.StartAsync();
        var outputId = await host.CreateOutputAsync(receiver.Url, $"Receiver {run}");

        await using var console = await host.SignedInAsync("/ui/audiences");
        var page = console.Page;
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Audiences", Exact = true })).ToBeVisibleAsync();

        // Given an active audience connected to the receiver ("viewed Plans at least twice in 7 days and plan is pro": Ana).
        var audienceId = (await Send(page, "POST", "/ui/api/audiences", new
        {
            name, workspaces = new[] { 1 }, audience_type = "real_time",
            criteria = new object[]
            {
                new { kind = "event", event_type = "custom_event", event_name = viewed, frequency = new { @operator = "greater_or_equal", count = 2 }, recency = new { within_days = 7 } },
                new { join = "and", kind = "user_attribute", attribute_name = "plan", type = "string", @operator = "equals", value = "pro" },
            },
        }))!["id"]!.GetValue<int>();
        await Send(page, "POST", $"/ui/api/audiences/{audienceId}/connections", new { output_id = outputId });
        await Send(page, "POST", $"/ui/api/audiences/{audienceId}/activation", null);
        await Waiting.Until(() => Task.FromResult(receiver.AudienceActions(audienceId, long.Parse(ana)).Contains("add")), "Ana's add message", 60);

        // Opened in the builder with its definition filled in.
        await page.GotoAsync($"/ui/audiences/{audienceId}");
        var status = page.Locator(".person-head .badge");
        await Expect(status).ToHaveTextAsync("active");
        await page.GetByRole(AriaRole.Link, new() { Name = "Edit", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = $"Edit “{name}”" })).ToBeVisibleAsync();
        await Expect(page.GetByLabel("Name", new() { Exact = true })).ToHaveValueAsync(name);
        await Expect(page.GetByLabel("Type", new() { Exact = true })).ToBeDisabledAsync();
        var first = page.GetByRole(AriaRole.Group, new() { Name = "Criterion 1" });
        await Expect(first.GetByLabel("Event name", new() { Exact = true })).ToHaveValueAsync(viewed);
        await Expect(first.GetByLabel("How often", new() { Exact = true })).ToHaveValueAsync("greater_or_equal");
        await Expect(first.GetByLabel("Times", new() { Exact = true })).ToHaveValueAsync("2");
        await Expect(first.GetByLabel("Days", new() { Exact = true })).ToHaveValueAsync("7");
        var second = page.GetByRole(AriaRole.Group, new() { Name = "Criterion 2" });
        await Expect(second.GetByLabel("Kind", new() { Exact = true })).ToHaveValueAsync("user_attribute");
        await Expect(second.GetByLabel("Attribute name", new() { Exact = true })).ToHaveValueAsync("plan");
        await Expect(second.GetByLabel("Value", new() { Exact = true })).ToHaveValueAsync("pro");
        await Expect(page.GetByText("This audience is active: saving changed criteria")).ToBeVisibleAsync();

        // A new version: plan is free. Ana leaves (delete message), Bo joins (add message).
        await second.GetByLabel("Value", new() { Exact = true }).FillAsync("free");
        await console.EveryControlIsLabelledAsync();
        await console.ScreenshotAsync("console-audiences-4-edit");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save as a new version" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = name, Exact = true })).ToBeVisibleAsync();
        await Expect(page.GetByText("plan equals free")).ToBeVisibleAsync();
        await Waiting.Until(() => Task.FromResult(receiver.AudienceActions(audienceId, long.Parse(ana)).Contains("delete")
            && receiver.AudienceActions(audienceId, long.Parse(bo)).Contains("add")), "Ana's removal and Bo's addition", 60);
        await page.ReloadAsync();
        await Expect(status).ToHaveTextAsync("active");
        await Expect(page.GetByText("1 person")).ToBeVisibleAsync();
        await Expect(page.GetByText("criteria changed (a new version: everyone evaluated again)")).ToBeVisibleAsync();
        await console.ScreenshotAsync("console-audiences-5-edited");

        // An active calculated attribute: opened with its definition, saved with a new window, calculated again.
        var attributeId = (await Send(page, "POST", "/ui/api/calculated-attributes", new
        {
            workspace_id = 1, name = $"edited_views_{run}", description = "views of the page",
            draft_definition = new
            {
                recipe_type = "event", data_point = new { type = "event", event_type = "custom_event", event_name = viewed },
                conditions = Array.Empty<object>(), calculation_type = "count", time_period = new { type = "within", within = 30, within_unit = "days" },
            },
        }))!.GetValue<int>();
        await Send(page, "POST", $"/ui/api/calculated-attributes/{attributeId}/activation", null);
        await page.GotoAsync($"/ui/calculated-attributes/{attributeId}");
        await Expect(status).ToHaveTextAsync("ready");
        await page.GetByRole(AriaRole.Link, new() { Name = "Edit", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = $"Edit “edited_views_{run}”" })).ToBeVisibleAsync();
        await Expect(page.GetByLabel("Name", new() { Exact = true })).ToBeDisabledAsync(); // frozen once activated
        await Expect(page.GetByLabel("Event name", new() { Exact = true })).ToHaveValueAsync(viewed);
        await Expect(page.GetByLabel("Calculation", new() { Exact = true })).ToHaveValueAsync("count");
        await Expect(page.GetByLabel("Length", new() { Exact = true })).ToHaveValueAsync("30");
        await page.GetByLabel("Length", new() { Exact = true }).FillAsync("7");
        await page.GetByLabel("Description", new() { Exact = true }).FillAsync("views of the page, last week");
        await console.EveryControlIsLabelledAsync();
        await console.ScreenshotAsync("console-calculated-attributes-4-edit");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save and recalculate" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = $"edited_views_{run}", Exact = true })).ToBeVisibleAsync();
        await Expect(page.GetByText("within the last 7 days")).ToBeVisibleAsync();
        await Expect(page.GetByText("views of the page, last week")).ToBeVisibleAsync();
        await Expect(status).ToHaveTextAsync("ready");
        // Not left active: an active attribute shows on every profile of the workspace the other browser tests read.
        await page.GetByRole(AriaRole.Button, new() { Name = "Deactivate", Exact = true }).ClickAsync();
        await Expect(status).ToHaveTextAsync("inactive");

        console.Errors.ShouldBeEmpty();
    }

    /// <summary>A call from the signed-in page itself (its session cookie), as the console's own scripts make it.</summary>
    private static async Task<JsonNode?> Send(IPage page, string method, string path, object? body)
    {
        var answer = await page.EvaluateAsync<System.Text.Json.JsonElement>("""
            async ([method, path, body]) => {
              const response = await fetch(path, { method, credentials: 'same-origin',
                headers: body === null ? {} : { 'content-type': 'application/json' }, body: body === null ? undefined : JSON.stringify(body) });
              return { status: response.status, text: await response.text() };
            }
            """, new object?[] { method, path, body });
        var text = answer.GetProperty("text").GetString()!;
        answer.GetProperty("status").GetInt32().ShouldBeInRange(200, 299, text);
        return text.Length == 0 ? null : JsonNode.Parse(text);
    }
}
