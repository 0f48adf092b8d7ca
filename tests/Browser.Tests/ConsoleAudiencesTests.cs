using System.Text.RegularExpressions;
using EventProfiles.Integration.Tests.Fixtures;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace EventProfiles.Browser.Tests;

/// <summary>
/// The console's Audiences and Calculated attributes pages in Debian's Chromium (issue 19 §3): build "viewed Pricing at
/// least twice in 7 days and plan is pro" in the builder, see the estimate, activate it, connect a webhook receiver (a
/// real one on 127.0.0.1) and get the add message, ask why someone is (not) a member, follow a person's audience from
/// their profile; build a calculated attribute and watch it reach ready with its distribution. Screenshots of each page.
/// </summary>
[Collection(BrowserCollection.Name)]
public class ConsoleAudiencesTests(BrowserFixture host)
{
    [Fact]
    public async Task an_analyst_builds_estimates_activates_and_connects_an_audience_then_builds_a_calculated_attribute_that_reaches_ready()
    {
        SetDefaultExpectTimeout(60_000);
        var run = Guid.NewGuid().ToString("N")[..8];
        var viewed = $"Viewed Pricing {run}";
        var audience = $"Pricing-curious pros {run}";
        var ana = await host.PersonAsync($"ana-{run}", "pro", viewed, 2, email: $"ana-{run}@example.org");
        var bo = await host.PersonAsync($"bo-{run}", "free", viewed, 3, email: $"bo-{run}@example.org");
        await host.PersonAsync($"cy-{run}", "pro", viewed, 1, email: $"cy-{run}@example.org");
        await using var receiver = await Receiver.StartAsync();
        var outputId = await host.CreateOutputAsync(receiver.Url, $"Receiver {run}");

        await using var console = await host.SignedInAsync("/ui/audiences");
        var page = console.Page;
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Audiences", Exact = true })).ToBeVisibleAsync();

        // The builder: two criteria, as the model has them.
        await page.GetByRole(AriaRole.Link, new() { Name = "New audience" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "New audience" })).ToBeVisibleAsync();
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync(audience);
        await Expect(page.GetByText("event criteria read event data of the last 30 days")).ToBeVisibleAsync();
        var first = page.GetByRole(AriaRole.Group, new() { Name = "Criterion 1" });
        await first.GetByLabel("Event type", new() { Exact = true }).SelectOptionAsync("custom_event");
        await PickSuggestion(page, first.GetByLabel("Event name", new() { Exact = true }), "Viewed Pri", viewed); // from the catalog
        await first.GetByLabel("How often", new() { Exact = true }).SelectOptionAsync("greater_or_equal");
        await first.GetByLabel("Times", new() { Exact = true }).FillAsync("2");
        await first.GetByLabel("Days", new() { Exact = true }).FillAsync("7");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add criterion" }).ClickAsync();
        var second = page.GetByRole(AriaRole.Group, new() { Name = "Criterion 2" });
        await second.GetByLabel("Join", new() { Exact = true }).SelectOptionAsync("and");
        await second.GetByLabel("Kind", new() { Exact = true }).SelectOptionAsync("user_attribute");
        await PickSuggestion(page, second.GetByLabel("Attribute name", new() { Exact = true }), "pl", "plan");
        await second.GetByLabel("Operator", new() { Exact = true }).SelectOptionAsync("equals");
        await second.GetByLabel("Value", new() { Exact = true }).FillAsync("pro");
        await page.GetByRole(AriaRole.Button, new() { Name = "Estimate size" }).ClickAsync();
        await Expect(page.GetByText("Estimated size: 1 person")).ToBeVisibleAsync();
        await console.EveryControlIsLabelledAsync();
        await console.ScreenshotAsync("console-audiences-2-builder");

