using System.Net;
using System.Net.Http.Headers;
using System.Text;
using EventProfiles.Integration.Tests.Fixtures;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace EventProfiles.Browser.Tests;

/// <summary>
/// The Setup page in Debian's Chromium: a new team signs in, creates a workspace and a web input, reads its key and secret
/// (shown once, with copy buttons and the SDK snippet), sends with them, and rotates the secret (add, then revoke the old).
/// </summary>
[Collection(BrowserCollection.Name)]
public class SetupPageTests(BrowserFixture host)
{
    [Fact]
    public async Task a_new_team_creates_a_workspace_and_a_web_input_copies_its_key_and_rotates_its_secret()
    {
        SetDefaultExpectTimeout(20_000);
        var run = Guid.NewGuid().ToString("N")[..8];
        await using var console = await host.SignedInAsync("/ui/setup");
        var page = console.Page;
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Setup", Exact = true })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Region, new() { Name = "Inputs and keys" })).ToContainTextAsync("demo-web-key");

        // A workspace, then a web input in it.
        var workspace = $"Shop {run}";
        await page.Locator("#new-workspace-name").FillAsync(workspace);
        await page.GetByRole(AriaRole.Button, new() { Name = "Create workspace" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Region, new() { Name = "Workspaces" })).ToContainTextAsync(workspace);
        var input = $"shop-web-{run}";
        await page.Locator("#new-input-name").FillAsync(input);
        await page.Locator("#new-input-workspace").SelectOptionAsync(new SelectOptionValue { Label = $"{workspace} ({await WorkspaceId(page, workspace)})" });
        await page.Locator("#new-input-kind").SelectOptionAsync("web");
        await page.Locator("#new-input-environment").SelectOptionAsync("development");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create input" }).ClickAsync();

        // Shown once: key, secret, copy buttons, the web SDK snippet with this server's address.
        var revealed = page.Locator("#setup-secret");
        await Expect(revealed).ToContainTextAsync($"Input {input} created");
        var key = await revealed.Locator("code.secret").Nth(0).TextContentAsync();
        var secret = await revealed.Locator("code.secret").Nth(1).TextContentAsync();
        key!.Length.ShouldBe(32);
        await Expect(revealed.GetByRole(AriaRole.Button, new() { Name = "Copy Key" })).ToBeVisibleAsync();
        await Expect(revealed.Locator("pre.snippet")).ToContainTextAsync($"mParticle.init('{key}'");
        await Expect(revealed.Locator("pre.snippet")).ToContainTextAsync($"{host.HostUri.Authority}/v3/JS/");
        await console.ScreenshotAsync("setup-1-input-created");
        await console.EveryControlIsLabelledAsync();
        (await Send(key, secret!)).ShouldBe(HttpStatusCode.Accepted); // the key ingests at once

        // Rotation: a second secret, then the first revoked.
        await page.GetByRole(AriaRole.Button, new() { Name = "Done, hide it" }).ClickAsync();
        var row = page.Locator($"tr[data-input='{input}']");
        var oldSecretId = await row.Locator("ul.plain .mono").First.TextContentAsync();
        await row.GetByRole(AriaRole.Button, new() { Name = $"Add a secret to {input} (rotate)" }).ClickAsync();
        await Expect(revealed).ToContainTextAsync($"New secret of {input}");
        var newSecret = await revealed.Locator("code.secret").First.TextContentAsync();
        (await Send(key, secret!)).ShouldBe(HttpStatusCode.Accepted);
        (await Send(key, newSecret!)).ShouldBe(HttpStatusCode.Accepted);
        await page.GetByRole(AriaRole.Button, new() { Name = "Done, hide it" }).ClickAsync();
        await row.GetByRole(AriaRole.Button, new() { Name = $"Revoke secret {oldSecretId} of {input}" }).ClickAsync();
        await Expect(row.Locator("ul.plain .mono")).ToHaveCountAsync(1);
        (await Send(key, secret!)).ShouldBe(HttpStatusCode.Forbidden);
        (await Send(key, newSecret!)).ShouldBe(HttpStatusCode.Accepted);
        await console.ScreenshotAsync("setup-2-rotated");

        console.Errors.ShouldBeEmpty();
    }

    private static async Task<string> WorkspaceId(IPage page, string name) =>
        (await page.GetByRole(AriaRole.Region, new() { Name = "Workspaces" }).GetByRole(AriaRole.Row).Filter(new() { HasText = name }).Locator("td").First.TextContentAsync())!;

    private async Task<HttpStatusCode> Send(string key, string secret)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/events")
        {
            Content = new StringContent($$"""{ "environment": "development", "user_identities": { "customer_id": "setup-{{Guid.NewGuid():N}}" } }""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{key}:{secret}")));
        using var response = await host.Client.SendAsync(request);
        return response.StatusCode;
    }
}
