using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Domain.Operations;
using EventProfiles.Integration.Tests.Fixtures;
using Npgsql;

namespace EventProfiles.Integration.Tests.Forwarding;

/// <summary>
/// Issue 15, goal 3: one transaction's batches for one output wait as one group (one durable envelope carrying only
/// ids, the batches as rows of ep_deliveries) and are delivered in order, one POST each; a batch the receiver fails or
/// refuses leaves the group and is retried or dead-lettered on its own, without redelivering the others. A data replay
/// writes up to 200 stored batches in one transaction, so it makes groups of a known size.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class DeliveryGroupTests(AppFixture app) : WithReceiver(app)
{
    private static string Batch(string customer) => $$"""
        { "environment": "development", "user_identities": { "customer_id": "{{customer}}" },
          "events": [ { "event_type": "custom_event", "data": { "event_name": "Grouped", "custom_event_type": "other" } } ] }
        """;

    private static string? CustomerOf(JsonObject batch) =>
        batch["user_identities"]?.AsArray().Select(i => i?["identity"]?.GetValue<string>()).FirstOrDefault(v => v?.StartsWith("group-") == true);

    /// <summary>Sends these people's batches (before the output is connected), then replays them to it in one transaction.</summary>
    private async Task<string> ReplayedAsync(IReadOnlyList<string> customers)
    {
        await Task.Delay(20);
        var from = App.Clock.GetUtcNow();
        foreach (var c in customers) await App.Ingested(Batch(c), key: AppFixture.ForwardingKey, secret: AppFixture.ForwardingSecret);
        var to = App.Clock.GetUtcNow();
        await Task.Delay(20);
        if (OutputId.Length == 0) await NewOutputAsync();
        var connection = (await App.Connect(AppFixture.ForwardingInput, OutputId))["id"]!.GetValue<string>();
        var job = await App.StartJob(OperationKinds.Replay, new { input = AppFixture.ForwardingInput, connection, from = from.ToString("O"), to = to.ToString("O") }, workspace: 1);
        (await App.Completed(job["id"]!.GetValue<string>()))["done"]!.GetValue<long>().ShouldBe(customers.Count);
        return connection;
    }

    /// <summary>The output's waiting batches (an erasure's notice to the output, issue 16 item 5, waits beside them and is not one).</summary>
    private async Task<List<(Guid? Group, long Mpid)>> WaitingRows(string outputId)
    {
        await using var command = App.Db.CreateCommand($"select group_id, mpid from {App.Schema}.ep_deliveries where output_id = $1 and input not like 'erasure:%' order by position");
        command.Parameters.Add(new NpgsqlParameter { Value = outputId });
        var rows = new List<(Guid?, long)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) rows.Add((reader.IsDBNull(0) ? null : reader.GetGuid(0), reader.GetInt64(1)));
        return rows;
    }

    private async Task<JsonArray> DeadLetters() =>
        (await App.AdminClient().GetFromJsonAsync<JsonArray>($"/api/admin/outputs/{OutputId}/dead-letters"))!;

    [Fact]
    public async Task one_transactions_batches_for_an_output_wait_as_one_group_and_arrive_in_order()
    {
        var customers = Enumerable.Range(0, 5).Select(i => Api.NewId($"group-{i}")).ToList();
        await NewOutputAsync();
        using (var pause = await App.AdminClient().PostAsync($"/api/admin/outputs/{OutputId}/pause", null)) pause.StatusCode.ShouldBe(HttpStatusCode.OK);
        await ReplayedAsync(customers);

        var waiting = await WaitingRows(OutputId);
        waiting.Count.ShouldBe(5);
        waiting.Select(r => r.Group).Distinct().Count().ShouldBe(1); // one group, so one envelope
        var mpids = new List<long>();
        foreach (var c in customers) mpids.Add((await App.ProfileOf(c))["mpid"]!.GetValue<long>());
        waiting.Select(r => r.Mpid).ShouldBe(mpids); // in the order the batches were stored
        (await App.Output(OutputId))["counters"]!["pending"]!.GetValue<long>().ShouldBe(5);

        using (var resume = await App.AdminClient().PostAsync($"/api/admin/outputs/{OutputId}/resume", null)) resume.StatusCode.ShouldBe(HttpStatusCode.OK);
        await Waiting.Until(() => Task.FromResult(Receiver.Received.Count == 5), "the group's deliveries", seconds: 30);
        Receiver.Received.Select(r => CustomerOf(r.Batch)).ShouldBe(customers);
        await Waiting.Until(async () => (await WaitingRows(OutputId)).Count == 0, "the delivered rows to go");
        await Waiting.Until(async () => (await App.Output(OutputId))["counters"]!["delivered"]!.GetValue<long>() == 5, "the delivered count");
    }

    [Fact]
    public async Task a_batch_refused_within_a_group_is_a_dead_letter_of_its_own_and_the_others_arrive_once()
    {
        var customers = Enumerable.Range(0, 3).Select(i => Api.NewId($"group-{i}")).ToList();
        var refused = customers[1];
        Receiver.StatusFor = b => CustomerOf(b) == refused ? 400 : null;
        await ReplayedAsync(customers);

        JsonArray dead = [];
        await Waiting.Until(async () => (dead = await DeadLetters()).Count == 1, "the refused batch's dead letter");
        await Waiting.Until(() => Task.FromResult(Receiver.Received.Count == 2), "the other two");
        var refusedMpid = (await App.ProfileOf(refused))["mpid"]!.GetValue<long>();
        dead.Single()!["mpid"]!.GetValue<long>().ShouldBe(refusedMpid);
        dead.Single()!["error"]!.GetValue<string>().ShouldContain("400");
        await Task.Delay(300); // nothing more comes
        Receiver.Received.Select(r => CustomerOf(r.Batch)).ShouldBe([customers[0], customers[2]]);
        var counters = (await App.Output(OutputId))["counters"]!;
        counters["failed"]!.GetValue<long>().ShouldBe(1);
        await Waiting.Until(async () => (await App.Output(OutputId))["counters"]!["pending"]!.GetValue<long>() == 0, "nothing pending");
        (await WaitingRows(OutputId)).ShouldBeEmpty();

        // Replayed, the dead letter calls the receiver again (the group's refusal was reported once, not for ever).
        Receiver.StatusFor = null;
        using (var replay = await App.AdminClient().PostAsync($"/api/admin/outputs/{OutputId}/dead-letters/replay", null))
            (await replay.Content.ReadFromJsonAsync<JsonObject>())!["replayed"]!.GetValue<int>().ShouldBe(1);
        await Waiting.Until(() => Task.FromResult(Receiver.BatchesOf(refused).Count == 1), "the replayed batch", seconds: 30);
        Receiver.Received.Count.ShouldBe(3);
    }

    [Fact]
    public async Task a_batch_failing_within_a_group_is_retried_alone_until_it_arrives()
    {
        var customers = Enumerable.Range(0, 3).Select(i => Api.NewId($"group-{i}")).ToList();
        var flaky = customers[0];
        var failures = 0;
        Receiver.StatusFor = b => CustomerOf(b) == flaky && Interlocked.Increment(ref failures) <= 2 ? 503 : null;
        await ReplayedAsync(customers);

        await Waiting.Until(() => Task.FromResult(Receiver.Received.Count == 3), "every batch", seconds: 30);
        await Task.Delay(300); // nothing more comes
        failures.ShouldBe(3); // the group's attempt, one retry failing, one arriving: per batch as when queued alone
        customers.ShouldAllBe(c => Receiver.BatchesOf(c).Count == 1);
        Receiver.Received.Select(r => r.DeliveryId).Distinct().Count().ShouldBe(3);
        (await DeadLetters()).ShouldBeEmpty();
        await Waiting.Until(async () => (await App.Output(OutputId))["counters"]!["delivered"]!.GetValue<long>() == 3, "the delivered count");
    }

    [Fact]
    public async Task erasing_one_person_of_a_waiting_group_removes_their_batch_only()
    {
        var customers = Enumerable.Range(0, 3).Select(i => Api.NewId($"group-{i}")).ToList();
        var erased = customers[1];
        await NewOutputAsync();
        using (var pause = await App.AdminClient().PostAsync($"/api/admin/outputs/{OutputId}/pause", null)) pause.StatusCode.ShouldBe(HttpStatusCode.OK);
        await ReplayedAsync(customers);
        var erasedMpid = (await App.ProfileOf(erased))["mpid"]!.GetValue<long>();
        (await WaitingRows(OutputId)).Select(r => r.Mpid).ShouldContain(erasedMpid);

        await DataSubjectRequests.EraseCustomerAsync(App, erased);
        (await WaitingRows(OutputId)).Select(r => r.Mpid).ShouldNotContain(erasedMpid);
        (await WaitingRows(OutputId)).Count.ShouldBe(2);

        using (var resume = await App.AdminClient().PostAsync($"/api/admin/outputs/{OutputId}/resume", null)) resume.StatusCode.ShouldBe(HttpStatusCode.OK);
        var batches = () => Receiver.Received.Where(r => r.Batch["type"] is null).ToList(); // not the erasure notice
        await Waiting.Until(() => Task.FromResult(batches().Count == 2), "the others' deliveries", seconds: 30);
        await Task.Delay(300); // nothing more comes
        batches().Select(r => CustomerOf(r.Batch)).ShouldBe([customers[0], customers[2]]);
    }
}
