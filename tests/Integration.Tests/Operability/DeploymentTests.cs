using System.Net;
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
        var port = HostProcess.FreePort();
        var settings = GoodProductionSettings();
        settings["ConnectionStrings__EventProfiles"] = Environment.GetEnvironmentVariable("ConnectionStrings__EventProfiles")!;
        settings["EventProfiles__Schema"] = $"{app.Schema}_production"; // a node of its own, never a second node of the fixture's
        settings["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        await using var host = HostProcess.Start("Production", settings);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        await host.WaitUntilLiveAsync(client);

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

    private static async Task<(int ExitCode, string Output)> RunToExit(Dictionary<string, string> settings)
    {
        settings.TryAdd("ASPNETCORE_URLS", $"http://127.0.0.1:{HostProcess.FreePort()}"); // if it did start, never on a port others use
        await using var host = HostProcess.Start("Production", settings);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await host.Process.WaitForExitAsync(timeout.Token);
        host.Process.WaitForExit(); // the output's last lines
        return (host.Process.ExitCode, host.Output);
    }
}
