using System.Net;
using System.Net.Http.Json;
using System.Text;
using EventProfiles.Integration.Tests.Fixtures;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace EventProfiles.Integration.Tests.Forwarding;

/// <summary>Deliveries are stored with the batch: a Host that stops before it could deliver leaves them to the next one.</summary>
[Collection(AppCollection.Name)]
public class DurableDeliveryTests
{
    [Fact]
    public async Task deliveries_pending_when_the_host_stops_are_made_after_it_starts_again()
    {
        // A schema of its own, so only this test's two Hosts (one after the other) own these deliveries.
        var previousSchema = Environment.GetEnvironmentVariable("EventProfiles__Schema");
        Environment.SetEnvironmentVariable("EventProfiles__Schema", $"{previousSchema}_restart");
        try
        {
            await using var receiver = await Receiver.StartAsync();
            await receiver.StopAsync(); // the destination is down while the first Host runs

            var customers = Enumerable.Range(0, 5).Select(_ => Api.NewId("restart")).ToList();
            await using (var first = StartHost(out var client))
            {
                using var admin = Authorized(client, "admin", "admin-password");
                using var created = await admin.PostAsJsonAsync("/api/admin/outputs", new { name = "restart", kind = "webhook", webhook = new { url = receiver.Url } });
                var outputId = (await created.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>())!["id"]!.GetValue<string>();
                using (var connected = await admin.PostAsJsonAsync("/api/admin/connections", new { input = AppFixture.ForwardingInput, output_id = outputId }))
                    connected.StatusCode.ShouldBe(HttpStatusCode.Created);

                using var sender = Authorized(client, AppFixture.ForwardingKey, AppFixture.ForwardingSecret);
                foreach (var customer in customers)
                {
                    using var response = await sender.PostAsync("/v2/events", new StringContent(
                        $$"""{ "user_identities": { "customer_id": "{{customer}}" }, "events": [ { "event_type": "session_start", "data": {} } ] }""",
                        Encoding.UTF8, "application/json"));
                    response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
                }
            } // the first Host stops with the deliveries still pending (retries scheduled)

            await receiver.RestartAsync();
            await using (StartHost(out _))
            {
                await Waiting.Until(() => Task.FromResult(customers.All(c => receiver.BatchesOf(c).Count >= 1)), "deliveries after the restart", seconds: 60);
            }
            customers.ShouldAllBe(c => receiver.BatchesOf(c).Count == 1);
        }
        finally
        {
            Environment.SetEnvironmentVariable("EventProfiles__Schema", previousSchema);
        }
    }

    private static WebApplicationFactory<Program> StartHost(out HttpClient client)
    {
        var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b.UseEnvironment("Development"));
        factory.UseKestrel(0);
        factory.StartServer();
        client = new HttpClient { BaseAddress = factory.CreateClient().BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        return factory;
    }

    private static HttpClient Authorized(HttpClient client, string user, string password)
    {
        var authorized = new HttpClient { BaseAddress = client.BaseAddress, Timeout = client.Timeout };
        authorized.DefaultRequestHeaders.Authorization = AppFixture.Basic(user, password);
        return authorized;
    }
}
