using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Domain.Operations;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Operations;

/// <summary>Data replay: exactly the stored batches of a time range, to one output, marked, under today's connection rules.</summary>
[Collection(AppCollection.Name)]
public sealed class ReplayTests(AppFixture app) : WithReceiver(app)
{
    [Fact]
    public async Task a_replay_delivers_exactly_the_stored_batches_of_its_range_marked_as_replayed_and_filtered_as_the_connection_is_now()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var customer = $"replay-{s}";
        await NewOutputAsync();
        var connection = (await App.Connect(AppFixture.ForwardingInput, OutputId))["id"]!.GetValue<string>();
        async Task Send(int step) => await App.Ingested($$"""
            { "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "stage": "{{step}}" },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "Step {{step}}", "custom_event_type": "other" } },
                          { "event_type": "custom_event", "data": { "event_name": "Noise {{s}}", "custom_event_type": "other" } } ] }
            """, key: AppFixture.ForwardingKey, secret: AppFixture.ForwardingSecret);

        await Send(1);
        await Task.Delay(20);
        var from = App.Clock.GetUtcNow();
        await Send(2);
        await Send(3);
        var to = App.Clock.GetUtcNow();
        await Task.Delay(20);
        await Send(4);
        await Waiting.Until(() => Task.FromResult(Receiver.BatchesOf(customer).Count == 4), "the live deliveries");
        // Live deliveries are sent in parallel, so arrival order says nothing: find each batch by its step event.
        string BatchOfStep(int step) => Receiver.BatchesOf(customer).Single(b => b["events"]!.AsArray()
            .Any(e => e!["data"]?["event_name"]?.GetValue<string>() == $"Step {step}"))["batch_id"]!.GetValue<string>();
        var (step2, step3) = (BatchOfStep(2), BatchOfStep(3));

        // Since then the connection blocks the noise event: the replay follows the rule as it is now.
        using (var update = await App.AdminClient().PutAsJsonAsync($"/api/admin/connections/{connection}", new
        {
            input = AppFixture.ForwardingInput, output_id = OutputId, active = true,
            filter = new { blocked_event_names = new[] { new { event_type = "custom_event", event_name = $"Noise {s}" } } },
        }))
            update.StatusCode.ShouldBe(HttpStatusCode.OK, await update.Content.ReadAsStringAsync());

        var job = await App.StartJob(OperationKinds.Replay, new { input = AppFixture.ForwardingInput, connection, from = from.ToString("O"), to = to.ToString("O") }, workspace: 1);
        var done = await App.Completed(job["id"]!.GetValue<string>());
        done["done"]!.GetValue<long>().ShouldBe(2);
        done["events"]!.GetValue<long>().ShouldBe(4);

        await Waiting.Until(() => Task.FromResult(Receiver.BatchesOf(customer).Count == 6), "the replayed deliveries");
        await Task.Delay(300); // nothing more comes
        var replayed = Receiver.BatchesOf(customer).Where(b => b["source_info"]?["is_replay"]?.GetValue<bool>() == true).ToList();
        // Enqueued in stored order; delivered in parallel like live traffic, so they may arrive in either order.
        replayed.Select(b => b["batch_id"]!.GetValue<string>()).ShouldBe([step2, step3], ignoreOrder: true);
        foreach (var batch in replayed)
        {
            batch["replay"]!["replay_id"]!.GetValue<string>().ShouldBe(job["id"]!.GetValue<string>());
            batch["events"]!.AsArray().Select(e => e!["data"]!["event_name"]!.GetValue<string>()).ShouldNotContain($"Noise {s}");
            batch["user_attributes"]!["stage"]!.GetValue<string>().ShouldBe("4"); // enriched from the profile as it is now
        }
        replayed.Single(b => b["batch_id"]!.GetValue<string>() == step2)["events"]!.AsArray().Single()!["data"]!["event_name"]!.GetValue<string>().ShouldBe("Step 2");
        Receiver.BatchesOf(customer).Count(b => b["source_info"]?["is_replay"] is null).ShouldBe(4); // live ones are not marked
    }

    [Fact]
    public async Task a_replay_to_an_inactive_connection_delivers_its_batches_as_a_backfill()
    {
        var customer = Api.NewId("replay-inactive");
        await NewOutputAsync();
        var connection = (await App.Connect(AppFixture.ForwardingInput, OutputId))["id"]!.GetValue<string>();
        using (var off = await App.AdminClient().PutAsJsonAsync($"/api/admin/connections/{connection}",
                   new { input = AppFixture.ForwardingInput, output_id = OutputId, active = false }))
            off.StatusCode.ShouldBe(HttpStatusCode.OK, await off.Content.ReadAsStringAsync());
        var from = App.Clock.GetUtcNow();
        await App.Ingested($$"""{ "user_identities": { "customer_id": "{{customer}}" }, "events": [ { "event_type": "custom_event", "data": { "event_name": "Backfill", "custom_event_type": "other" } } ] }""",
            key: AppFixture.ForwardingKey, secret: AppFixture.ForwardingSecret);
        var to = App.Clock.GetUtcNow().AddMilliseconds(1);
        (await App.Output(OutputId))["counters"]!["enqueued"]!.GetValue<long>().ShouldBe(0); // inactive: nothing forwarded live

        var job = await App.StartJob(OperationKinds.Replay, new { input = AppFixture.ForwardingInput, connection, from = from.ToString("O"), to = to.ToString("O") }, workspace: 1);
        (await App.Completed(job["id"]!.GetValue<string>()))["done"]!.GetValue<long>().ShouldBe(1);

        // What the job reports replayed is what arrives.
        await Waiting.Until(() => Task.FromResult(Receiver.BatchesOf(customer).Count == 1), "the replayed batch");
        Receiver.BatchesOf(customer).Single()["source_info"]!["is_replay"]!.GetValue<bool>().ShouldBeTrue();
    }
}
