using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using JasperFx.CommandLine;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Playwright;
using Npgsql;
using static Microsoft.Playwright.Assertions;

namespace EventProfiles.Browser.Tests;

/// <summary>
/// The real Host on HTTPS (the web SDK calls config and alias over https only) with a self-signed certificate made
/// here, a real PostgreSQL (build/test's), and Debian's Chromium driven by Playwright — never a downloaded browser.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>The Development configuration's org-wide admin (src/Host/appsettings.Development.json).</summary>
    public const string AdminUser = "admin", AdminPassword = "admin-password";
    private WebApplicationFactory<Program>? _factory;
    private IPlaywright? _playwright;

    public Uri HostUri { get; private set; } = null!;
    public HttpClient Client { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;
    public NpgsqlDataSource Db { get; private set; } = null!;
    public string Schema { get; } = $"browser_{DateTime.UtcNow:yyyyMMdd_HHmmss}_{Random.Shared.Next(1000, 9999)}";
    /// <summary>Where this run's files outputs may write (EventProfiles:Forwarding:Files:Root).</summary>
    public string FilesRoot => Path.Combine(Path.GetTempPath(), $"eventprofiles-{Schema}-files");

    public async Task InitializeAsync()
    {
        var connection = Environment.GetEnvironmentVariable("EVENTPROFILES_TEST_CONNECTION")
            ?? throw new InvalidOperationException("EVENTPROFILES_TEST_CONNECTION is not set. Run the tests with build/test.");
        if (!File.Exists(ChromiumPath))
            throw new InvalidOperationException($"{ChromiumPath} is missing: build/test installs Debian's chromium package; install it with apt.");

        Environment.SetEnvironmentVariable("ConnectionStrings__EventProfiles", connection);
        Environment.SetEnvironmentVariable("EventProfiles__Schema", Schema);
        Environment.SetEnvironmentVariable("Logging__LogLevel__Default", "Warning");
        // Files outputs may write only under a root; warehouse and files outputs flush every second, so a page shows them delivered soon.
        Environment.SetEnvironmentVariable("EventProfiles__Forwarding__Files__Root", FilesRoot);
        Environment.SetEnvironmentVariable("EventProfiles__Forwarding__Files__IntervalMs", "1000");
        Environment.SetEnvironmentVariable("EventProfiles__Forwarding__Warehouse__IntervalMs", "1000");
        JasperFxEnvironment.AutoStartHost = true;

        var certificate = SelfSignedCertificate();
        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b.UseEnvironment("Development"));
        _factory.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(certificate)));
        _factory.StartServer();
        HostUri = _factory.CreateClient().BaseAddress!;
        Client = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true })
        {
            BaseAddress = HostUri, Timeout = TimeSpan.FromSeconds(60),
        };
        Db = NpgsqlDataSource.Create(connection);

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            // No sandbox as root; no background traffic to Google's hosts, which this machine cannot reach. The shop page
            // stands for a public site and the Host listens on loopback only in tests, so Chromium's local-network-access
            // block (public page -> loopback) would be a test artifact: on a real deployment both are public.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights"],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
        Client?.Dispose();
        if (_factory is not null) await _factory.DisposeAsync();
        if (Db is not null) await Db.DisposeAsync();
    }

    /// <summary>
    /// A console page signed in as <paramref name="user"/>, showing <paramref name="path"/>: how a console test starts.
    /// See <see cref="ConsolePage"/> for the rest (screenshots, console errors, accessible names).
    /// </summary>
    public async Task<ConsolePage> SignedInAsync(string path, string user = AdminUser, string password = AdminPassword)
    {
        var console = await OpenConsoleAsync();
        await console.SignInAsync(path, user, password);
        return console;
    }

    /// <summary>A console page not signed in yet (for tests of the sign-in form; others use <see cref="SignedInAsync"/>).</summary>
    public Task<ConsolePage> OpenConsoleAsync() => ConsolePage.OpenAsync(Browser, HostUri);

    /// <summary>
    /// Serves a shop's page at <paramref name="origin"/> in <paramref name="context"/>, with the pinned web SDK at
    /// <c>/mparticle.js</c>: another origin than the Host, as on a customer's site, so every SDK call is cross-origin.
    /// </summary>
    public static Task ServeShopAsync(IBrowserContext context, string origin, string page)
    {
        var sdk = WebSdkScript();
        return context.RouteAsync($"{origin}/**", route => route.Request.Url.EndsWith("/mparticle.js")
            ? route.FulfillAsync(new RouteFulfillOptions { ContentType = "application/javascript", Body = sdk })
            : route.FulfillAsync(new RouteFulfillOptions { ContentType = "text/html", Body = page }));
    }

    /// <summary>Where screenshots go: build/test sets it to TestResults/screenshots (kept as CI artifacts).</summary>
    public static string ScreenshotFolder()
    {
        var folder = Environment.GetEnvironmentVariable("EVENTPROFILES_SCREENSHOTS") ?? Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(folder);
        return folder;
    }

    /// <summary>The pinned SDK build that build/test installs with npm (tests/Browser.Tests/node_modules).</summary>
    public static string WebSdkScript()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "node_modules", "@mparticle", "web-sdk", "dist", "mparticle.js");
            if (File.Exists(candidate)) return File.ReadAllText(candidate);
        }
        throw new InvalidOperationException("@mparticle/web-sdk is not installed: run build/test (it runs npm ci in tests/Browser.Tests).");
    }

    private static X509Certificate2 SelfSignedCertificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        // Kestrel needs the private key in a usable store: round-trip through PKCS#12.
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
    }
}

