using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using EventProfiles.Integration.Tests.Fixtures;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace EventProfiles.Browser.Tests;

/// <summary>
/// The console's Catalog, Connections and Privacy pages in Debian's Chromium, with data the real web SDK sent: its event
/// names reach the Live Stream and the catalog; a webhook output is added, connected (a filter picked from the catalog),
/// paused and resumed, its health read; a dead letter is replayed from the page; a privacy request is submitted on the
/// profile page and followed on the Privacy page. Screenshots of each page go to the screenshot folder.
/// </summary>
[Collection(BrowserCollection.Name)]
public class ConsoleTests(BrowserFixture host)
{
    private const string ShopOrigin = "https://shop.test";

    [Fact]
    public async Task a_team_sees_sdk_data_in_the_catalog_connects_and_operates_a_webhook_replays_a_dead_letter_and_follows_a_privacy_request()
    {
        SetDefaultExpectTimeout(30_000);
        var run = Guid.NewGuid().ToString("N")[..8];
        var customer = $"console-{run}";
        await using var receiver = await Receiver.StartAsync();
        receiver.StatusFor = b => b.ToJsonString().Contains($"Refused {run}") ? 400 : null; // refused for good: a dead letter
        string? outputId = null;
        try
        {
            // The console, signed in, watching the Live Stream.
            await using var console = await host.SignedInAsync("/ui/live");
            var page = console.Page;
            await Expect(page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Connected" })).ToBeVisibleAsync();

            // A shop page of another origin runs mParticle's web SDK against the Host.
            await using var shop = await host.Browser.NewContextAsync(new BrowserNewContextOptions { IgnoreHTTPSErrors = true });
            await BrowserFixture.ServeShopAsync(shop, ShopOrigin, ShopPage);
            var shopPage = await shop.NewPageAsync();
            await shopPage.GotoAsync($"{ShopOrigin}/index.html");
            var sdkHost = $"{host.HostUri.Host}:{host.HostUri.Port}";
            var mpid = await shopPage.EvaluateAsync<string>($$"""
                () => new Promise((resolve, reject) => {
                  mParticle.init('demo-web-key', {
                    isDevelopmentMode: true,
                    identifyRequest: { userIdentities: { customerid: '{{customer}}', email: '{{customer}}@example.org' } },
                    identityCallback: r => r.httpCode === 200 ? resolve(r.getUser().getMPID()) : reject(new Error('identify: ' + r.httpCode)),
                    v3SecureServiceUrl: '{{sdkHost}}/v3/JS/', identityUrl: '{{sdkHost}}/v1/', aliasUrl: '{{sdkHost}}/v1/identity/', configUrl: '{{sdkHost}}/JS/v2/',
                  });
                })
                """);
            await shopPage.EvaluateAsync($$"""
                () => {
                  mParticle.Identity.getCurrentUser().setUserAttribute('plan_{{run}}', 'pro');
                  mParticle.logPageView('Pricing {{run}}');
                  mParticle.logEvent('Viewed Pricing {{run}}', mParticle.EventType.Navigation, { tier_{{run}}: 'gold' });
                  mParticle.logEvent('Viewed Pricing {{run}}', mParticle.EventType.Navigation);
                }
                """);

            // The Live Stream shows the SDK's batch as it arrives.
            var inbound = page.Locator("#live-entries > li").Filter(new() { HasText = $"Viewed Pricing {run}" });
            await Expect(inbound.First).ToBeVisibleAsync();

            // The catalog lists its names by kind, found by their beginning. Each node writes its counts every second, and
            // the SDK may upload the two events in two batches: the page is filtered again until both are counted.
            await page.GetByRole(AriaRole.Link, new() { Name = "Catalog", Exact = true }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Catalog", Exact = true })).ToBeVisibleAsync();
            var row = page.Locator("section[data-kind=event] tr").Filter(new() { HasText = $"Viewed Pricing {run}" });
            var countedTwiceToday = new Regex(@", \d{4}-\d\d-\d\d 2$");
            await Waiting.Until(async () =>
            {
                await page.GetByLabel("Name begins with").FillAsync($"viewed pricing {run}");
                await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
                await page.WaitForSelectorAsync("section[data-kind=event] table, section[data-kind=event] p.empty");
                return await row.CountAsync() == 1
                    && countedTwiceToday.IsMatch(await row.GetByRole(AriaRole.Img).GetAttributeAsync("aria-label") ?? "");
            }, "the event name in the catalog, counted twice", 30);
            await Expect(row).ToContainTextAsync("custom event");
            await page.GetByLabel("Name begins with").FillAsync("");
            await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
            await Expect(page.Locator("section[data-kind=screen] tr").Filter(new() { HasText = $"Pricing {run}" })).ToHaveCountAsync(1);
            await Expect(page.Locator("section[data-kind=user_attribute] tr").Filter(new() { HasText = $"plan_{run}" })).ToHaveCountAsync(1);
            await Expect(page.Locator("section[data-kind=event_attribute] tr").Filter(new() { HasText = $"tier_{run}" })).ToHaveCountAsync(1);
            await console.ScreenshotAsync("console-catalog");
            await console.EveryControlIsLabelledAsync();

            // Connections: a webhook output to the receiver, connected to the web input.
            await page.GetByRole(AriaRole.Link, new() { Name = "Connections", Exact = true }).ClickAsync();
            await page.GetByLabel("Name", new() { Exact = true }).FillAsync($"Receiver {run}");
            await page.GetByLabel("Webhook URL").FillAsync(receiver.Url);
            await page.GetByLabel("Workspace").SelectOptionAsync("1");
            await page.GetByRole(AriaRole.Button, new() { Name = "Add webhook output" }).ClickAsync();
            await Expect(page.Locator("#connections-status")).ToContainTextAsync($"Output Receiver {run} added");
            var outputRow = page.Locator($"tr[data-output='Receiver {run}']");
            outputId = (await outputRow.GetAttributeAsync("id"))!["output-".Length..];
            await page.GetByLabel("Input", new() { Exact = true }).SelectOptionAsync("demo-web");
            await page.GetByLabel("Output", new() { Exact = true }).SelectOptionAsync(outputId);
            await page.GetByRole(AriaRole.Button, new() { Name = "Connect", Exact = true }).ClickAsync();
            await Expect(page.Locator("#connections-status")).ToContainTextAsync($"demo-web is connected to Receiver {run}");

            // Its filter, edited as a form: an event name picked from the catalog is blocked.
            await page.GetByRole(AriaRole.Button, new() { Name = $"Edit the connection of demo-web to Receiver {run}" }).ClickAsync();
            var editor = page.GetByRole(AriaRole.Region, new() { Name = $"Connection demo-web → Receiver {run}" });
            await editor.GetByLabel("Event name (from the catalog)").FillAsync($"Viewed Pricing {run}");
            await Expect(editor.Locator($"datalist#catalog-event-names option[value='Viewed Pricing {run}']")).ToHaveCountAsync(1);
            await editor.GetByLabel("Event name (from the catalog)").FillAsync($"Ignored {run}");
            await editor.GetByRole(AriaRole.Button, new() { Name = "Block this event" }).ClickAsync();
            await editor.GetByLabel("GDPR purpose").FillAsync("never-given");
            await editor.GetByRole(AriaRole.Button, new() { Name = "Require this consent" }).ClickAsync();
            await editor.GetByRole(AriaRole.Button, new() { Name = "Remove GDPR consent to “never-given”" }).ClickAsync();
            await console.ScreenshotAsync("console-connection-editor");
            await console.EveryControlIsLabelledAsync();
            await editor.GetByRole(AriaRole.Button, new() { Name = "Save connection" }).ClickAsync();
            var connectionRow = page.GetByRole(AriaRole.Region, new() { Name = "Input demo-web" }).GetByRole(AriaRole.Row).Filter(new() { HasText = $"Receiver {run}" });
            await Expect(connectionRow).ToContainTextAsync($"Blocks events: Ignored {run}");
            await Expect(connectionRow).ToContainTextAsync("none"); // no consent rule left

            // Batches flow: one delivered, the blocked one not sent, one refused for good (a dead letter).
            await shopPage.EvaluateAsync($"() => {{ mParticle.logEvent('Delivered {run}', mParticle.EventType.Other); mParticle.logEvent('Ignored {run}', mParticle.EventType.Other); mParticle.upload(); }}");
            await Waiting.Until(() => Task.FromResult(receiver.BatchesOf(customer).Any(b => b.ToJsonString().Contains($"Delivered {run}"))), "the delivered batch", 30);
            receiver.BatchesOf(customer).ShouldAllBe(b => !b.ToJsonString().Contains($"\"Ignored {run}\""));
            await shopPage.EvaluateAsync($"() => {{ mParticle.logEvent('Refused {run}', mParticle.EventType.Other); mParticle.upload(); }}");
            // The delivered and failed counters are written every second, apart from the dead letter: reloaded until all show.
            await Waiting.Until(async () =>
            {
                await page.ReloadAsync();
                await outputRow.WaitForAsync();
                return await outputRow.GetByRole(AriaRole.Button, new() { Name = $"Dead letters of Receiver {run} (1)" }).CountAsync() == 1
                    && (await outputRow.TextContentAsync() ?? "").Contains("degraded");
            }, "the dead letter on the page, the output degraded", 30);
            await Expect(outputRow).ToContainTextAsync("degraded");
            await Expect(outputRow).ToContainTextAsync("refused the batch with 400"); // the last error
            await Expect(outputRow).ToContainTextAsync("1 dead letters");

            // Pause and resume.
            await outputRow.GetByRole(AriaRole.Button, new() { Name = $"Pause Receiver {run}" }).ClickAsync();
            await Expect(outputRow).ToContainTextAsync("paused");
            await outputRow.GetByRole(AriaRole.Button, new() { Name = $"Resume Receiver {run}" }).ClickAsync();
            await Expect(outputRow).ToContainTextAsync("degraded");

            // The dead letter with its reason, replayed from the page once the receiver takes it.
            await outputRow.GetByRole(AriaRole.Button, new() { Name = $"Dead letters of Receiver {run} (1)" }).ClickAsync();
            var letters = page.Locator($"#dead-{outputId}");
            await Expect(letters.GetByRole(AriaRole.Row).Filter(new() { HasText = "refused the batch with 400" })).ToContainTextAsync(mpid);
            await console.ScreenshotAsync("console-connections");
            await console.EveryControlIsLabelledAsync();
            receiver.StatusFor = null;
            await letters.GetByRole(AriaRole.Button, new() { Name = "Replay 1 dead letter" }).ClickAsync();
            await Expect(page.Locator("#connections-status")).ToContainTextAsync($"1 dead letter of Receiver {run} sent again");
            await Waiting.Until(() => Task.FromResult(receiver.BatchesOf(customer).Any(b => b.ToJsonString().Contains($"Refused {run}"))), "the replayed batch", 30);

            // The Live Stream's outbound line leads to the output's connection.
            await page.GetByRole(AriaRole.Link, new() { Name = "Live Stream" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Connected" })).ToBeVisibleAsync();
            await shopPage.EvaluateAsync($"() => {{ mParticle.logEvent('Watched again {run}', mParticle.EventType.Other); mParticle.upload(); }}");
            var outbound = page.Locator("#live-entries > li").Filter(new() { HasText = $"Watched again {run}" }).Filter(new() { HasText = "outbound" });
            await Expect(outbound.First).ToBeVisibleAsync();
            await outbound.First.Locator("summary").ClickAsync();
            await outbound.First.GetByRole(AriaRole.Link, new() { Name = outputId }).ClickAsync();
            await Expect(page).ToHaveURLAsync(new Regex($"/ui/connections\\?output={outputId}$"));
            await Expect(page.Locator($"tr#output-{outputId}.highlight")).ToBeVisibleAsync();

            // Privacy: an erasure and an access request from the profile page, followed on the Privacy page.
            page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
            await page.GotoAsync($"/ui/people/{mpid}");
            var requests = page.GetByRole(AriaRole.Region, new() { Name = "Privacy requests" });
            await page.GetByLabel("Request", new() { Exact = true }).SelectOptionAsync("erasure");
            await page.GetByRole(AriaRole.Button, new() { Name = "Submit request" }).ClickAsync();
            await Expect(requests.GetByRole(AriaRole.Status).Filter(new() { HasText = "Submitted: GDPR erasure request" })).ToBeVisibleAsync();
            await page.GetByLabel("Request", new() { Exact = true }).SelectOptionAsync("access");
            await page.GetByRole(AriaRole.Button, new() { Name = "Submit request" }).ClickAsync();
            var submitted = requests.GetByRole(AriaRole.Status).Filter(new() { HasText = "Submitted: GDPR access request" });
            await Expect(submitted).ToBeVisibleAsync();
            var accessId = Regex.Match(await submitted.TextContentAsync() ?? "", "[0-9a-f]{8}-[0-9a-f-]{27}").Value;
            await requests.GetByRole(AriaRole.Link, new() { Name = "Follow this person’s requests on the Privacy page" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Privacy", Exact = true })).ToBeVisibleAsync();
            await Expect(page.GetByRole(AriaRole.Row).Filter(new() { HasText = "GDPR erasure" })).ToContainTextAsync("pending");
            await Expect(page.GetByLabel("MPID")).ToHaveValueAsync(mpid);

            // The access request ran at once: its export is listed (the MPID is forgotten once done, so by type and state).
            await page.GetByLabel("MPID").FillAsync("");
            await page.GetByLabel("Type").SelectOptionAsync("access");
            await page.GetByLabel("Status").SelectOptionAsync("completed");
            await Waiting.Until(async () =>
            {
                await page.GetByRole(AriaRole.Button, new() { Name = "Apply filters" }).ClickAsync();
                await page.WaitForSelectorAsync("section[aria-labelledby=requests-title] p.muted");
                return await page.Locator($"tr[data-request='{accessId}']").CountAsync() == 1;
            }, "the completed access request", 60);
            await Expect(page.Locator($"tr[data-request='{accessId}']").GetByRole(AriaRole.Link, new() { Name = "Download the export" })).ToBeVisibleAsync();
            await Expect(page).ToHaveURLAsync(new Regex("type=access"));

            // Retention settings: the rules next to the fields; saved as they are.
            var retention = page.GetByRole(AriaRole.Region, new() { Name = "Retention and profile lifetime" });
            await Expect(retention.GetByLabel("Profile lifetime (days)")).ToHaveAttributeAsync("aria-describedby", "profile_lifetime_days-hint");
            await retention.GetByRole(AriaRole.Button, new() { Name = "Save retention settings" }).ClickAsync();
            await Expect(retention.GetByRole(AriaRole.Status).Filter(new() { HasText = "Saved: events are kept" })).ToBeVisibleAsync();
            await console.ScreenshotAsync("console-privacy");
            await console.EveryControlIsLabelledAsync();

            console.Errors.ShouldBeEmpty();
        }
        finally
        {
            // The output goes with its connection: later tests' batches are not sent to this stopped receiver.
            if (outputId is not null)
            {
                using var request = new HttpRequestMessage(HttpMethod.Delete, $"/api/admin/outputs/{outputId}");
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String("admin:admin-password"u8.ToArray()));
                using var _ = await host.Client.SendAsync(request);
            }
        }
    }

    private const string ShopPage = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Shop (EventProfiles console test)</title>
        <script src="/mparticle.js"></script></head>
        <body><h1>Shop</h1></body></html>
        """;
}
