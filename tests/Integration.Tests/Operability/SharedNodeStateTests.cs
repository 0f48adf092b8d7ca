using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;
using Xunit.Abstractions;

namespace EventProfiles.Integration.Tests.Operability;

/// <summary>
/// Issue 18's leftovers: what was per node and must be shared by the nodes of one install. Two Host processes over a
/// schema of their own (<see cref="NodePair"/>): the OpenDSR rate limit counts requests on both nodes together, a Live
/// Stream subscriber on one node sees what the other received and delivered, and IDSync's new people take the
/// cross-node identity locks.
/// </summary>
[Collection(AppCollection.Name)]
public class SharedNodeStateTests(NodePair nodes, ITestOutputHelper output) : IClassFixture<NodePair>
{
    [Fact]
    public async Task the_dsr_rate_limit_counts_the_requests_of_every_node_together()
    {
        // The window starts at the workspace's first request and lasts a minute; these take a second or two.
        var started = DateTime.UtcNow;
        var answers = new List<HttpStatusCode>();
        for (var i = 0; i < NodePair.DsrRequestsPerMinute; i++)
        {
            using var response = await Status(i % 2 == 0 ? nodes.A : nodes.B, "other-key", "other-secret");
            answers.Add(response.StatusCode);
        }
        answers.ShouldAllBe(s => s == HttpStatusCode.NotFound, "within the limit: answered (an unknown request is 404)");

        // The limit is spent, on both nodes together: the next request is refused whichever node gets it.
        foreach (var node in new[] { nodes.A, nodes.B })
        {
            using var refused = await Status(node, "other-key", "other-secret");
            refused.StatusCode.ShouldBe((HttpStatusCode)429);
            refused.Headers.RetryAfter.ShouldNotBeNull();
            refused.Headers.RetryAfter!.Delta!.Value.ShouldBeInRange(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
            var body = JsonNode.Parse(await refused.Content.ReadAsStringAsync())!;
            body["code"]!.GetValue<int>().ShouldBe(429);
            body["errors"]![0]!["reason"]!.GetValue<string>().ShouldBe("RATE_LIMITED");
        }
        (DateTime.UtcNow - started).ShouldBeLessThan(TimeSpan.FromMinutes(1), "the requests fell in one window");

        // Per workspace: another workspace's budget is untouched.
        using var other = await Status(nodes.B, "demo-key", "demo-secret");
        other.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task a_live_stream_subscriber_on_one_node_sees_the_batches_and_deliveries_of_the_other()
    {
        await using var receiver = await Receiver.StartAsync();
        using var admin = Admin(nodes.A);
        using (var created = await admin.PostAsJsonAsync("/api/admin/outputs", new { name = Api.NewId("out"), kind = "webhook", webhook = new { url = receiver.Url } }))
        {
            var text = await created.Content.ReadAsStringAsync();
            created.StatusCode.ShouldBe(HttpStatusCode.Created, text);
            using var connected = await admin.PostAsJsonAsync("/api/admin/connections",
                new { input = "demo-server", output_id = JsonNode.Parse(text)!["id"]!.GetValue<string>(), active = true });
            connected.StatusCode.ShouldBe(HttpStatusCode.Created, await connected.Content.ReadAsStringAsync());
        }

        // Subscribed on A, with a reader that collects every line.
        using var subscriber = Admin(nodes.A);
        subscriber.Timeout = Timeout.InfiniteTimeSpan;
        using var stop = new CancellationTokenSource();
        using var response = await subscriber.GetAsync("/api/admin/live-stream?input=demo-server", HttpCompletionOption.ResponseHeadersRead, stop.Token);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var lines = new ConcurrentQueue<JsonObject>();
        var ready = new TaskCompletionSource();
        var reading = Task.Run(async () =>
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stop.Token));
            while (await reader.ReadLineAsync(stop.Token) is { } line)
            {
                if (line == "data: ready") ready.TrySetResult();
                else if (line.StartsWith("data: {", StringComparison.Ordinal)) lines.Enqueue(JsonNode.Parse(line["data: ".Length..])!.AsObject());
            }
        });
        await ready.Task.WaitAsync(TimeSpan.FromSeconds(30));

