using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using EventProfiles.Integration.Tests.Fixtures;
using Npgsql;

namespace EventProfiles.Browser.Tests;

/// <summary>
/// mParticle's own web SDK (npm @mparticle/web-sdk 2.68.0, unmodified) on a page of another origin, pointed at the
/// Host: identify, events, attributes, consent, login, modify, logout, alias — then the Profile API shows each person.
/// </summary>
[Collection(BrowserCollection.Name)]
public class WebSdkFlowTests(BrowserFixture host)
{
    private const string PageOrigin = "https://shop.test";

    [Fact]
    public async Task the_real_web_sdk_identifies_tracks_logs_in_modifies_logs_out_and_aliases()
    {
        var run = Guid.NewGuid().ToString("N")[..10];
        var (first, second) = ($"browser-{run}-1", $"browser-{run}-2");
        var sdkHost = $"{host.HostUri.Host}:{host.HostUri.Port}";

        await using var context = await host.Browser.NewContextAsync(new BrowserNewContextOptions { IgnoreHTTPSErrors = true });
        // The shop's page comes from another origin than the Host, as on a customer's site: every SDK call is cross-origin.
        await BrowserFixture.ServeShopAsync(context, PageOrigin, Page);
        var page = await context.NewPageAsync();
        var consoleErrors = new List<string>();
        page.Console += (_, message) => { if (message.Type == "error") consoleErrors.Add(message.Text); };
        // Every call the SDK makes must be answered with success. A request that got no answer (CORS, TLS) reaches the
        // SDK only as "Failed to fetch", so keep the browser's reason. Chromium also reports net::ERR_ABORTED for
        // answered calls whose empty body the SDK never reads (events, alias): those were answered and are not failures.
        var answered = new HashSet<IRequest>();
        page.Response += (_, response) =>
        {
            answered.Add(response.Request);
            if (response.Status >= 400) consoleErrors.Add($"{response.Request.Method} {response.Url}: HTTP {response.Status}");
        };
        page.RequestFailed += (_, request) =>
        {
            if (!answered.Contains(request)) consoleErrors.Add($"{request.Method} {request.Url}: {request.Failure}");
        };
        using var diagnostics = new FailureReport(consoleErrors);
        await page.GotoAsync($"{PageOrigin}/index.html");

        var firstMpid = await page.EvaluateAsync<string>($$"""
            () => new Promise((resolve, reject) => {
              mParticle.init('demo-web-key', {
                isDevelopmentMode: true,
                identifyRequest: { userIdentities: { customerid: '{{first}}', email: '{{first}}@example.org' } },
                identityCallback: r => r.httpCode === 200 ? resolve(r.getUser().getMPID()) : reject(new Error('identify: ' + r.httpCode + ' ' + JSON.stringify(r.body))),
                v3SecureServiceUrl: '{{sdkHost}}/v3/JS/', identityUrl: '{{sdkHost}}/v1/', aliasUrl: '{{sdkHost}}/v1/identity/', configUrl: '{{sdkHost}}/JS/v2/',
              });
            })
            """);
        await page.EvaluateAsync("""
            () => {
              mParticle.logEvent('Video Watched', mParticle.EventType.Navigation, { category: 'documentary' });
              mParticle.logPageView('Home');
              const room = mParticle.eCommerce.createProduct('Double Room', 'econ-1', 100, 2);
              const transaction = mParticle.eCommerce.createTransactionAttributes('txn-1', 'web', null, 210, 10, 0);
              mParticle.eCommerce.logProductAction(mParticle.ProductActionType.Purchase, [room], { channel: 'web' }, null, transaction);
              const user = mParticle.Identity.getCurrentUser();
              user.setUserAttribute('plan', 'premium');
              user.setUserAttributeList('favorite_genres', ['documentary', 'comedy']);
              user.setUserAttribute('temp_flag', 'yes');
              user.removeUserAttribute('temp_flag');
              const consent = mParticle.Consent.createConsentState();
              consent.addGDPRConsentState('Marketing', mParticle.Consent.createGDPRConsent(true, Date.now(), 'privacy_v3', 'shop.test/settings', 'hw-1'));
              consent.setCCPAConsentState(mParticle.Consent.createCCPAConsent(false, Date.now(), 'ccpa_v1', 'shop.test/settings', 'hw-1'));
              user.setConsentState(consent);
              mParticle.logEvent('Consent Updated', mParticle.EventType.Other); // consent rides on the next batch
              document.getElementById('log').textContent += 'identified, tracked, attributes and consent set\n';
            }
            """);
        // Everything of the first person is stored before the SDK switches user.
        await Waiting.Until(async () => (await Profile(first))?["user_attributes"]?["plan"] is not null && await Events(long.Parse(firstMpid)) >= 5,
            "the first person's uploads", seconds: 30);

        var secondMpid = await Identity(page, "login", $$"""{ userIdentities: { customerid: '{{second}}', email: '{{second}}@example.org' } }""");
        await Identity(page, "modify", $$"""{ userIdentities: { customerid: '{{second}}', email: '{{second}}-new@example.org' } }""");
        await page.EvaluateAsync("() => mParticle.logEvent('After Modify', mParticle.EventType.Other)");
        await Waiting.Until(async () => await Events(long.Parse(secondMpid)) >= 1, "the logged-in person's event", seconds: 30);

        var anonymousMpid = await Identity(page, "logout", "{}");
        await page.EvaluateAsync("() => mParticle.logEvent('Anonymous Browse', mParticle.EventType.Navigation)");
        await Waiting.Until(async () => await Events(long.Parse(anonymousMpid)) >= 1, "the anonymous visitor's event", seconds: 30);

        var aliasStatus = await page.EvaluateAsync<int>($$"""
            () => new Promise(resolve => {
              const request = mParticle.Identity.createAliasRequest(mParticle.Identity.getCurrentUser(), mParticle.Identity.getUser('{{secondMpid}}'));
              mParticle.Identity.aliasUsers(request, r => resolve(r.httpCode));
            })
            """);
        aliasStatus.ShouldBe(202);
        await Waiting.Until(async () => await EventsOfType(long.Parse(secondMpid), "profile_aliased_from") == 1, "the alias copy", seconds: 30);

        // What the Profile API shows for each MPID the SDK reported.
        new[] { firstMpid, secondMpid, anonymousMpid }.Distinct().Count().ShouldBe(3);
        var firstProfile = (await Profile(first))!;
        // The screenshot shows what the Profile API then answers for the first person.
        await page.EvaluateAsync("profile => { document.getElementById('log').textContent += 'logged in, modified, logged out, aliased\\n\\nProfile API, first person:\\n' + JSON.stringify(JSON.parse(profile), null, 2); }",
            firstProfile.ToJsonString());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(BrowserFixture.ScreenshotFolder(), "web-sdk-flow.png"), FullPage = true });
        firstProfile["mpid"]!.GetValue<long>().ToString().ShouldBe(firstMpid);
        Identities(firstProfile).ShouldBe([$"customer_id={first}", $"email={first}@example.org"], ignoreOrder: true);
        firstProfile["user_attributes"]!["plan"]!.GetValue<string>().ShouldBe("premium");
        firstProfile["user_attributes"]!["favorite_genres"]!.AsArray().Select(g => g!.GetValue<string>()).ShouldBe(["documentary", "comedy"]);
        firstProfile["user_attributes"]!.AsObject().ContainsKey("temp_flag").ShouldBeFalse();
        firstProfile["consent_state"]!["gdpr"]!["marketing"]!["consented"]!.GetValue<bool>().ShouldBeTrue();
        firstProfile["consent_state"]!["ccpa"]!["data_sale_opt_out"]!["consented"]!.GetValue<bool>().ShouldBeFalse();
        firstProfile["devices"]!.AsArray().Single()!["platform"]!.GetValue<string>().ShouldBe("web");
        (await EventsOfType(long.Parse(firstMpid), "event_captured", "commerce_event")).ShouldBe(1);

        var secondProfile = (await Profile(second))!;
        secondProfile["mpid"]!.GetValue<long>().ToString().ShouldBe(secondMpid);
        Identities(secondProfile).ShouldContain($"email={second}-new@example.org");
        (await EventsOfType(long.Parse(anonymousMpid), "profile_aliased_to")).ShouldBe(1);
        consoleErrors.ShouldBeEmpty();
    }

    /// <summary>Prints what the browser reported when the test fails, so a red run says why.</summary>
    private sealed class FailureReport(List<string> errors) : IDisposable
    {
        public void Dispose()
        {
            foreach (var error in errors) Console.Error.WriteLine($"browser: {error}");
        }
    }

    private const string Page = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Shop (EventProfiles browser test)</title>
        <script src="/mparticle.js"></script></head>
        <body><h1>Shop</h1><p>mParticle web SDK 2.68.0 against EventProfiles</p><pre id="log"></pre></body></html>
        """;

    /// <summary>An IDSync call through the SDK; resolves with the MPID it leaves current.</summary>
    private static async Task<string> Identity(IPage page, string call, string request)
    {
        var answer = (await page.EvaluateAsync($$"""
            () => new Promise(resolve => mParticle.Identity.{{call}}({{request}},
              r => resolve({ status: r.httpCode, mpid: mParticle.Identity.getCurrentUser().getMPID() })))
            """))!.Value;
        answer.GetProperty("status").GetInt32().ShouldBe(200, call);
        return answer.GetProperty("mpid").GetString()!;
    }

    private async Task<JsonObject?> Profile(string customerId)
    {
        using var token = await host.Client.PostAsJsonAsync("/oauth/token",
            new { client_id = "demo-client", client_secret = "demo-client-secret", grant_type = "client_credentials" });
        var bearer = (await token.Content.ReadFromJsonAsync<JsonObject>())!["access_token"]!.GetValue<string>();
        using var request = new HttpRequestMessage(HttpMethod.Post,
            "/userprofile/v1/resolve/1/1/1?fields=user_identities,device_identities,user_attributes,consent_state,devices")
        {
            Content = JsonContent.Create(new { environment_type = "development", identity = new { type = "customer_id", value = customerId } }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        using var response = await host.Client.SendAsync(request);
        return response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadFromJsonAsync<JsonObject>() : null;
    }

    private static string[] Identities(JsonObject profile) =>
        profile["user_identities"]!.AsArray().Select(i => $"{i!["type"]}={i["value"]}").ToArray();

    private Task<long> Events(long mpid) => EventsOfType(mpid, "event_captured");

    private async Task<long> EventsOfType(long mpid, string type, string? eventType = null)
    {
        await using var command = host.Db.CreateCommand(
            $"select count(*) from {host.Schema}.mt_events where stream_id = $1 and type = $2 and ($3::text is null or data->>'EventType' = $3)");
        command.Parameters.Add(new NpgsqlParameter { Value = mpid.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        command.Parameters.Add(new NpgsqlParameter { Value = type });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)eventType ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
