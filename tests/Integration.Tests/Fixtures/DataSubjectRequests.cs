using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace EventProfiles.Integration.Tests.Fixtures;

public static class DataSubjectRequests
{
    /// <summary>Submits a GDPR erasure of a customer id through the demo input (no waiting period) and waits until it completed. Returns the request id.</summary>
    public static Task<string> EraseCustomerAsync(AppFixture app, string customer) => EraseAsync(app, "controller_customer_id", customer);

    /// <summary>The same for any OpenDSR identity type (<c>email</c>, <c>controller_customer_id</c>, …).</summary>
    public static async Task<string> EraseAsync(AppFixture app, string identityType, string value)
    {
        var id = Guid.NewGuid().ToString();
        using var submit = new HttpRequestMessage(HttpMethod.Post, "/v3/requests");
        submit.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
        submit.Content = new StringContent($$"""
            { "regulation": "gdpr", "subject_request_id": "{{id}}", "subject_request_type": "erasure", "submitted_time": "2026-11-01T10:00:00Z",
              "subject_identities": { "{{identityType}}": { "value": "{{value}}", "encoding": "raw" } }, "api_version": "3.0",
              "extensions": { "opendsr.mparticle.com": { "skip_waiting_period": true } } }
            """, Encoding.UTF8, "application/json");
        using var response = await app.Client.SendAsync(submit);
        response.StatusCode.ShouldBe(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        await WaitUntilCompletedAsync(app, id);
        return id;
    }

    /// <summary>Waits until an OpenDSR request of the demo input reports <c>completed</c>.</summary>
    public static Task WaitUntilCompletedAsync(AppFixture app, string request) =>
        Waiting.Until(async () =>
        {
            await Task.Delay(200); // status calls count against the workspace's OpenDSR rate limit
            using var status = new HttpRequestMessage(HttpMethod.Get, $"/v3/requests/{request}");
            status.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
            using var response = await app.Client.SendAsync(status);
            return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["request_status"]!.GetValue<string>() == "completed";
        }, "the erasure", 60);

    /// <summary>Waits until no erasure notice of the request is left in the delivery table (delivered, or moved to a retry).</summary>
    public static Task WaitUntilNoticesLeftTheQueueAsync(AppFixture app, string request) =>
        Waiting.Until(async () =>
        {
            await using var command = app.Db.CreateCommand($"select count(*) from {app.Schema}.ep_deliveries where input = $1");
            command.Parameters.AddWithValue($"erasure:{request}");
            return (long)(await command.ExecuteScalarAsync())! == 0;
        }, "the erasure notices to leave the delivery table", 30);
}
