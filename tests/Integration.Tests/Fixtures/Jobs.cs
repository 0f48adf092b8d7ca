using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace EventProfiles.Integration.Tests.Fixtures;

/// <summary>The operations admin API (<c>/api/admin/jobs</c>) as an operator uses it.</summary>
public static class Jobs
{
    public static async Task<JsonObject> StartJob(this AppFixture app, string kind, object? parameters = null, int? workspace = null)
    {
        using var response = await app.AdminClient().PostAsJsonAsync("/api/admin/jobs", new { kind, workspace_id = workspace, parameters });
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    public static async Task<JsonObject> Job(this AppFixture app, string id) =>
        (await app.AdminClient().GetFromJsonAsync<JsonObject>($"/api/admin/jobs/{id}"))!;

    /// <summary>Waits until the job has ended (or paused) and returns it.</summary>
    public static async Task<JsonObject> Finished(this AppFixture app, string id, int seconds = 120)
    {
        JsonObject job = null!;
        await Waiting.Until(async () =>
        {
            job = await app.Job(id);
            return job["status"]!.GetValue<string>() is not ("queued" or "running");
        }, $"job {id} to end", seconds);
        return job;
    }

    public static async Task<JsonObject> Completed(this AppFixture app, string id, int seconds = 120)
    {
        var job = await app.Finished(id, seconds);
        job["status"]!.GetValue<string>().ShouldBe("completed", job.ToJsonString());
        return job;
    }
}
