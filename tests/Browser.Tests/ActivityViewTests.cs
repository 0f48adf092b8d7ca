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
/// The User Activity View in Debian's Chromium: sign in, find a person by email, read their profile (the attribute,
/// calculated attribute and audience earlier batches set), filter their timeline, and watch a batch arrive on the Live
/// Stream page. Screenshots of each page go to the screenshot folder.
/// </summary>
[Collection(BrowserCollection.Name)]
public class ActivityViewTests(BrowserFixture host)
{
    [Fact]
    public async Task an_analyst_signs_in_finds_a_person_by_email_reads_the_profile_filters_the_timeline_and_watches_the_live_stream()
    {
        SetDefaultExpectTimeout(20_000);
        var run = Guid.NewGuid().ToString("N")[..8];
        var email = $"ana.lima-{run}@example.org";
        var customer = $"C-{run}";
        var calculatedAttribute = $"Pricing views {run}";
        var audience = $"Pricing-curious {run}";
        var audienceId = await DefineCalculatedAttributeAndAudience(calculatedAttribute, audience, run);
        var (mpid, activeDays) = await SendDemoPerson(customer, email, run);
        await Waiting.Until(async () => (await Profile(customer))?["audience_memberships"]?.AsArray().Any(m => m!["audience_id"]!.GetValue<int>() == audienceId) == true,
            "the audience membership", 60);

        await using var console = await host.OpenConsoleAsync(); // the sign-in form is under test here
        var page = console.Page;

        // Signing in: any UI address leads to the form first.
        await page.GotoAsync("/ui/");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/ui/sign-in"));
        await page.GetByLabel("User name").FillAsync("admin");
        await page.GetByLabel("Password").FillAsync("wrong");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("wrong password");
        await page.GetByLabel("User name").FillAsync("admin");
        await page.GetByLabel("Password").FillAsync("admin-password");
        await console.ScreenshotAsync("activity-view-1-sign-in", fullPage: false);
        await page.GetByLabel("Password").PressAsync("Enter"); // the keyboard is enough
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Find a person" })).ToBeVisibleAsync();

        // Search by email.
        await page.GetByLabel("Search in").SelectOptionAsync("email");
        await page.GetByLabel("Identity or MPID").FillAsync(email);
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        var result = page.GetByRole(AriaRole.Row).Filter(new() { HasText = email });
        await Expect(result).ToContainTextAsync(customer);
        await Expect(result).ToContainTextAsync("live");
        await console.ScreenshotAsync("activity-view-2-search", fullPage: false);
        await console.EveryControlIsLabelledAsync();

        // The profile: what the earlier batches set.
        await result.GetByRole(AriaRole.Link, new() { Name = mpid }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"/ui/people/{mpid}$"));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = $"MPID {mpid}" })).ToBeVisibleAsync();
        var workspace = page.GetByRole(AriaRole.Region, new() { Name = "Workspace: Demo" });
        await Expect(workspace.GetByRole(AriaRole.Row).Filter(new() { HasText = "plan" })).ToContainTextAsync("pro");
        await Expect(workspace.GetByRole(AriaRole.Row).Filter(new() { HasText = calculatedAttribute })).ToContainTextAsync("3");
        await Expect(workspace.GetByRole(AriaRole.Row).Filter(new() { HasText = calculatedAttribute })).ToContainTextAsync("ready");
        await Expect(page.GetByRole(AriaRole.Region, new() { Name = "Audience memberships" })).ToContainTextAsync(audience);
        await Expect(page.GetByRole(AriaRole.Region, new() { Name = "Identities" })).ToContainTextAsync(email);
        await Expect(page.GetByRole(AriaRole.Img, new() { NameRegex = new System.Text.RegularExpressions.Regex($"Activity per day: 7 events on {activeDays} days") })).ToBeVisibleAsync();
        await Expect(page.Locator(".events > li")).ToHaveCountAsync(7);
        await console.ScreenshotAsync("activity-view-3-profile");
        await console.EveryControlIsLabelledAsync();

        // The timeline, filtered to screen views, one opened to its JSON.
        await page.GetByLabel("Event type").SelectOptionAsync("screen_view");
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply filters" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("type=screen_view"));
        await Expect(page.Locator(".events > li")).ToHaveCountAsync(3);
        await Expect(page.Locator(".events > li[data-event-type=custom_event]")).ToHaveCountAsync(0);
        await Expect(page.GetByText("3 events match the filters")).ToBeVisibleAsync();
        var newest = page.Locator(".events > li").First;
        await newest.Locator("summary").ClickAsync();
        await Expect(newest.Locator("pre")).ToContainTextAsync("\"screen_name\": \"Pricing\"");
        await page.GetByLabel("Event name contains").FillAsync("home");
        await page.GetByRole(AriaRole.Button, new() { Name = "Apply filters" }).ClickAsync();
        await Expect(page.Locator(".events > li")).ToHaveCountAsync(2);
        await page.Locator(".events > li").First.Locator("summary").ClickAsync();
        await console.ScreenshotAsync("activity-view-4-timeline-filtered");

        // A privacy request from the profile page (confirmed in the browser's dialog), listed as pending.
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await page.GetByLabel("Request", new() { Exact = true }).SelectOptionAsync("erasure");
        await page.GetByRole(AriaRole.Button, new() { Name = "Submit request" }).ClickAsync();
        var privacy = page.GetByRole(AriaRole.Region, new() { Name = "Privacy requests" });
        await Expect(privacy.GetByRole(AriaRole.Status)).ToContainTextAsync("Submitted: GDPR erasure request");
        await Expect(privacy.GetByRole(AriaRole.Row).Filter(new() { HasText = "GDPR erasure" })).ToContainTextAsync("pending");

        // Live Stream: a batch sent now shows up.
        await page.GetByRole(AriaRole.Link, new() { Name = "Live Stream" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status).Filter(new() { HasText = "Connected" })).ToBeVisibleAsync();
        await Ingest($$"""
            { "environment": "development", "user_identities": { "customer_id": "{{customer}}", "email": "{{email}}" },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "Checked Out {{run}}", "custom_event_type": "transaction" } } ] }
            """);
        var live = page.Locator("#live-entries > li").Filter(new() { HasText = $"Checked Out {run}" });
        await Expect(live).ToHaveCountAsync(1);
        await live.Locator("summary").ClickAsync();
        await Expect(live.Locator("pre")).ToContainTextAsync(customer);
        await Expect(live.GetByRole(AriaRole.Link, new() { Name = mpid })).ToBeVisibleAsync();
        await console.ScreenshotAsync("activity-view-5-live-stream");
        await console.EveryControlIsLabelledAsync();

        // Signing out ends the session: the pages lead to the form again.
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Status)).ToContainTextAsync("signed out");
        await page.GotoAsync($"/ui/people/{mpid}");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/ui/sign-in"));

        console.Errors.ShouldBeEmpty();
    }

    /// <summary>A count of "Viewed Pricing" over 30 days and an audience of people who viewed pricing more than once (Platform API).</summary>
    private async Task<int> DefineCalculatedAttributeAndAudience(string calculatedAttribute, string audience, string run)
    {
        var created = await Platform(HttpMethod.Post, "/platform/v2/workspaces/1/calculatedattributes", $$"""
            { "name": "{{calculatedAttribute}}", "draft_definition": { "recipe_type": "event",
              "data_point": { "type": "event", "event_type": "custom_event", "event_name": "Viewed Pricing {{run}}", "attribute_name": null },
              "conditions": [], "calculation_type": "count", "time_period": { "type": "within", "within": 30, "within_unit": "days" } } }
            """);
        await Platform(HttpMethod.Post, $"/platform/v2/workspaces/1/calculatedattributes/{created}/activation");
        var audienceJson = JsonNode.Parse(await Platform(HttpMethod.Post, "/v1/audiences?accountId=1", $$"""
            { "name": "{{audience}}", "workspaces": [1], "criteria": [ { "kind": "event", "event_type": "custom_event", "event_name": "Viewed Pricing {{run}}",
              "frequency": { "operator": "greater_than", "count": 1 }, "recency": { "within_days": 30 } } ] }
            """))!;
        var audienceId = audienceJson["id"]!.GetValue<int>();
        await Platform(HttpMethod.Post, $"/v1/audiences/{audienceId}/activation?accountId=1");
        await Waiting.Until(async () => JsonNode.Parse(await Platform(HttpMethod.Get, $"/v1/audiences/{audienceId}?accountId=1"))!["status"]!.GetValue<string>() == "active",
            "the audience to be active", 60);
        return audienceId;
    }

    /// <summary>Ana: a few days of browsing, three pricing views, attributes, consent and a web device.</summary>
    private async Task<(string Mpid, int ActiveDays)> SendDemoPerson(string customer, string email, string run)
    {
        var now = DateTimeOffset.UtcNow;
        var days = new HashSet<DateOnly>(); // UTC days with events: the chart's bars
        string Custom(string name, string type, DateTimeOffset at, string attributes = "{}")
        {
            days.Add(DateOnly.FromDateTime(at.UtcDateTime));
            return $$"""{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "{{type}}", "timestamp_unixtime_ms": {{at.ToUnixTimeMilliseconds()}}, "custom_attributes": {{attributes}} } }""";
        }
        string Screen(string name, DateTimeOffset at)
        {
            days.Add(DateOnly.FromDateTime(at.UtcDateTime));
            return $$"""{ "event_type": "screen_view", "data": { "screen_name": "{{name}}", "timestamp_unixtime_ms": {{at.ToUnixTimeMilliseconds()}} } }""";
        }
        var identities = $$"""{ "customer_id": "{{customer}}", "email": "{{email}}" }""";
        await Ingest($$"""
            { "environment": "development", "mp_deviceid": "das-{{run}}", "user_identities": {{identities}},
              "device_info": { "platform": "web", "limit_ad_tracking": false },
              "user_attributes": { "$FirstName": "Ana", "$LastName": "Lima", "$City": "Lisbon", "$Country": "PT", "plan": "free" },
              "consent_state": { "gdpr": { "marketing": { "consented": true, "document": "privacy-v3", "timestamp_unixtime_ms": {{now.AddDays(-6).ToUnixTimeMilliseconds()}} } } },
              "events": [ {{Screen("Home", now.AddDays(-6))}}, {{Custom($"Viewed Pricing {run}", "navigation", now.AddDays(-6).AddMinutes(2))}} ] }
            """);
        await Ingest($$"""
            { "environment": "development", "mp_deviceid": "das-{{run}}", "user_identities": {{identities}},
              "events": [ {{Screen("Home", now.AddDays(-3))}}, {{Custom($"Viewed Pricing {run}", "navigation", now.AddDays(-3).AddMinutes(1), """{ "tier": "pro" }""")}} ] }
            """);
        await Ingest($$"""
            { "environment": "development", "mp_deviceid": "das-{{run}}", "user_identities": {{identities}}, "user_attributes": { "plan": "pro" },
              "events": [ {{Custom("Upgraded", "transaction", now.AddDays(-1), """{ "from": "free", "to": "pro" }""")}} ] }
            """);
        await Ingest($$"""
            { "environment": "development", "mp_deviceid": "das-{{run}}", "user_identities": {{identities}},
              "events": [ {{Custom($"Viewed Pricing {run}", "navigation", now.AddMinutes(-5))}}, {{Screen("Pricing", now.AddMinutes(-4))}} ] }
            """);
        string? mpid = null;
        await Waiting.Until(async () => (mpid = (await Profile(customer))?["mpid"]?.GetValue<long>().ToString()) is not null, "the profile", 30);
        return (mpid!, days.Count);
    }

    private async Task Ingest(string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/events") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("demo-key:demo-secret")));
        using var response = await host.Client.SendAsync(request);
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
    }

    private async Task<string> Platform(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await Token());
        using var response = await host.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        response.IsSuccessStatusCode.ShouldBeTrue($"{method} {path}: {(int)response.StatusCode} {text}");
        return text;
    }

    private async Task<string> Token()
    {
        using var token = await host.Client.PostAsJsonAsync("/oauth/token",
            new { client_id = "demo-client", client_secret = "demo-client-secret", grant_type = "client_credentials" });
        return (await token.Content.ReadFromJsonAsync<JsonObject>())!["access_token"]!.GetValue<string>();
    }

    private async Task<JsonObject?> Profile(string customerId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/userprofile/v1/resolve/1/1/1?fields=user_attributes,audience_memberships")
        {
            Content = JsonContent.Create(new { environment_type = "development", identity = new { type = "customer_id", value = customerId } }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await Token());
        using var response = await host.Client.SendAsync(request);
        return response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadFromJsonAsync<JsonObject>() : null;
    }
}
