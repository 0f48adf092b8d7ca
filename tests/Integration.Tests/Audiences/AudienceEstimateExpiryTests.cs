using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Commands.Audiences;
using EventProfiles.Integration.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Wolverine;
using Wolverine.Runtime;

namespace EventProfiles.Integration.Tests.Audiences;

/// <summary>
/// Size estimates are not kept forever (issue 19 §2): each one schedules its own expiry (a durable Wolverine message a
/// day later), which deletes it and every other finished estimate that old, judged by the Host's clock.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class AudienceEstimateExpiryTests(AppFixture app)
{
    private static object Definition(string s) => new
    {
        workspaces = new[] { 1 }, audience_type = "real_time",
        criteria = new object[] { new { kind = "event", event_type = "custom_event", event_name = $"Expiring {s}", recency = new { within_days = 7 } } },
    };

    private static async Task<Guid> FinishedEstimateAsync(HttpClient browser, string s)
    {
        using var started = await browser.PostAsJsonAsync("/ui/api/audiences/estimates", Definition(s));
        var text = await started.Content.ReadAsStringAsync();
        started.StatusCode.ShouldBe(HttpStatusCode.Accepted, text);
        var id = JsonNode.Parse(text)!["id"]!.GetValue<Guid>();
        await Waiting.Until(async () => (await browser.UiJson($"/ui/api/audiences/estimates/{id}"))["status"]!.GetValue<string>() == "finished", "the estimate", 60);
        return id;
    }

    private async Task ExpireAsync(Guid id)
    {
        using var scope = app.Services.CreateScope();
        await scope.ServiceProvider.GetRequiredService<IMessageBus>().InvokeAsync(new ExpireAudienceEstimate(id), CancellationToken.None, TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task an_estimate_schedules_its_expiry_and_is_deleted_a_day_later_with_every_other_estimate_that_old()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        using var browser = await app.SignedIn();
        var older = await FinishedEstimateAsync(browser, s);
        var estimate = await FinishedEstimateAsync(browser, s);

        // Scheduled with it, about a day ahead, durably (it waits in the message store).
        var incoming = await app.Services.GetRequiredService<IWolverineRuntime>().Storage.Admin.AllIncomingAsync();
        var expiry = incoming.Where(e => e.MessageType?.Contains(nameof(ExpireAudienceEstimate), StringComparison.Ordinal) == true && e.Data is not null)
            .SingleOrDefault(e => System.Text.Encoding.UTF8.GetString(e.Data!).Contains(estimate.ToString(), StringComparison.OrdinalIgnoreCase));
        expiry.ShouldNotBeNull();
        expiry.ScheduledTime!.Value.ShouldBeGreaterThan(DateTimeOffset.UtcNow.AddHours(23));

        // Early (clocks differ): kept, and the expiry waits again.
        await ExpireAsync(estimate);
        using (var kept = await browser.GetAsync($"/ui/api/audiences/estimates/{estimate}")) kept.StatusCode.ShouldBe(HttpStatusCode.OK);

        try
        {
            app.Clock.Advance(AudienceEstimate.KeptFor + TimeSpan.FromMinutes(5));
            await ExpireAsync(estimate);
        }
        finally
        {
            app.Clock.Reset();
        }
        foreach (var id in new[] { estimate, older })
        {
            using var gone = await browser.GetAsync($"/ui/api/audiences/estimates/{id}");
            gone.StatusCode.ShouldBe(HttpStatusCode.NotFound, id.ToString());
        }
        // An expiry whose estimate is gone does nothing.
        await ExpireAsync(estimate);
    }
}
