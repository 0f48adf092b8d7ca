using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Privacy;

/// <summary>
/// Issue 14, item 2: an erasure deletes the erased person's queued, retried, scheduled and dead-lettered work by the key
/// it was recorded under — never someone else's whose data merely contains one of the erased person's identity values.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class ErasureQueuedWorkTests(AppFixture app) : WithReceiver(app)
{
    private static string Batch(string customer, string other) => $$"""
        { "environment": "development", "user_identities": { "customer_id": "{{customer}}", "other": "{{other}}" },
          "events": [ { "event_type": "custom_event", "data": { "event_name": "Queued", "custom_event_type": "other" } } ] }
        """;

    private async Task<JsonArray> DeadLetters(string outputId) =>
        (await App.AdminClient().GetFromJsonAsync<JsonArray>($"/api/admin/outputs/{outputId}/dead-letters"))!;

    // Forwarded batches only: the erasure's own notice to these outputs (issue 16, item 5) is refused and retried like any delivery.
    private static IEnumerable<long> Mpids(JsonArray dead) => dead.Where(d => d!["kind"]!.GetValue<string>() == "batch").Select(d => d!["mpid"]!.GetValue<long>());

    [Fact]
    public async Task erasing_a_person_leaves_the_queued_work_of_someone_whose_data_contains_their_identity()
    {
        var s = Guid.NewGuid().ToString("N")[..10];
        var erased = (Customer: Api.NewId("erased"), Other: $"ab{s}");
        var kept = (Customer: Api.NewId("kept"), Other: $"xxab{s}xx"); // holds the erased person's `other` as a substring

        // Three outputs on the forwarding input: one refuses for good (dead letters), one keeps failing (retries, then
        // dead letters), one is paused (its deliveries wait as scheduled messages).
        var failing = await Receiver.StartAsync();
        failing.Failing = true;
        var outputs = new List<string>();
        try
        {
            var refusing = (await App.CreateOutput(Receiver.Url.Replace("/hook", "/missing")))["id"]!.GetValue<string>(); // 404
            var retrying = (await App.CreateOutput(failing.Url))["id"]!.GetValue<string>();
            OutputId = await NewOutputAsync(); // the receiver's; deleted by WithReceiver
            var paused = OutputId;
            outputs.AddRange([refusing, retrying]);
            using (var pause = await App.AdminClient().PostAsync($"/api/admin/outputs/{paused}/pause", null)) pause.StatusCode.ShouldBe(HttpStatusCode.OK);
            foreach (var output in new[] { refusing, retrying, paused }) await App.Connect(AppFixture.ForwardingInput, output);

            await App.Ingested(Batch(kept.Customer, kept.Other), key: AppFixture.ForwardingKey, secret: AppFixture.ForwardingSecret);
            await App.Ingested(Batch(erased.Customer, erased.Other), key: AppFixture.ForwardingKey, secret: AppFixture.ForwardingSecret);
            var keptMpid = (await App.ProfileOf(kept.Customer))["mpid"]!.GetValue<long>();
            var erasedMpid = (await App.ProfileOf(erased.Customer))["mpid"]!.GetValue<long>();
            await Waiting.Until(async () => Mpids(await DeadLetters(refusing)).Order().SequenceEqual(new[] { keptMpid, erasedMpid }.Order()), "both refused deliveries");
            (await App.Output(paused))["counters"]!["pending"]!.GetValue<long>().ShouldBe(2);

            var request = Guid.NewGuid().ToString();
            using (var submit = new HttpRequestMessage(HttpMethod.Post, "/v3/requests"))
            {
                submit.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
                submit.Content = new StringContent($$"""
                    { "regulation": "gdpr", "subject_request_id": "{{request}}", "subject_request_type": "erasure", "submitted_time": "2026-11-01T10:00:00Z",
                      "subject_identities": {}, "api_version": "3.0",
                      "extensions": { "opendsr.mparticle.com": { "skip_waiting_period": true, "subject_identities": { "other": { "value": "{{erased.Other}}", "encoding": "raw" } } } } }
                    """, Encoding.UTF8, "application/json");
                using var response = await App.Client.SendAsync(submit);
                response.StatusCode.ShouldBe(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
            }
            await DataSubjectRequests.WaitUntilCompletedAsync(App, request);
            using (var gone = await App.ResolveProfile(erased.Customer)) gone.StatusCode.ShouldBe(HttpStatusCode.NotFound);

            // The kept person's dead letter is still there; the erased person's is gone.
            Mpids(await DeadLetters(refusing)).ShouldBe([keptMpid]);
            // The kept person's failing delivery went on retrying and ends as a dead letter; the erased person's never does.
            await Waiting.Until(async () => Mpids(await DeadLetters(retrying)).Contains(keptMpid), "the retried delivery to run out of attempts", 60);
            Mpids(await DeadLetters(retrying)).ShouldNotContain(erasedMpid);
            // The kept person's scheduled delivery is still waiting: resumed, it arrives; the erased person's does not.
            using (var resume = await App.AdminClient().PostAsync($"/api/admin/outputs/{paused}/resume", null)) resume.StatusCode.ShouldBe(HttpStatusCode.OK);
            await Waiting.Until(() => Task.FromResult(Receiver.BatchesOf(kept.Customer).Count == 1), "the kept person's scheduled delivery", 30);
            Receiver.BatchesOf(erased.Customer).ShouldBeEmpty();
        }
        finally
        {
            foreach (var output in outputs) using (await App.AdminClient().DeleteAsync($"/api/admin/outputs/{output}")) { }
            await failing.DisposeAsync();
        }
    }
}
