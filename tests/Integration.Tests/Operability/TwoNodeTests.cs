using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;
using Npgsql;
using Xunit.Abstractions;

namespace EventProfiles.Integration.Tests.Operability;

/// <summary>
/// Two Host processes on ports of their own over one database (a schema of their own), in the default Balanced
/// durability: Wolverine elects a leader and places the calculations shard and the one-node loops on one of them.
/// Clients alternate between the nodes, a calculated attribute and a webhook connection are active. The node that runs
/// the calculations agent is killed with SIGKILL under load: nothing answered 202 is lost or stored twice, the survivor
/// takes the agent over (the time is printed), delivers what the dead node had claimed, and a rebuild equals live.
/// Then the survivor is stopped gracefully under load: it finishes what it accepted and refuses the rest with 503.
/// </summary>
[Collection(AppCollection.Name)]
public class TwoNodeTests(AppFixture app, ITestOutputHelper output)
{
    private const string CalculationsAgent = "event-subscriptions://%/personcalculations/all";
    private string Schema => $"{app.Schema}_nodes";

    [Fact]
    public async Task two_nodes_share_one_database_and_the_survivor_of_a_kill_takes_over_the_calculations_and_the_deliveries()
    {
        await using var receiver = await Receiver.StartAsync();
        var (portA, portB) = (HostProcess.FreePort(), HostProcess.FreePort());
        using var clientA = Client(portA);
        using var clientB = Client(portB);

        await using var nodeA = HostProcess.Start("Development", Settings(portA));
        await nodeA.WaitUntilLiveAsync(clientA);
        // A alone: it is the leader and is given the calculations agent.
        var idA = await WaitFor(() => AgentNodeAsync(CalculationsAgent), "the calculations agent on the first node", 60);
        await using var nodeB = HostProcess.Start("Development", Settings(portB));
        await nodeB.WaitUntilLiveAsync(clientB);
        var idB = await WaitFor(() => OtherNodeAsync(idA), "the second node to join", 60);
        var processes = new Dictionary<Guid, (HostProcess Process, HttpClient Client, string Name)>
        {
            [idA] = (nodeA, clientA, "A"), [idB] = (nodeB, clientB, "B"),
        };

        // A webhook connection made through one node, a calculated attribute through the other.
        using var admin = Client(portA);
        admin.DefaultRequestHeaders.Authorization = AppFixture.Basic("admin", "admin-password");
        var outputId = await CreatedIdAsync(await admin.PostAsJsonAsync("/api/admin/outputs",
            new { name = Api.NewId("out"), kind = "webhook", webhook = new { url = receiver.Url } }));
        using (var connected = await admin.PostAsJsonAsync("/api/admin/connections", new { input = "demo-server", output_id = outputId, active = true }))
            connected.StatusCode.ShouldBe(HttpStatusCode.Created, await connected.Content.ReadAsStringAsync());
        var attribute = $"node_count_{Guid.NewGuid():N}"[..24];
        var eventName = Api.NewId("Node test");
        await ActivateCalculatedAttributeAsync(clientB, attribute, eventName);
        // Each node reads definitions and connections at most every 2 s: both forward before the load starts.
        await UntilForwardingAsync(clientA, receiver, eventName);
        await UntilForwardingAsync(clientB, receiver, eventName);

        // Load: 8 clients, each request to the other node than the last one.
        var accepted = new ConcurrentBag<string>();
        // For a failure's message: which node answered each 202, and when after the kill (null: before it).
        var sentTo = new ConcurrentDictionary<string, (string Node, TimeSpan? AfterKill)>();
        Stopwatch? killedAt = null;
        var acceptedBySurvivor = 0;
        using var stop = new CancellationTokenSource();
        var holder = await AgentNodeAsync(CalculationsAgent) ?? throw new InvalidOperationException("no node runs the calculations agent");
        var survivor = holder == idA ? idB : idA;
        var senders = Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
        {
            for (var k = i; !stop.IsCancellationRequested; k++)
            {
                var node = k % 2 == 0 ? idA : idB;
                var customer = Api.NewId("node");
                try
                {
                    using var response = await processes[node].Client.SendAsync(Batch(customer, eventName));
                    if (response.StatusCode != HttpStatusCode.Accepted) continue;
                    accepted.Add(customer);
                    sentTo[customer] = (processes[node].Name, killedAt?.Elapsed);
                    if (node == survivor) Interlocked.Increment(ref acceptedBySurvivor);
                }
                catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException) { } // never acknowledged
            }
        })).ToList();

        await Waiting.Until(() => Task.FromResult(accepted.Count >= 300), "300 batches answered 202 before the kill", 120);
        killedAt = Stopwatch.StartNew();
        await processes[holder].Process.KillAsync();
        var takenOver = await WaitFor(async () => await AgentNodeAsync(CalculationsAgent) == survivor ? (Guid?)survivor : null,
            "the survivor to take the calculations agent over", 90);
        var takeover = killedAt.Elapsed;
        var before = Volatile.Read(ref acceptedBySurvivor);
        await Waiting.Until(() => Task.FromResult(Volatile.Read(ref acceptedBySurvivor) >= before + 200), "200 more batches answered 202 by the survivor", 120);
        await stop.CancelAsync();
        await Task.WhenAll(senders);
        output.WriteLine($"node {processes[holder].Name} (calculations agent) killed after {accepted.Count - (Volatile.Read(ref acceptedBySurvivor) - before)} batches answered 202; " +
                         $"node {processes[takenOver].Name} ran the agent {takeover.TotalSeconds:F1} s after the SIGKILL (heartbeat 1 s, stale after 3 s); {accepted.Count} batches answered 202 in all");

        // Nothing answered 202 is lost or stored twice: one person and one captured event per accepted batch.
        var customers = accepted.ToArray();
        (await ScalarAsync($"select count(*) from {Schema}.ep_identity_index where identity_value = any($1)", customers)).ShouldBe(customers.Length);
        (await ScalarAsync($"""
            select count(*) from {Schema}.mt_events e join {Schema}.ep_identity_index i on e.stream_id = i.mpid::text
            where i.identity_value = any($1) and e.type = 'event_captured'
            """, customers)).ShouldBe(customers.Length, "one captured event per accepted batch");

        // Deliveries the dead node had claimed are delivered by the survivor.
        await Waiting.Until(() => Task.FromResult(customers.All(c => receiver.BatchesOf(c).Count > 0)),
            "every accepted batch at the webhook receiver", 90);

        // The survivor's shard applied everything, and a rebuild (on the survivor) equals live.
        var client = processes[survivor].Client;
        await Waiting.Until(async () => await ScalarAsync($"""
            select coalesce((select last_seq_id from {Schema}.mt_event_progression where name = 'PersonCalculations:All'), 0)
                   >= (select max(seq_id) from {Schema}.mt_events)::bigint
            """) == 1, "the calculations shard to catch up on the survivor", 90);
        var token = await client.TokenAsync();
        foreach (var customer in customers.Take(40))
            (await UserAttributesAsync(client, token, customer))[attribute]?.ToString().ShouldBe("1", $"{attribute} of {customer}");
        var live = await CalculationsOfAsync(customers);
        if (live.Count != customers.Length)
            live.Count.ShouldBe(customers.Length, await MissingCalculationsAsync(customers, live, sentTo, processes.Values.Select(p => (p.Name, p.Process)).ToArray()));
        using var survivorAdmin = Client(new Uri(client.BaseAddress!.ToString()).Port);
        survivorAdmin.DefaultRequestHeaders.Authorization = admin.DefaultRequestHeaders.Authorization;
        var job = await CreatedJobAsync(await survivorAdmin.PostAsJsonAsync("/api/admin/jobs", new { kind = "rebuild", parameters = new { projection = "calculations" } }));
        await Waiting.Until(async () => (await survivorAdmin.GetFromJsonAsync<JsonObject>($"/api/admin/jobs/{job}"))!["status"]!.GetValue<string>() == "completed",
            "the calculations rebuild to complete", 90);
        (await CalculationsOfAsync(customers)).ShouldBe(live, "rebuilt equals live");
        // The rebuild paused the shard through a restriction; lifting it started the shard again: a new event is counted.
        var afterRebuild = Api.NewId("node-after");
        using (var response = await client.SendAsync(Batch(afterRebuild, eventName))) response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        await Waiting.Until(async () => (await UserAttributesAsync(client, token, afterRebuild))[attribute]?.ToString() == "1",
            "the resumed shard to count an event sent after the rebuild", 60);

        // A graceful stop (SIGTERM) under load: what was answered 202 is stored; new work is refused (503 + Retry-After)
        // while the node drains, and not taken once it stopped listening.
        var lastAccepted = new ConcurrentBag<string>();
        var statuses = new ConcurrentBag<string>();
        var stopping = processes[survivor].Process;
        var firstAccepted = new TaskCompletionSource();
        var lastSenders = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (!stopping.Process.HasExited)
            {
                var customer = Api.NewId("term");
                try
                {
                    using var response = await client.SendAsync(Batch(customer, eventName));
                    statuses.Add(response.StatusCode == HttpStatusCode.ServiceUnavailable
                        ? $"503 Retry-After={response.Headers.RetryAfter}" : ((int)response.StatusCode).ToString());
                    if (response.StatusCode == HttpStatusCode.Accepted) { lastAccepted.Add(customer); firstAccepted.TrySetResult(); }
                }
                catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException) { statuses.Add("not taken"); await Task.Delay(20); }
            }
        })).ToList();
        await firstAccepted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        using (var term = Process.Start("kill", ["-TERM", stopping.Process.Id.ToString()])) await term.WaitForExitAsync();
        await stopping.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await Task.WhenAll(lastSenders);
        output.WriteLine($"graceful stop: exit code {stopping.Process.ExitCode}; " + string.Join(", ", statuses.GroupBy(s => s).Select(g => $"{g.Key}: {g.Count()}")));
        stopping.Process.ExitCode.ShouldBe(0, stopping.Output);
        statuses.ShouldAllBe(s => s == "202" || s == "503 Retry-After=1" || s == "not taken");
        statuses.ShouldContain("503 Retry-After=1", "new work while draining is refused with 503 and Retry-After");
        var stored = lastAccepted.ToArray();
        (await ScalarAsync($"select count(*) from {Schema}.ep_identity_index where identity_value = any($1)", stored)).ShouldBe(stored.Length);
    }

    private static async Task<T> WaitFor<T>(Func<Task<T?>> value, string what, int seconds) where T : struct
    {
        T? found = null;
        await Waiting.Until(async () => (found = await value()) is not null, what, seconds);
        return found!.Value;
    }

    private Dictionary<string, string> Settings(int port) => new(HostProcessApi.Settings(Environment.GetEnvironmentVariable("ConnectionStrings__EventProfiles")!, Schema, port))
    {
        ["EventProfiles__Durability"] = "Balanced",
        // A dead node is noticed in seconds, not a minute (Wolverine's defaults are 10 s / 1 min / 30 s).
        ["EventProfiles__Nodes__HeartbeatMs"] = "1000",
        ["EventProfiles__Nodes__StaleNodeMs"] = "3000",
        ["EventProfiles__Nodes__CheckAssignmentMs"] = "1000",
        ["EventProfiles__Nodes__RecoveryPollingMs"] = "1000",
        // On SIGTERM the node answers 503 + Retry-After for a while before it stops listening (a balancer moves the work).
        ["EventProfiles__Nodes__DrainMs"] = "1500",
        ["EventProfiles__Forwarding__RetryDelaysMs__0"] = "100",
        ["EventProfiles__Forwarding__RetryDelaysMs__1"] = "200",
        ["EventProfiles__Forwarding__RetryDelaysMs__2"] = "400",
        ["EventProfiles__Forwarding__RetryDelaysMs__3"] = "800",
        ["EventProfiles__Forwarding__RetryDelaysMs__4"] = "1600",
    };

    private static HttpClient Client(int port) => HostProcessApi.Client(port);

    private static HttpRequestMessage Batch(string customer, string eventName) => HostProcessApi.Batch(customer, eventName);

    /// <summary>Sends a probe batch through the node every half second until the receiver has one of them.</summary>
    private static async Task UntilForwardingAsync(HttpClient client, Receiver receiver, string eventName)
    {
        var probes = new List<string>();
        await Waiting.Until(async () =>
        {
            if (probes.Any(p => receiver.BatchesOf(p).Count > 0)) return true;
            var probe = Api.NewId("probe");
            using var response = await client.SendAsync(Batch(probe, eventName + "-probe"));
            response.StatusCode.ShouldBe(HttpStatusCode.Accepted);
            probes.Add(probe);
            await Task.Delay(500);
            return false;
        }, "the connection to forward on every node", 60);
    }

    private static async Task ActivateCalculatedAttributeAsync(HttpClient client, string name, string eventName)
    {
        var token = await client.TokenAsync();
        const string path = "/platform/v2/workspaces/1/calculatedattributes";
        var definition = $$"""
            { "recipe_type": "event", "data_point": { "type": "event", "event_type": "custom_event", "event_name": "{{eventName}}", "attribute_name": null },
              "conditions": [], "calculation_type": "count", "time_period": { "type": "within", "within": 30, "within_unit": "days" } }
            """;
        using var created = await client.BearerAsync(token, HttpMethod.Post, path, $$"""{ "name": "{{name}}", "draft_definition": {{definition}} }""");
        var id = await created.Content.ReadAsStringAsync();
        created.StatusCode.ShouldBe(HttpStatusCode.OK, id);
        using (var activated = await client.BearerAsync(token, HttpMethod.Post, $"{path}/{id}/activation"))
            activated.StatusCode.ShouldBe(HttpStatusCode.NoContent, await activated.Content.ReadAsStringAsync());
        await Waiting.Until(async () =>
        {
            using var read = await client.BearerAsync(token, HttpMethod.Get, $"{path}/{id}");
            return JsonNode.Parse(await read.Content.ReadAsStringAsync())!["status"]!.GetValue<string>() == "ready";
        }, $"calculated attribute {id} to be ready", 60);
    }

    private static async Task<JsonObject> UserAttributesAsync(HttpClient client, string token, string customer)
    {
        using var response = await client.BearerAsync(token, HttpMethod.Post, "/userprofile/v1/resolve/1/1/1?fields=user_attributes",
            $$"""{ "environment_type": "development", "identity": { "type": "customer_id", "value": "{{customer}}" } }""");
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!["user_attributes"]!.AsObject();
    }

    private static async Task<string> CreatedIdAsync(HttpResponseMessage response)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            response.StatusCode.ShouldBe(HttpStatusCode.Created, text);
            return JsonNode.Parse(text)!["id"]!.ToString();
        }
    }

    private static async Task<string> CreatedJobAsync(HttpResponseMessage response)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            response.StatusCode.ShouldBe(HttpStatusCode.Accepted, text);
            return JsonNode.Parse(text)!["id"]!.GetValue<string>();
        }
    }

    /// <summary>The node Wolverine assigned an agent to (read from its assignment table: what the leader decided).</summary>
    private async Task<Guid?> AgentNodeAsync(string agentPattern)
    {
        await using var command = app.Db.CreateCommand(
            $"select a.node_id from {Schema}.wolverine_node_assignments a join {Schema}.wolverine_nodes n on n.id = a.node_id where a.id like $1");
        command.Parameters.AddWithValue(agentPattern);
        try { return await command.ExecuteScalarAsync() as Guid?; }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable) { return null; } // not created yet
    }

    private async Task<Guid?> OtherNodeAsync(Guid known)
    {
        await using var command = app.Db.CreateCommand($"select id from {Schema}.wolverine_nodes where id <> $1");
        command.Parameters.AddWithValue(known);
        return await command.ExecuteScalarAsync() as Guid?;
    }

    /// <summary>The calculated-attribute state of these people, as stored (jsonb text, so equal documents compare equal).</summary>
    /// <summary>
    /// What a failure needs to be told apart: the people without calculations by the node that answered and the time
    /// after the kill, their events' sequence numbers beside the shard's and the high-water mark's, and the nodes' log
    /// lines on the shard and on sequence gaps.
    /// </summary>
    private async Task<string> MissingCalculationsAsync(string[] customers, Dictionary<string, string> live,
        ConcurrentDictionary<string, (string Node, TimeSpan? AfterKill)> sentTo, (string Name, HostProcess Process)[] nodes)
    {
        var report = new StringBuilder();
        await using (var command = app.Db.CreateCommand($"""
            select i.identity_value, i.mpid, e.seq_id, e.type from {Schema}.ep_identity_index i
            left join {Schema}.mt_events e on e.stream_id = i.mpid::text
            where i.identity_value = any($1) and i.mpid::text <> all($2) order by e.seq_id
            """))
        {
            command.Parameters.AddWithValue(customers);
            command.Parameters.AddWithValue(live.Keys.ToArray());
            await using var reader = await command.ExecuteReaderAsync();
            var rows = new List<string>();
            while (await reader.ReadAsync())
            {
                var customer = reader.GetString(0);
                var (node, after) = sentTo.GetValueOrDefault(customer);
                rows.Add($"{customer} mpid {reader.GetInt64(1)} seq {(reader.IsDBNull(2) ? "-" : reader.GetInt64(2))} {(reader.IsDBNull(3) ? "" : reader.GetString(3))} " +
                         $"via {node} {(after is { } a ? $"{a.TotalSeconds:F1} s after the kill" : "before the kill")}");
            }
            report.AppendLine($"{rows.Count} event rows of people without calculations; the first and last 10:");
            foreach (var row in rows.Take(10).Concat(rows.Skip(Math.Max(10, rows.Count - 10)))) report.AppendLine("  " + row);
        }
        await using (var command = app.Db.CreateCommand($"select name, last_seq_id from {Schema}.mt_event_progression order by name"))
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync()) report.AppendLine($"progression {reader.GetString(0)}: {reader.GetInt64(1)}");
        string[] topics = ["calculations shard", "gap", "high water", "skip", "personcalculations"];
        foreach (var (name, process) in nodes)
            foreach (var line in process.Output.Split('\n').Where(l => topics.Any(t => l.Contains(t, StringComparison.OrdinalIgnoreCase))).TakeLast(40))
                report.AppendLine($"node {name}: {line}");
        return report.ToString();
    }

    private async Task<Dictionary<string, string>> CalculationsOfAsync(string[] customers)
    {
        await using var command = app.Db.CreateCommand($"""
            select c.id, c.data::text from {Schema}.mt_doc_calculated_attribute_state c join {Schema}.ep_identity_index i on c.id = i.mpid::text
            where i.identity_value = any($1)
            """);
        command.Parameters.AddWithValue(customers);
        var result = new Dictionary<string, string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) result[reader.GetString(0)] = reader.GetString(1);
        return result;
    }

    private async Task<long> ScalarAsync(string sql, string[]? values = null)
    {
        await using var command = app.Db.CreateCommand(sql);
        if (values is not null) command.Parameters.AddWithValue(values);
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }
}
