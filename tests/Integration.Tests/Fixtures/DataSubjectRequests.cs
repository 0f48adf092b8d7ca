using System.Text.Json.Nodes;

namespace EventProfiles.Integration.Tests.Fixtures;

public static class DataSubjectRequests
{
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
}
