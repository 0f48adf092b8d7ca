using System.Net;
using System.Net.Http.Json;

namespace EventProfiles.Integration.Tests.Fixtures;

/// <summary>A test class with its own webhook receiver, and the output pointing at it (deleted afterwards).</summary>
public abstract class WithReceiver(AppFixture app) : IAsyncLifetime
{
    protected AppFixture App { get; } = app;
    protected Receiver Receiver { get; private set; } = null!;
    protected string OutputId { get; set; } = "";

    public async Task InitializeAsync() => Receiver = await Receiver.StartAsync();

    public async Task DisposeAsync()
    {
        // Deleting the output deletes its connections: later tests' data is not sent to this stopped receiver.
        if (OutputId.Length > 0) using (await App.AdminClient().DeleteAsync($"/api/admin/outputs/{OutputId}")) { }
        await Receiver.DisposeAsync();
    }

    /// <summary>A webhook output to the receiver.</summary>
    protected async Task<string> NewOutputAsync(string? secret = null) =>
        OutputId = (await App.CreateOutput(Receiver.Url, secret))["id"]!.GetValue<string>();

    /// <summary>Sends this audience's membership changes to the receiver.</summary>
    protected async Task ConnectAudienceAsync(int audienceId)
    {
        if (OutputId.Length == 0) await NewOutputAsync();
        using var response = await App.AdminClient().PostAsJsonAsync("/api/admin/audience-connections", new { audience_id = audienceId, output_id = OutputId });
        response.StatusCode.ShouldBe(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
    }
}
