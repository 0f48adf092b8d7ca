using Microsoft.Playwright;
using EventProfiles.Integration.Tests.Fixtures;
using static Microsoft.Playwright.Assertions;

namespace EventProfiles.Browser.Tests;

/// <summary>
/// Issue 19 §3, the new team's story as one journey through the console in Debian's Chromium: sign in; Setup: a workspace
/// and a web input, its key read from the page; mParticle's real web SDK on a shop's page (another origin) configured
/// with that key sends events; they appear in the Live Stream and the Catalog; an audience is built in the builder with
/// the catalogued event name ("viewed Pricing at least twice in 7 days and plan is pro"), estimated and activated.
/// Screenshots in TestResults/screenshots/journey-*.png; no console errors; every control named.
/// </summary>
[Collection(BrowserCollection.Name)]
public class NewTeamJourneyTests(BrowserFixture host)
{
    private const string ShopOrigin = "https://journey-shop.test";

    [Fact]
    public async Task a_new_team_sets_up_an_input_sends_with_the_web_sdk_sees_the_data_and_activates_an_audience_built_from_the_catalog()
    {
        SetDefaultExpectTimeout(60_000);
        var run = Guid.NewGuid().ToString("N")[..8];
        var workspace = $"Journey shop {run}";
        var input = $"journey-web-{run}";
        var viewed = $"Viewed Pricing {run}";
        var audience = $"Pricing-curious pros {run}";
        // Sign in, then Setup: a workspace and a web input in it; the key is read from the page.
        await using var signedIn = await host.SignedInAsync("/ui/setup");
        await BrowserFixture.ServeShopAsync(signedIn.Context, ShopOrigin, ShopPage);
        var console = signedIn.Page;
        await Expect(console.GetByRole(AriaRole.Heading, new() { Name = "Setup", Exact = true })).ToBeVisibleAsync();
        await console.Locator("#new-workspace-name").FillAsync(workspace);
        await console.GetByRole(AriaRole.Button, new() { Name = "Create workspace" }).ClickAsync();
        var workspaceRow = console.GetByRole(AriaRole.Region, new() { Name = "Workspaces" }).GetByRole(AriaRole.Row).Filter(new() { HasText = workspace });
        await Expect(workspaceRow).ToHaveCountAsync(1);
        var workspaceId = (await workspaceRow.Locator("td").First.TextContentAsync())!.Trim();
        await console.Locator("#new-input-name").FillAsync(input);
        await console.Locator("#new-input-workspace").SelectOptionAsync(new SelectOptionValue { Label = $"{workspace} ({workspaceId})" });
        await console.Locator("#new-input-kind").SelectOptionAsync("web");
        await console.Locator("#new-input-environment").SelectOptionAsync("development");
        await console.GetByRole(AriaRole.Button, new() { Name = "Create input" }).ClickAsync();
        var revealed = console.Locator("#setup-secret");
        await Expect(revealed).ToContainTextAsync($"Input {input} created");
        var key = (await revealed.Locator("code.secret").Nth(0).TextContentAsync())!;
        await Expect(revealed.Locator("pre.snippet")).ToContainTextAsync($"mParticle.init('{key}'");
        await signedIn.EveryControlIsLabelledAsync();
        await signedIn.ScreenshotAsync("journey-1-setup");
        await console.GetByRole(AriaRole.Button, new() { Name = "Done, hide it" }).ClickAsync();

        // The Live Stream listens before the shop sends.
        await console.GetByRole(AriaRole.Link, new() { Name = "Live Stream", Exact = true }).ClickAsync();
        await Expect(console.Locator("#live-status")).ToHaveTextAsync("Connected: new messages appear at the top.");

        // The shop's page runs the real web SDK with the key from Setup (cross-origin, as on a customer's site).
        var shop = await signedIn.Context.NewPageAsync();
        shop.PageError += (_, error) => signedIn.Errors.Add($"shop: {error}");
        await shop.GotoAsync($"{ShopOrigin}/index.html");
        var sdkHost = $"{host.HostUri.Host}:{host.HostUri.Port}";
        var mpid = await shop.EvaluateAsync<string>($$"""
            () => new Promise((resolve, reject) => {
              mParticle.init('{{key}}', {
                isDevelopmentMode: true,
                identifyRequest: { userIdentities: { customerid: 'journey-{{run}}', email: 'journey-{{run}}@example.org' } },
                identityCallback: r => r.httpCode === 200 ? resolve(r.getUser().getMPID()) : reject(new Error('identify: ' + r.httpCode + ' ' + JSON.stringify(r.body))),
                v3SecureServiceUrl: '{{sdkHost}}/v3/JS/', identityUrl: '{{sdkHost}}/v1/', aliasUrl: '{{sdkHost}}/v1/identity/', configUrl: '{{sdkHost}}/JS/v2/',
              });
            })
            """);
        await shop.EvaluateAsync($$"""
            () => {
              mParticle.Identity.getCurrentUser().setUserAttribute('plan', 'pro');
              mParticle.logEvent('{{viewed}}', mParticle.EventType.Navigation, { source: 'journey' });
              mParticle.logEvent('{{viewed}}', mParticle.EventType.Navigation, { source: 'journey' });
              mParticle.upload();
            }
            """);

        // The events arrive in the Live Stream (the input's development batches) …
        await Expect(console.Locator("#live-entries")).ToContainTextAsync(viewed);
        await Expect(console.Locator("#live-entries")).ToContainTextAsync(input);
        await signedIn.ScreenshotAsync("journey-2-live-stream");

        // … and in the workspace's Catalog (counted within about a second: the page is read again until they are).
        var catalogRow = console.GetByRole(AriaRole.Region, new() { Name = "Event names" }).GetByRole(AriaRole.Row).Filter(new() { HasText = viewed });
        await Waiting.Until(async () =>
        {
            await console.GotoAsync($"/ui/catalog?workspace={workspaceId}");
            await Expect(console.GetByRole(AriaRole.Heading, new() { Name = "Catalog", Exact = true })).ToBeVisibleAsync();
            try { await Expect(catalogRow).ToHaveCountAsync(1, new() { Timeout = 3_000 }); return true; }
            catch (PlaywrightException) { return false; }
        }, "the event name in the catalog", 60);
        await signedIn.EveryControlIsLabelledAsync();
        await signedIn.ScreenshotAsync("journey-3-catalog");

        // An audience in the builder, for the new workspace, with the catalogued event name; estimated, saved, activated.
        await console.GetByRole(AriaRole.Link, new() { Name = "Audiences", Exact = true }).ClickAsync();
        await console.GetByRole(AriaRole.Link, new() { Name = "New audience" }).ClickAsync();
        await Expect(console.GetByRole(AriaRole.Heading, new() { Name = "New audience" })).ToBeVisibleAsync();
        await console.GetByLabel("Name", new() { Exact = true }).FillAsync(audience);
        var workspaces = console.GetByRole(AriaRole.Group, new() { Name = "Workspaces" });
        foreach (var box in await workspaces.GetByRole(AriaRole.Checkbox).AllAsync()) await box.UncheckAsync();
        await workspaces.GetByLabel(workspace).CheckAsync();
        var first = console.GetByRole(AriaRole.Group, new() { Name = "Criterion 1" });
        await first.GetByLabel("Event type", new() { Exact = true }).SelectOptionAsync("custom_event");
        await ConsoleAudiencesTests.PickSuggestion(console, first.GetByLabel("Event name", new() { Exact = true }), "Viewed Pri", viewed);
        await first.GetByLabel("How often", new() { Exact = true }).SelectOptionAsync("greater_or_equal");
        await first.GetByLabel("Times", new() { Exact = true }).FillAsync("2");
        await first.GetByLabel("Days", new() { Exact = true }).FillAsync("7");
        await console.GetByRole(AriaRole.Button, new() { Name = "Add criterion" }).ClickAsync();
        var second = console.GetByRole(AriaRole.Group, new() { Name = "Criterion 2" });
        await second.GetByLabel("Join", new() { Exact = true }).SelectOptionAsync("and");
        await second.GetByLabel("Kind", new() { Exact = true }).SelectOptionAsync("user_attribute");
        await ConsoleAudiencesTests.PickSuggestion(console, second.GetByLabel("Attribute name", new() { Exact = true }), "pl", "plan");
        await second.GetByLabel("Operator", new() { Exact = true }).SelectOptionAsync("equals");
        await second.GetByLabel("Value", new() { Exact = true }).FillAsync("pro");
        await console.GetByRole(AriaRole.Button, new() { Name = "Estimate size" }).ClickAsync();
        await Expect(console.GetByText("Estimated size: 1 person")).ToBeVisibleAsync();
        await signedIn.EveryControlIsLabelledAsync();
        await signedIn.ScreenshotAsync("journey-4-audience-builder");
        await console.GetByRole(AriaRole.Button, new() { Name = "Save as draft" }).ClickAsync();
        await Expect(console.GetByRole(AriaRole.Heading, new() { Name = audience })).ToBeVisibleAsync();
        var status = console.Locator(".person-head .badge");
        await Expect(status).ToHaveTextAsync("draft");
        await console.GetByRole(AriaRole.Button, new() { Name = "Activate", Exact = true }).ClickAsync();
        await Expect(status).ToHaveTextAsync("active");
        // The person the SDK reported is a member.
        await console.GetByLabel("MPID", new() { Exact = true }).FillAsync(mpid);
        await console.GetByRole(AriaRole.Button, new() { Name = "Explain" }).ClickAsync();
        await Expect(console.GetByText($"MPID {mpid} is a member now")).ToBeVisibleAsync();
        await signedIn.EveryControlIsLabelledAsync();
        await signedIn.ScreenshotAsync("journey-5-audience-active");

        signedIn.Errors.ShouldBeEmpty();
    }

    private const string ShopPage = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Journey shop (EventProfiles browser test)</title>
        <script src="/mparticle.js"></script></head>
        <body><h1>Journey shop</h1><p>mParticle web SDK 2.68.0 with the key from the Setup page</p></body></html>
        """;
}
