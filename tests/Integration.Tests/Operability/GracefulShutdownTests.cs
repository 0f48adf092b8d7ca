using System.Net;
using System.Text;
using EventProfiles.Integration.Tests.Fixtures;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Xunit.Abstractions;

namespace EventProfiles.Integration.Tests.Operability;

/// <summary>Stopping the service while batches are arriving loses nothing that was answered 202.</summary>
[Collection(AppCollection.Name)]
public class GracefulShutdownTests(AppFixture app, ITestOutputHelper output)
{
    [Fact]
    public async Task every_batch_answered_202_before_shutdown_is_stored()
    {
        // A second Host of its own (same database and configuration as the shared one), so we can stop it.
        var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b.UseEnvironment("Development"));
        factory.UseKestrel(0);
        factory.StartServer();
        using var client = new HttpClient { BaseAddress = factory.CreateClient().BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

        var requests = Enumerable.Range(0, 40).Select(_ => Enumerable.Range(0, 10).Select(_ => Api.NewId("shut")).ToList()).ToList();
        var firstAccepted = new TaskCompletionSource();
        var sends = requests.Select(async customers =>
        {
            var json = "[" + string.Join(",", customers.Select(c => $$"""{ "user_identities": { "customer_id": "{{c}}" }, "user_attributes": { "a": "b" } }""")) + "]";
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/bulkevents") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
            try
            {
                using var response = await client.SendAsync(request);
                if (response.StatusCode == HttpStatusCode.Accepted) firstAccepted.TrySetResult();
                return (Customers: customers, Status: response.StatusCode);
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                return (Customers: customers, Status: (HttpStatusCode)0); // refused while stopping: not acknowledged, the client sends again
            }
        }).ToList();

        await firstAccepted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await factory.DisposeAsync(); // graceful stop while requests are in flight
        var outcomes = await Task.WhenAll(sends);

        output.WriteLine(string.Join(", ", outcomes.GroupBy(o => o.Status).Select(g => $"{(int)g.Key}: {g.Count()} requests")));
        var accepted = outcomes.Where(o => o.Status == HttpStatusCode.Accepted).SelectMany(o => o.Customers).ToArray();
        accepted.ShouldNotBeEmpty();
        outcomes.Select(o => o.Status).ShouldAllBe(s => s == HttpStatusCode.Accepted || s == HttpStatusCode.ServiceUnavailable || s == 0);
        await using var command = app.Db.CreateCommand($"select count(*) from {app.Schema}.ep_identity_index where identity_value = any($1)");
        command.Parameters.AddWithValue(accepted);
        ((long)(await command.ExecuteScalarAsync())!).ShouldBe(accepted.Length);
    }
}
