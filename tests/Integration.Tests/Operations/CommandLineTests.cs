using System.Diagnostics;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Operations;

/// <summary>
/// The Host's command line, as an operator runs it next to the service: a separate process on the same database (this
/// fixture's service runs the jobs it hands over).
/// </summary>
[Collection(AppCollection.Name)]
public class CommandLineTests(AppFixture app)
{
    /// <summary>Runs <c>dotnet EventProfiles.Host.dll …</c> with this fixture's configuration (inherited environment).</summary>
    private static async Task<(int ExitCode, string Output)> Run(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "EventProfiles.Host.dll"));
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await errors);
    }

    [Fact]
    public async Task the_command_line_shows_projections_and_rebuilds_a_person_through_the_service()
    {
        var customer = Api.NewId("cli");
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "plan": "pro" }, "events": [] }""");
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>().ToString();

        var (rebuildExit, rebuildOutput) = await Run("rebuild", "--projection", "profiles", "--mpid", mpid);
        rebuildExit.ShouldBe(0, rebuildOutput);
        rebuildOutput.ShouldContain("rebuild");
        rebuildOutput.ShouldContain("completed: 1 done");
        rebuildOutput.ShouldContain($"rebuilt profiles for MPID {mpid}");

        var (statusExit, statusOutput) = await Run("status");
        statusExit.ShouldBe(0, statusOutput);
        statusOutput.ShouldContain("PersonCalculations:All");
        statusOutput.ShouldContain("IdentityIndex");
        statusOutput.ShouldContain("completed"); // the rebuild above, in the latest operations

        var (badExit, badOutput) = await Run("rebuild", "--projection", "everything");
        badExit.ShouldBe(1, badOutput);
        badOutput.ShouldContain("parameters.projection");
    }
}
