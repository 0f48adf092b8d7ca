using System.Net;
using System.Text;
using EventProfiles.Integration.Tests.Fixtures;
using Npgsql;
using Xunit.Abstractions;

namespace EventProfiles.Integration.Tests.Operability;

/// <summary>
/// "If we answered 202, the data is durably stored": a Host killed with SIGKILL in the middle of SDK-shaped load (one
/// batch per request, many connections) has stored every batch it acknowledged, its streams are whole, and it serves
/// again when restarted. The Host runs as its own process on a schema of its own, so the kill touches nothing else.
/// </summary>
[Collection(AppCollection.Name)]
public class CrashDurabilityTests(AppFixture app, ITestOutputHelper output)
{
    [Fact]
    public async Task a_host_killed_under_load_has_stored_every_batch_it_answered_202_and_serves_again_after_a_restart()
    {
        var schema = $"{app.Schema}_crash";
        var port = HostProcess.FreePort();
        var settings = new Dictionary<string, string>
        {
            ["ConnectionStrings__EventProfiles"] = Environment.GetEnvironmentVariable("ConnectionStrings__EventProfiles")!,
            ["EventProfiles__Schema"] = schema,
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
        };
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };

        var host = HostProcess.Start("Development", settings);
        var accepted = new System.Collections.Concurrent.ConcurrentBag<string>();
        try
        {
            await host.WaitUntilLiveAsync(client);
            using var stop = new CancellationTokenSource();
            var senders = Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var customer = Api.NewId("crash");
                    try
                    {
                        using var response = await client.SendAsync(Batch(customer));
                        if (response.StatusCode == HttpStatusCode.Accepted) accepted.Add(customer);
                    }
                    catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
                    {
                        return; // the Host is gone: an unanswered request was never acknowledged
                    }
                }
            })).ToList();

            await Waiting.Until(() => Task.FromResult(accepted.Count >= 300), "300 batches answered 202 before the kill", 120);
            await host.KillAsync(); // mid-load: requests are in flight, groups are being committed
            await stop.CancelAsync();
            await Task.WhenAll(senders);
        }
        finally
        {
            await host.DisposeAsync();
        }

        output.WriteLine($"{accepted.Count} batches answered 202 before SIGKILL");
        var customers = accepted.ToArray();
        (await StoredCustomers(schema, customers)).ShouldBe(customers.Length, "every batch answered 202 is stored");
        (await Scalar(schema, """
            select count(*) from {0}.mt_streams s
            where s.version <> coalesce((select max(e.version) from {0}.mt_events e where e.stream_id = s.id), 0)
               or s.version <> (select count(*) from {0}.mt_events e where e.stream_id = s.id)
            """)).ShouldBe(0, "no stream whose version differs from its events, no gaps");

        // A restart on the same database picks up where it stopped.
        await using var restarted = HostProcess.Start("Development", settings);
        await restarted.WaitUntilLiveAsync(client);
        var after = Api.NewId("crash-after");
        using (var response = await client.SendAsync(Batch(after)))
            response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        (await StoredCustomers(schema, [after])).ShouldBe(1);
    }

    private static HttpRequestMessage Batch(string customer)
    {
        var json = $$"""
            { "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "plan": "gold" },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "Crash test", "custom_event_type": "other" } } ] }
            """;
        var request = new HttpRequestMessage(HttpMethod.Post, "/v2/events") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
        return request;
    }

    private async Task<long> StoredCustomers(string schema, string[] customers)
    {
        await using var command = app.Db.CreateCommand(
            $"select count(distinct identity_value) from {schema}.ep_identity_index where identity_value = any($1)");
        command.Parameters.AddWithValue(customers);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task<long> Scalar(string schema, string sql)
    {
        await using var command = app.Db.CreateCommand(string.Format(sql, schema));
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
