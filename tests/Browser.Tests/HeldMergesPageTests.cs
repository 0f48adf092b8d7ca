using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace EventProfiles.Browser.Tests;

/// <summary>
/// The User Activity View lists the people the merge guards flagged (issue 21 §4) on the Search page, each with a link
/// to their page (where the split form is) and an Accept button that links the held identities. Screenshot of the list.
/// </summary>
[Collection(BrowserCollection.Name)]
public class HeldMergesPageTests(BrowserFixture host)
{
    [Fact]
    public async Task an_org_wide_admin_sees_a_flagged_person_on_the_search_page_and_accepts_the_held_links()
    {
        SetDefaultExpectTimeout(20_000);
        var run = Guid.NewGuid().ToString("N")[..8];
        // One email on twelve new devices of one type within a day: the 11th and 12th are held (default limit 10).
        var email = $"hot-{run}@example.org";
        var devices = Enumerable.Range(0, 12).Select(i => $"idfv-{run}-{i}").ToList();
        foreach (var device in devices)
            await Ingest($$"""{ "environment": "development", "user_identities": { "email": "{{email}}" }, "device_info": { "ios_idfv": "{{device}}" } }""");
        var mpid = (await Flagged()).Single(p => p!["held"]!.AsArray().Any(x => x!["value"]!.GetValue<string>() == devices[^1]))!["mpid"]!.GetValue<string>();

        await using var console = await host.SignedInAsync("/ui/");
        var page = console.Page;
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Find a person" })).ToBeVisibleAsync();

        // The flagged person: the held devices and why, a link to their page (the split form), an Accept button.
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Flagged by the merge guards" })).ToBeVisibleAsync();
        var row = page.GetByRole(AriaRole.Row).Filter(new() { HasText = mpid });
        await Expect(row).ToContainTextAsync(devices[^1]);
        await Expect(row).ToContainTextAsync("too many identities of one type in a day");
        await Expect(row.GetByRole(AriaRole.Link, new() { Name = $"Split {mpid} on their page" })).ToHaveAttributeAsync("href", $"/ui/people/{mpid}");
        await console.EveryControlIsLabelledAsync();
        await console.ScreenshotAsync("activity-view-held-merges");

        await row.GetByRole(AriaRole.Button, new() { Name = $"Accept the held links of {mpid}" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status).Filter(new() { HasText = $"Accepted for {mpid}: 2 identities linked" })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Row).Filter(new() { HasText = mpid })).ToHaveCountAsync(0);
        (await Flagged()).ShouldNotContain(p => p!["mpid"]!.GetValue<string>() == mpid);

        // The person's page holds the split form the link leads to.
        await page.GotoAsync($"/ui/people/{mpid}");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Splits and merges" })).ToBeVisibleAsync();
        console.Errors.ShouldBeEmpty();
    }

    private async Task<JsonArray> Flagged()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/held-merges");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:admin-password")));
        using var response = await host.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!.AsArray();
    }

    private async Task Ingest(string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/events") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("demo-key:demo-secret")));
        using var response = await host.Client.SendAsync(request);
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
    }
}
