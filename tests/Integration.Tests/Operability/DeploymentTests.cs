using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Operability;

/// <summary>
/// Outside Development the Host starts only with secrets of its own, and the hosts it answers to and names in URLs come
/// from configuration, never from the request. Production runs are separate processes of the Host, as an operator starts it.
/// </summary>
[Collection(AppCollection.Name)]
public class DeploymentTests(AppFixture app)
{
    [Fact]
    public async Task in_production_the_host_refuses_to_start_with_the_development_secrets_naming_each_setting()
    {
        var (exitCode, output) = await RunToExit(new()
        {
            ["EventProfiles__ProfileApiTokens__SigningKey"] = "development-only-signing-key-change-me-in-production",
            ["EventProfiles__Admin__Users__0__Name"] = "admin",
            ["EventProfiles__Admin__Users__0__Password"] = "admin-password",
            ["EventProfiles__Admin__Users__1__Name"] = "ops",
            ["EventProfiles__Admin__Users__1__Password"] = "",
            ["EventProfiles__ProfileApiClients__0__ClientId"] = "demo-client",
            ["EventProfiles__ProfileApiClients__0__ClientSecret"] = "demo-client-secret",
        });

        exitCode.ShouldNotBe(0, output);
        output.ShouldContain("will not start in the Production environment");
        output.ShouldContain("EventProfiles:ProfileApiTokens:SigningKey is the development key");
        output.ShouldContain("EventProfiles:Admin:Users:0:Password (user 'admin') is a development password");
        output.ShouldContain("EventProfiles:Admin:Users:1:Password (user 'ops') is not set");
        output.ShouldContain("EventProfiles:ProfileApiClients:0:ClientSecret (client 'demo-client') is a development secret");
        output.ShouldContain("EventProfiles:Dsr:SigningKeyPem is not set");
        output.ShouldContain("EventProfiles:PublicBaseUrl is not set");
        output.ShouldContain("AllowedHosts is not set");
        output.ShouldNotContain("Unhandled exception"); // a message for an operator, not a crash
    }

    [Fact]
    public async Task one_development_value_among_good_ones_is_enough_to_refuse()
    {
        var settings = GoodProductionSettings();
        settings["EventProfiles__Admin__Users__0__Password"] = "lockout-password"; // a test fixture's, in the repository too
        settings["AllowedHosts"] = "*";
        var (exitCode, output) = await RunToExit(settings);

        exitCode.ShouldNotBe(0, output);
        output.ShouldContain("EventProfiles:Admin:Users:0:Password (user 'ops') is a development password");
        output.ShouldContain("AllowedHosts is not set, or is \"*\"");
        output.ShouldNotContain("SigningKey");
        output.ShouldNotContain("PublicBaseUrl");
    }

    [Fact]
    public async Task in_production_with_its_own_secrets_the_host_serves_only_its_hosts_and_names_its_configured_url()
    {
        var port = FreePort();
        var settings = GoodProductionSettings();
        settings["ConnectionStrings__EventProfiles"] = Environment.GetEnvironmentVariable("ConnectionStrings__EventProfiles")!;
        settings["EventProfiles__Schema"] = $"{app.Schema}_production"; // a node of its own, never a second node of the fixture's
        settings["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        var (host, hostOutput) = Start(settings);
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
            await Waiting.Until(async () =>
            {
                if (host.HasExited) throw new InvalidOperationException($"The Host exited ({host.ExitCode}): {hostOutput}");
                try { using var live = await client.GetAsync("/health/live"); return live.IsSuccessStatusCode; }
                catch (HttpRequestException) { return false; }
            }, "the production Host to listen", 120);

            using (var forged = new HttpRequestMessage(HttpMethod.Get, "/v3/discovery"))
            {
                forged.Headers.Host = "attacker.example";
                using var refused = await client.SendAsync(forged);
                refused.StatusCode.ShouldBe(HttpStatusCode.BadRequest); // not one of AllowedHosts
            }
            using var discovery = await client.GetAsync("/v3/discovery");
            discovery.StatusCode.ShouldBe(HttpStatusCode.OK);
            JsonNode.Parse(await discovery.Content.ReadAsStringAsync())!["processor_certificate"]!.GetValue<string>()
                .ShouldBe("https://profiles.example.org/v3/certificate.pem");
        }
        finally
        {
            host.Kill(entireProcessTree: true);
            await host.WaitForExitAsync();
            host.Dispose();
        }
    }

    [Fact]
    public async Task discovery_does_not_echo_a_forged_host_header()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v3/discovery");
        request.Headers.Host = "attacker.example";
        using var response = await app.NewClient().SendAsync(request);
        response.StatusCode.ShouldBe(HttpStatusCode.OK); // Development answers to any host name
        var text = await response.Content.ReadAsStringAsync();
        text.ShouldNotContain("attacker.example");
        // Development without EventProfiles:PublicBaseUrl: the address the server listens on.
        JsonNode.Parse(text)!["processor_certificate"]!.GetValue<string>().ShouldBe(new Uri(app.Client.BaseAddress!, "/v3/certificate.pem").ToString());
    }

    private static Dictionary<string, string> GoodProductionSettings()
    {
        using var rsa = RSA.Create(2048);
        return new()
        {
            ["EventProfiles__ProfileApiTokens__SigningKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48)),
            ["EventProfiles__Admin__Users__0__Name"] = "ops",
            ["EventProfiles__Admin__Users__0__Password"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)),
            ["EventProfiles__Dsr__SigningKeyPem"] = rsa.ExportRSAPrivateKeyPem(),
            ["EventProfiles__PublicBaseUrl"] = "https://profiles.example.org/",
            ["AllowedHosts"] = "profiles.example.org;127.0.0.1",
        };
    }

    /// <summary>
    /// <c>dotnet EventProfiles.Host.dll</c> in Production with exactly these settings: the fixture's own EventProfiles__*
    /// variables (inherited) are removed, so only what a test sets is configured.
    /// </summary>
    private static (Process Process, System.Text.StringBuilder Output) Start(Dictionary<string, string> settings)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "EventProfiles.Host.dll"));
        foreach (var inherited in start.Environment.Keys.Where(k => k.StartsWith("EventProfiles__", StringComparison.OrdinalIgnoreCase) ||
                     k.StartsWith("ConnectionStrings__", StringComparison.OrdinalIgnoreCase) || k is "ASPNETCORE_URLS" or "AllowedHosts").ToList())
            start.Environment.Remove(inherited);
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (name, value) in settings) start.Environment[name] = value;
        var output = new System.Text.StringBuilder();
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, line) => { lock (output) output.AppendLine(line.Data); };
        process.ErrorDataReceived += (_, line) => { lock (output) output.AppendLine(line.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return (process, output);
    }

    private static async Task<(int ExitCode, string Output)> RunToExit(Dictionary<string, string> settings)
    {
        settings.TryAdd("ASPNETCORE_URLS", $"http://127.0.0.1:{FreePort()}"); // if it did start, never on a port others use
        var (process, output) = Start(settings);
        using (process)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            try { await process.WaitForExitAsync(timeout.Token); }
            catch (OperationCanceledException) { process.Kill(entireProcessTree: true); throw; }
            process.WaitForExit(); // the output's last lines
            lock (output) return (process.ExitCode, output.ToString());
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
