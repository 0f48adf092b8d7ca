using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Privacy;

/// <summary>
/// Issue 16, item 5: erasing a person sends every opted-in output of the workspace an erasure notice naming the person as
/// they were before (OpenDSR-shaped, signed like deliveries), durably through the delivery queue; once delivered, nothing
/// anywhere holds the person's identities.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class ErasureNoticeTests(AppFixture app) : WithReceiver(app)
{
    private const string OtherWorkspaceInput = "other-server"; // workspace 2 (appsettings.Development.json)

    private async Task<JsonObject> Connect(string input, string outputId, bool? forwardErasures)
    {
        using var response = await App.AdminClient().PostAsJsonAsync("/api/admin/connections",
            new { input, output_id = outputId, active = true, forward_erasures = forwardErasures });
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.Created, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    private Task<string> Erase(string customer) => DataSubjectRequests.EraseCustomerAsync(App, customer);

    private static string Batch(string customer, string email, string other) => $$"""
        { "environment": "development", "user_identities": { "customer_id": "{{customer}}", "email": "{{email}}", "other": "{{other}}" },
          "events": [ { "event_type": "custom_event", "data": { "event_name": "Noticed", "custom_event_type": "other" } } ] }
        """;

    private static IEnumerable<JsonObject> Notices(Receiver receiver, string request) =>
        receiver.Received.Select(r => r.Batch).Where(b => b["subject_request_id"]?.GetValue<string>() == request);

    [Fact]
    public async Task an_erasure_sends_each_opted_in_output_of_the_workspace_a_signed_notice_and_once_delivered_nothing_holds_the_person()
    {
        const string secret = "notice-secret";
        await NewOutputAsync(secret);
        (await Connect(AppFixture.ForwardingInput, OutputId, null))["forward_erasures"]!.GetValue<bool>().ShouldBeTrue(); // on by default
        await using var optedOut = await Receiver.StartAsync();
        await using var foreign = await Receiver.StartAsync();
        var optedOutOutput = (await App.CreateOutput(optedOut.Url))["id"]!.GetValue<string>();
        var foreignOutput = (await App.CreateOutput(foreign.Url))["id"]!.GetValue<string>();
        try
        {
            (await Connect(AppFixture.ForwardingInput, optedOutOutput, false))["forward_erasures"]!.GetValue<bool>().ShouldBeFalse();
            await Connect(OtherWorkspaceInput, foreignOutput, true);

            var customer = Api.NewId("notice");
            var email = $"{customer}@example.org";
            var other = Api.NewId("loyalty");
            await App.Ingested(Batch(customer, email, other), key: AppFixture.ForwardingKey, secret: AppFixture.ForwardingSecret);
            var mpid = (await App.ProfileOf(customer))["mpid"]!.GetValue<long>().ToString(System.Globalization.CultureInfo.InvariantCulture);
            await Waiting.Until(() => Task.FromResult(Receiver.BatchesOf(customer).Count == 1 && optedOut.BatchesOf(customer).Count == 1), "the forwarded batch");

            var request = await Erase(customer);
            await Waiting.Until(() => Task.FromResult(Notices(Receiver, request).Any()), "the erasure notice");
            await DataSubjectRequests.WaitUntilNoticesLeftTheQueueAsync(App, request);

            var (notice, _, signature) = Receiver.Received.Single(r => r.Batch["subject_request_id"]?.GetValue<string>() == request);
            notice["type"]!.GetValue<string>().ShouldBe("dsr_processing_request");
            notice["subject_request_type"]!.GetValue<string>().ShouldBe("erasure");
            notice["regulation"]!.GetValue<string>().ShouldBe("gdpr");
            notice["controller_id"]!.GetValue<string>().ShouldBe("1");
            notice["mpid"]!.GetValue<string>().ShouldBe(mpid);
            notice["subject_identities"]!["controller_customer_id"]!["value"]!.GetValue<string>().ShouldBe(customer);
            notice["subject_identities"]!["email"]!["value"]!.GetValue<string>().ShouldBe(email); // from the profile, as it was before
            var extension = notice["extensions"]!["opendsr.mparticle.com"]!;
            extension["subject_identities"]!["mpid"]!["value"]!.GetValue<string>().ShouldBe(mpid);
            extension["subject_identities"]!["other"]!["value"]!.GetValue<string>().ShouldBe(other);
            signature.ShouldBe("sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(notice.ToJsonString()))));

            // Delivered: nothing about them is left anywhere, the notice included.
            (await App.Traces(customer, email, other, mpid)).ShouldBeEmpty();
            // Opted out, or of another workspace: nothing was queued for them (the queue is empty and they received nothing).
            Notices(optedOut, request).ShouldBeEmpty();
            foreign.Received.ShouldBeEmpty();
        }
        finally
        {
            foreach (var output in new[] { optedOutOutput, foreignOutput })
                using (await App.AdminClient().DeleteAsync($"/api/admin/outputs/{output}")) { }
        }
    }

    [Fact]
    public async Task a_receiver_that_fails_first_gets_the_notice_on_a_retry_and_the_retried_copy_leaves_no_trace()
    {
        await NewOutputAsync();
        await Connect(AppFixture.ForwardingInput, OutputId, null);
        var attempts = 0;
        Receiver.StatusFor = b => b["type"]?.GetValue<string>() == "dsr_processing_request" && Interlocked.Increment(ref attempts) == 1 ? 500 : null;

        var customer = Api.NewId("retry-notice");
        var email = $"{customer}@example.org";
        await App.Ingested(Batch(customer, email, Api.NewId("o")), key: AppFixture.ForwardingKey, secret: AppFixture.ForwardingSecret);
        var mpid = (await App.ProfileOf(customer))["mpid"]!.GetValue<long>().ToString(System.Globalization.CultureInfo.InvariantCulture);

        var request = await Erase(customer);
        await Waiting.Until(() => Task.FromResult(Notices(Receiver, request).Any()), "the retried erasure notice", 30);
        Volatile.Read(ref attempts).ShouldBeGreaterThanOrEqualTo(2);
        Notices(Receiver, request).Single()["subject_identities"]!["email"]!["value"]!.GetValue<string>().ShouldBe(email);

        // The retried copy waited as a message of its own (with the identities in it): once delivered it is gone too.
        await Waiting.Until(async () => (await App.Traces(customer, email, mpid)).Count == 0, "no trace of the person after the retried delivery", 30);
        (await App.AdminClient().GetFromJsonAsync<JsonArray>($"/api/admin/outputs/{OutputId}/dead-letters"))!.ShouldBeEmpty();
    }
}