        try
        {
            // B learns of A's subscriber from A's announcement (and its connection to the output within 2 s): until then
            // its lines are not relayed, so send to B until a batch of its shows on A, inbound and delivered.
            var sent = new List<string>();
            string? seen = null;
            await Waiting.Until(async () =>
            {
                seen = sent.FirstOrDefault(c => Lines(lines, c, "inbound").Any() && Lines(lines, c, "outbound").Any());
                if (seen is not null) return true;
                var customer = Api.NewId("live-b");
                using var accepted = await nodes.B.SendAsync(Batch(customer, "Seen from the other node"));
                accepted.StatusCode.ShouldBe(HttpStatusCode.Accepted);
                sent.Add(customer);
                await Task.Delay(300);
                return false;
            }, "a batch sent to node B on node A's Live Stream, received and delivered", 60);
            var inbound = Lines(lines, seen!, "inbound").First();
            inbound["batch"]!["events"]![0]!["data"]!["event_name"]!.GetValue<string>().ShouldBe("Seen from the other node");
            Lines(lines, seen!, "outbound").First()["output_id"].ShouldNotBeNull();

            // A batch too large for a NOTIFY is shown cut, and says so.
            var large = Api.NewId("live-large");
            var padding = new string('x', 4_000); // three of them: over 8,000 bytes, each value within the 4,096 characters allowed
            using (var accepted = await nodes.B.SendAsync(Batch(large, "Large", $$""", "user_attributes": { "p1": "{{padding}}", "p2": "{{padding}}", "p3": "{{padding}}" }""")))
                accepted.StatusCode.ShouldBe(HttpStatusCode.Accepted);
            await Waiting.Until(() => Task.FromResult(lines.Any(l => l["direction"]!.GetValue<string>() == "inbound" && l["warnings"] is JsonArray w
                && w.Any(x => x!.GetValue<string>().Contains("8,000 bytes")))), "the large batch, cut, on node A", 30);
        }
        catch
        {
            output.WriteLine(nodes.Output);
            throw;
        }
        finally
        {
            await stop.CancelAsync();
            try { await reading; } catch (Exception) { /* the stream ends with the cancellation */ }
        }
    }

    [Fact]
    public async Task sixteen_concurrent_identify_calls_for_one_new_device_split_over_two_nodes_end_in_one_mpid()
    {
        for (var round = 0; round < 5; round++)
        {
            var device = Api.NewId("idsync-nodes");
            var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var calls = Enumerable.Range(0, 16).Select(i => Task.Run(async () =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/identify")
                {
                    Content = JsonContent.Create(new
                    {
                        client_sdk = new { platform = "web", sdk_vendor = "mparticle", sdk_version = "2.68.0" },
                        environment = "development", request_id = Guid.NewGuid().ToString(),
                        request_timestamp_ms = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                        known_identities = new { device_application_stamp = device },
                    }),
                };
                request.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
                await go.Task;
                using var response = await (i % 2 == 0 ? nodes.A : nodes.B).SendAsync(request); // eight calls to each node
                var text = await response.Content.ReadAsStringAsync();
                response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
                return JsonNode.Parse(text)!["mpid"]!.GetValue<string>();
            })).ToList();
            go.SetResult();
            var answered = await Task.WhenAll(calls);

            var people = await PeopleHolding(device);
            output.WriteLine($"round {round}: {answered.Distinct().Count()} MPID(s) answered, {people.Count} person(s) hold the device");
            people.Count.ShouldBe(1, $"one person for the device identified on both nodes at once (round {round})");
            answered.ShouldAllBe(m => m == people[0].ToString(System.Globalization.CultureInfo.InvariantCulture), "every call answered with that person");
        }
    }

    private static HttpClient Admin(HttpClient node)
    {
        var client = new HttpClient { BaseAddress = node.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = AppFixture.Basic("admin", "admin-password");
        return client;
    }

    private static async Task<HttpResponseMessage> Status(HttpClient node, string key, string secret)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v3/requests/{Guid.NewGuid()}");
        request.Headers.Authorization = AppFixture.Basic(key, secret);
        return await node.SendAsync(request);
    }

    private static HttpRequestMessage Batch(string customer, string eventName, string extra = "")
    {
        var json = $$"""
            { "environment": "development", "user_identities": { "customer_id": "{{customer}}" }{{extra}},
              "events": [ { "event_type": "custom_event", "data": { "event_name": "{{eventName}}", "custom_event_type": "other" } } ] }
            """;
        var request = new HttpRequestMessage(HttpMethod.Post, "/v2/events") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
        return request;
    }

    private static IEnumerable<JsonObject> Lines(IEnumerable<JsonObject> lines, string customer, string direction) =>
        lines.Where(l => l["direction"]!.GetValue<string>() == direction && l["batch"]!.ToJsonString().Contains(customer, StringComparison.Ordinal));

    private async Task<List<long>> PeopleHolding(string value)
    {
        await using var command = nodes.Db.CreateCommand($"select distinct mpid from {nodes.Schema}.ep_identity_index where identity_value = $1");
        command.Parameters.AddWithValue(value);
        var people = new List<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) people.Add(reader.GetInt64(0));
        return people;
    }
}