/// <summary>
/// One console page in a browser context of its own, set up as every console test needs it: HTTPS errors ignored (the
/// Host's certificate is self-signed), the Host as base URL (so <c>GotoAsync("/ui/…")</c>), a 1366×900 window, and the
/// page's console errors and uncaught exceptions collected in <see cref="Errors"/>. How a test uses it:
/// <code>
/// await using var console = await host.SignedInAsync("/ui/setup");   // signed in as admin; or (path, user, password)
/// var page = console.Page;                                            // then Playwright as usual
/// await console.EveryControlIsLabelledAsync();                        // every control has an accessible name
/// await console.ScreenshotAsync("setup-1-input-created");             // TestResults/screenshots/setup-1-input-created.png
/// console.Errors.ShouldBeEmpty();                                     // last: no console errors
/// </code>
/// <see cref="BrowserFixture.OpenConsoleAsync"/> gives the page before signing in (for tests of the sign-in form);
/// <see cref="Context"/> serves other pages in the same browser (a shop with the web SDK: <see cref="BrowserFixture.ServeShopAsync"/>).
/// </summary>
public sealed class ConsolePage : IAsyncDisposable
{
    private ConsolePage(IBrowserContext context, IPage page)
    {
        Context = context;
        Page = page;
        Page.Console += (_, message) => { if (message.Type == "error") Errors.Add(message.Text); };
        Page.PageError += (_, error) => Errors.Add(error);
    }

    public IBrowserContext Context { get; }
    public IPage Page { get; }

    /// <summary>The console's errors and uncaught exceptions so far; a test ends by asserting there are none.</summary>
    public List<string> Errors { get; } = [];

    internal static async Task<ConsolePage> OpenAsync(IBrowser browser, Uri host)
    {
        var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            IgnoreHTTPSErrors = true, BaseURL = host.ToString(), ViewportSize = new ViewportSize { Width = 1366, Height = 900 },
        });
        return new ConsolePage(context, await context.NewPageAsync());
    }

    /// <summary>Opens <paramref name="path"/>, which leads to the sign-in form, signs in (with the keyboard) and waits until the form has sent it back.</summary>
    public async Task SignInAsync(string path, string user = BrowserFixture.AdminUser, string password = BrowserFixture.AdminPassword)
    {
        await Page.GotoAsync(path);
        await Page.GetByLabel("User name", new() { Exact = true }).FillAsync(user);
        await Page.GetByLabel("Password", new() { Exact = true }).FillAsync(password);
        await Page.GetByLabel("Password", new() { Exact = true }).PressAsync("Enter");
        await Expect(Page).Not.ToHaveURLAsync(new Regex("/ui/sign-in"));
    }

    /// <summary>The page as it is now, in the screenshot folder as <c><paramref name="name"/>.png</c>.</summary>
    public Task ScreenshotAsync(string name, bool fullPage = true) =>
        Page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder(), $"{name}.png"), FullPage = fullPage });

    /// <summary>Screen readers name every form control (a label, or an aria-label), and every image-like element has a name.</summary>
    public async Task EveryControlIsLabelledAsync()
    {
        var unnamed = await Page.EvaluateAsync<string[]>("""
            () => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button, meter, progress, [role=img]')]
              .filter(e => !(e.labels?.length || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') || (e.tagName === 'BUTTON' && e.textContent.trim())))
              .map(e => e.outerHTML.slice(0, 120))
            """);
        unnamed.ShouldBeEmpty();
    }

    public ValueTask DisposeAsync() => Context.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>
{
    public const string Name = "browser";
}
