using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using JasperFx.CommandLine;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Playwright;
using Npgsql;

namespace EventProfiles.Browser.Tests;

/// <summary>
/// The real Host on HTTPS (the web SDK calls config and alias over https only) with a self-signed certificate made
/// here, a real PostgreSQL (build/test's), and Debian's Chromium driven by Playwright — never a downloaded browser.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";
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

[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>
{
    public const string Name = "browser";
}
