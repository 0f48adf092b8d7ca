using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace EventProfiles.Browser.Tests;

/// <summary>
/// The Setup page in Debian's Chromium: a new team signs in, creates a workspace and a web input, reads its key and secret
/// (shown once, with copy buttons and the SDK snippet), sends with them, and rotates the secret (add, then revoke the old);
/// the identity settings' merge guards are edited and stored.
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

    [Fact]
    public async Task the_identity_settings_show_the_merge_guards_with_their_explanations_and_an_edited_limit_is_stored_and_running()
    {
        SetDefaultExpectTimeout(20_000);
        using var admin = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true }) { BaseAddress = host.HostUri };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:admin-password")));
        var before = (await admin.GetFromJsonAsync<JsonObject>("/api/admin/identity-settings"))!["stored"]!.AsObject();
        var devices = before["merge_guards"]!["devices_per_hour"]!.GetValue<int>();
        await using var console = await host.SignedInAsync("/ui/setup");
        var page = console.Page;
        try
        {
            var identity = page.GetByRole(AriaRole.Region, new() { Name = "Identity settings" });
            await Expect(identity).ToContainTextAsync("Merge guards");
            await Expect(identity).ToContainTextAsync("within seconds");

            // Each limit with its explanation, read by screen readers with the field; the stored value is shown.
            var field = identity.GetByLabel("Devices per value per hour");
            await Expect(field).ToHaveValueAsync(devices.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await Expect(field).ToHaveAccessibleDescriptionAsync(new System.Text.RegularExpressions.Regex("new devices within an hour"));
            await Expect(identity.GetByLabel("Identity value linked to more than N people")).ToHaveAccessibleDescriptionAsync(new System.Text.RegularExpressions.Regex("held by more than"));
            await Expect(identity.GetByLabel("Identities of one type per person per day")).ToHaveAccessibleDescriptionAsync(new System.Text.RegularExpressions.Regex("within a day"));
            await console.EveryControlIsLabelledAsync();

            // One limit edited and saved: stored, and running on this node when the answer comes.
            var changed = devices + 7;
            await field.FillAsync(changed.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await identity.GetByRole(AriaRole.Button, new() { Name = "Save identity settings" }).ClickAsync();
            await Expect(page.Locator("#setup-status")).ToContainTextAsync("Identity settings saved");
            await Expect(identity.GetByLabel("Devices per value per hour")).ToHaveValueAsync(changed.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var shown = (await admin.GetFromJsonAsync<JsonObject>("/api/admin/identity-settings"))!;
            shown["stored"]!["merge_guards"]!["devices_per_hour"]!.GetValue<int>().ShouldBe(changed);
            shown["running"]!["merge_guards"]!["devices_per_hour"]!.GetValue<int>().ShouldBe(changed);
            shown["stored"]!["merge_guards"]!["people_per_value"]!.GetValue<int>().ShouldBe(before["merge_guards"]!["people_per_value"]!.GetValue<int>());
            await identity.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder(), "setup-3-identity-settings.png") });
            console.Errors.ShouldBeEmpty();
        }
        finally
        {
            // One Host serves every browser test: the rules go back to what they were.
            using var restore = await admin.PutAsJsonAsync("/api/admin/identity-settings", before);
            restore.StatusCode.ShouldBe(HttpStatusCode.OK);
        }
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