        // Saved as a draft, activated, connected to the receiver.
        await page.GetByRole(AriaRole.Button, new() { Name = "Save as draft" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = audience })).ToBeVisibleAsync();
        var audienceId = int.Parse(Regex.Match(page.Url, @"/ui/audiences/(\d+)").Groups[1].Value);
        var status = page.Locator(".person-head .badge");
        await Expect(status).ToHaveTextAsync("draft");
        await page.GetByRole(AriaRole.Button, new() { Name = "Activate", Exact = true }).ClickAsync();
        await Expect(status).ToHaveTextAsync("active");
        await page.GetByLabel("Output", new() { Exact = true }).SelectOptionAsync(outputId);
        await page.GetByRole(AriaRole.Button, new() { Name = "Connect", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Region, new() { Name = "Connected outputs" })).ToContainTextAsync($"Receiver {run} (webhook)");

        // Someone who qualifies from now on: the receiver gets the add message.
        var dee = await host.PersonAsync($"dee-{run}", "pro", viewed, 2, email: $"dee-{run}@example.org");
        await Waiting.Until(() => Task.FromResult(receiver.AudienceActions(audienceId, long.Parse(dee)).Contains("add")), "the add message", 60);

        // Why (not) a member.
        await page.GetByLabel("MPID", new() { Exact = true }).FillAsync(bo);
        await page.GetByRole(AriaRole.Button, new() { Name = "Explain" }).ClickAsync();
        await Expect(page.GetByText($"MPID {bo} is not a member now")).ToBeVisibleAsync();
        await page.GetByLabel("MPID", new() { Exact = true }).FillAsync(ana);
        await page.GetByRole(AriaRole.Button, new() { Name = "Explain" }).ClickAsync();
        await Expect(page.GetByText($"MPID {ana} is a member now")).ToBeVisibleAsync();
        await page.ReloadAsync(); // the size now counts Dee too
        await Expect(page.GetByText("2 people")).ToBeVisibleAsync();
        await page.GetByLabel("MPID", new() { Exact = true }).FillAsync(ana);
        await page.GetByRole(AriaRole.Button, new() { Name = "Explain" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Row).Filter(new() { HasText = "User attribute" })).ToContainTextAsync("yes");
        await console.EveryControlIsLabelledAsync();
        await console.ScreenshotAsync("console-audiences-3-audience");

        // The list: status, size and the connected output.
        await page.GetByRole(AriaRole.Link, new() { Name = "Audiences", Exact = true }).ClickAsync();
        var row = page.GetByRole(AriaRole.Row).Filter(new() { HasText = audience });
        await Expect(row).ToContainTextAsync("active");
        await Expect(row).ToContainTextAsync($"Receiver {run}");
        await console.ScreenshotAsync("console-audiences-1-list");

        // A person's audience on the Profile page leads to the audience page, explained for them.
        await page.GotoAsync($"/ui/people/{ana}");
        await page.GetByRole(AriaRole.Region, new() { Name = "Audience memberships" }).GetByRole(AriaRole.Link, new() { Name = audience }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex($"/ui/audiences/{audienceId}\\?mpid={ana}$"));
        await Expect(page.GetByText($"MPID {ana} is a member now")).ToBeVisibleAsync();

        // A calculated attribute: built, activated, ready, with the spread of its values.
        await page.GetByRole(AriaRole.Link, new() { Name = "Calculated attributes", Exact = true }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "New calculated attribute" }).ClickAsync();
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync($"Pricing views {run}");
        await page.GetByLabel("Calculation", new() { Exact = true }).SelectOptionAsync("count");
        await page.GetByLabel("Event type", new() { Exact = true }).SelectOptionAsync("custom_event");
        await PickSuggestion(page, page.GetByLabel("Event name", new() { Exact = true }), "Viewed Pri", viewed);
        await page.GetByLabel("Length", new() { Exact = true }).FillAsync("30");
        await console.EveryControlIsLabelledAsync();
        await console.ScreenshotAsync("console-calculated-attributes-2-builder");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save as draft" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = $"Pricing views {run}" })).ToBeVisibleAsync();
        await Expect(status).ToHaveTextAsync("draft");
        await page.GetByRole(AriaRole.Button, new() { Name = "Activate", Exact = true }).ClickAsync();
        await Expect(status).ToHaveTextAsync("ready");
        var spread = page.GetByRole(AriaRole.Region, new() { Name = "Distribution of current values" });
        await Expect(spread.GetByRole(AriaRole.Row).Filter(new() { HasText = "2" }).First).ToBeVisibleAsync();
        await Expect(page.GetByText("sync (counted at ingestion)")).ToBeVisibleAsync();
        await console.EveryControlIsLabelledAsync();
        await console.ScreenshotAsync("console-calculated-attributes-3-attribute");
        await page.GetByRole(AriaRole.Link, new() { Name = "Calculated attributes", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Row).Filter(new() { HasText = $"Pricing views {run}" })).ToContainTextAsync("ready");
        await console.ScreenshotAsync("console-calculated-attributes-1-list");

        console.Errors.ShouldBeEmpty();
    }

    /// <summary>
    /// Types the beginning of a name into a control with catalog suggestions, waits until the control's datalist offers
    /// the name (the builder asked the workspace's catalog), and takes it from there, as choosing the suggestion does.
    /// </summary>
    internal static async Task PickSuggestion(IPage page, ILocator control, string prefix, string name)
    {
        var listId = await control.GetAttributeAsync("list");
        listId.ShouldNotBeNullOrEmpty();
        var option = page.Locator($"datalist[id='{listId}'] option[value='{name}']");
        // The catalog counts reach the table within about a second: typing again asks again until the name is there.
        await Waiting.Until(async () =>
        {
            await control.FillAsync("");
            await control.PressSequentiallyAsync(prefix);
            try { await Expect(option).ToHaveCountAsync(1, new() { Timeout = 2_000 }); return true; }
            catch (PlaywrightException) { return false; }
        }, $"the suggestion {name}", 60);
        await control.FillAsync((await option.GetAttributeAsync("value"))!);
    }
}
