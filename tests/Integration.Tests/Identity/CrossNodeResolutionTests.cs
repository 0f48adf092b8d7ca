using System.Net;
using System.Text;
using EventProfiles.Integration.Tests.Fixtures;
using Xunit.Abstractions;

namespace EventProfiles.Integration.Tests.Identity;

/// <summary>
/// Issue 18 §2: two nodes over one database receive the first batches of the same new person at once. Each node's
/// in-flight claims only know its own batches; the cross-node identity locks make the later node see the earlier one's
/// person and resolve to it. Devices have no unique index, so without the locks the device case ends in two people.
/// Both nodes are Host processes of their own on a schema of their own, so nothing else of the suite is touched.
/// </summary>
[Collection(AppCollection.Name)]
public class CrossNodeResolutionTests(AppFixture app, ITestOutputHelper output)
{
    private const int Rounds = 5;
    private const int BatchesPerRound = 16;

    [Fact]
    public async Task sixteen_first_batches_of_one_new_person_split_over_two_nodes_end_in_one_mpid()
    {
        // A schema of its own: TwoNodeTests reads the node registry of `_nodes`, where these killed nodes would linger.
        var schema = $"{app.Schema}_xnodes";
        var nodes = new List<(HostProcess Host, HttpClient Client)>();
        try
        {
            // One after the other: the first creates the schema, the second finds it.
            for (var i = 0; i < 2; i++)
            {
                var port = HostProcess.FreePort();
                var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
                var host = HostProcess.Start("Development", new Dictionary<string, string>
                {
                    ["ConnectionStrings__EventProfiles"] = Environment.GetEnvironmentVariable("ConnectionStrings__EventProfiles")!,
                    ["EventProfiles__Schema"] = schema,
                    ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
                });
                nodes.Add((host, client));
                await host.WaitUntilLiveAsync(client);
            }

            foreach (var (kind, body) in Cases)
            {
                for (var round = 0; round < Rounds; round++)
                {
                    var value = Api.NewId($"nodes-{kind}");
                    var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    var sending = Enumerable.Range(0, BatchesPerRound).Select(i => Task.Run(async () =>
                    {
                        var client = nodes[i % 2].Client; // alternating: eight batches to each node
                        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/events")
                        {
                            Content = new StringContent(body(value), Encoding.UTF8, "application/json"),
                        };
                        request.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
                        await go.Task;
                        using var response = await client.SendAsync(request);
                        return response.StatusCode;
                    })).ToList();
                    go.SetResult(); // all sixteen at once
                    var answers = await Task.WhenAll(sending);
                    answers.ShouldAllBe(s => s == HttpStatusCode.Accepted);

                    var people = await PeopleHolding(schema, value);
                    output.WriteLine($"{kind} round {round}: {people.Length} person(s)");
                    if (people.Length != 1)
                        foreach (var (host, _) in nodes) output.WriteLine(host.Output);
                    people.Length.ShouldBe(1, $"one person for the {kind} sent to both nodes at once (round {round})");
                    (await EventsOf(schema, people[0])).ShouldBe(BatchesPerRound, "every batch's event on that person's stream");
                }
            }
        }
        finally
        {
            foreach (var (host, client) in nodes)
            {
                client.Dispose();
                await host.DisposeAsync();
            }
        }
    }

    private static readonly (string Kind, Func<string, string> Body)[] Cases =
    [
        ("device", v => Batch($$""" "device_info": { "ios_idfv": "{{v}}" } """)),
        ("email", v => Batch($$""" "user_identities": { "email": "{{v}}@example.org" } """)),
        ("customer", v => Batch($$""" "user_identities": { "customer_id": "{{v}}" } """)),
    ];

    private static string Batch(string identities) => $$"""
        { "environment": "development", {{identities}},
          "events": [ { "event_type": "custom_event", "data": { "event_name": "First touch", "custom_event_type": "other" } } ] }
        """;

    private async Task<long[]> PeopleHolding(string schema, string value)
    {
        await using var command = app.Db.CreateCommand(
            $"select distinct mpid from {schema}.ep_identity_index where identity_value in ($1, $1 || '@example.org')");
        command.Parameters.AddWithValue(value);
        var people = new List<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) people.Add(reader.GetInt64(0));
        return people.ToArray();
    }

    private async Task<long> EventsOf(string schema, long mpid)
    {
        await using var command = app.Db.CreateCommand(
            $"select count(*) from {schema}.mt_events where stream_id = $1 and type = 'event_captured'");
        command.Parameters.AddWithValue(mpid.ToString());
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
