using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Security;

/// <summary>
/// An admin user limited to some workspaces (<see cref="AppFixture.SupportUser"/>: workspace 2) reaches only those, on
/// every admin endpoint: lists show their workspaces' items, another workspace's item is 404 (never its data), creating
/// or changing something for another workspace is 403 naming it, and org-wide operations are 403.
/// </summary>
[Collection(AppCollection.Name)]
public class WorkspaceLimitedAdminTests(AppFixture app)
{
    private const string Receiver = "http://127.0.0.1:9/never-called"; // outputs below receive nothing (their inputs send no batches)

    private HttpClient Support()
    {
        var client = app.NewClient();
        client.DefaultRequestHeaders.Authorization = AppFixture.Basic(AppFixture.SupportUser, AppFixture.SupportPassword);
        return client;
    }

    private static async Task<JsonNode> Json(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(expected, text);
        return JsonNode.Parse(text)!;
    }

    private static async Task ShouldBeForbiddenFor(HttpResponseMessage response, string field, string reason)
    {
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.Forbidden, text);
        (await response.Errors()).ShouldContain(e => e.Field == field && e.Message.Contains(reason), text);
    }

    private async Task<string> OutputOf(HttpClient client, int? workspace)
    {
        using var response = await client.PostAsJsonAsync("/api/admin/outputs", new { name = Api.NewId("ws-out"), kind = "webhook", webhook = new { url = Receiver }, workspace_id = workspace });
        return (await Json(response, HttpStatusCode.Created))["id"]!.GetValue<string>();
    }

    private static async Task<HttpResponseMessage> Send(HttpClient client, HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        return await client.SendAsync(request);
    }

    [Fact]
    public async Task outputs_of_other_workspaces_and_org_wide_ones_are_out_of_reach()
    {
        using var admin = app.AdminClient();
        using var support = Support();
        var first = await OutputOf(admin, 1);
        var orgWide = await OutputOf(admin, null);
        var second = await OutputOf(admin, 2);

        var listed = (await Json(await support.GetAsync("/api/admin/outputs"), HttpStatusCode.OK)).AsArray().Select(o => o!["id"]!.GetValue<string>()).ToList();
        listed.ShouldContain(second);
        listed.ShouldNotContain(first);
        listed.ShouldNotContain(orgWide);
        (await Json(await support.GetAsync($"/api/admin/outputs/{second}"), HttpStatusCode.OK))["workspace_id"]!.GetValue<int>().ShouldBe(2);

        foreach (var id in new[] { first, orgWide })
        {
            foreach (var (method, path, body) in new (HttpMethod, string, object?)[]
            {
                (HttpMethod.Get, $"/api/admin/outputs/{id}", null),
                (HttpMethod.Put, $"/api/admin/outputs/{id}", new { name = "taken over", kind = "webhook", webhook = new { url = Receiver } }),
                (HttpMethod.Post, $"/api/admin/outputs/{id}/pause", null),
                (HttpMethod.Post, $"/api/admin/outputs/{id}/resume", null),
                (HttpMethod.Get, $"/api/admin/outputs/{id}/dead-letters", null),
                (HttpMethod.Post, $"/api/admin/outputs/{id}/dead-letters/replay", null),
                (HttpMethod.Delete, $"/api/admin/outputs/{id}", null),
            })
            {
                using var response = await Send(support, method, path, body);
                var text = await response.Content.ReadAsStringAsync();
                response.StatusCode.ShouldBe(HttpStatusCode.NotFound, $"{method} {path}: {text}");
                text.ShouldNotContain(Receiver);
            }
            // Still there, unchanged.
            var output = await Json(await admin.GetAsync($"/api/admin/outputs/{id}"), HttpStatusCode.OK);
            output["name"]!.GetValue<string>().ShouldStartWith("ws-out");
            output["paused"]!.GetValue<bool>().ShouldBeFalse();
        }

        using (var forOther = await support.PostAsJsonAsync("/api/admin/outputs", new { name = Api.NewId("x"), kind = "webhook", webhook = new { url = Receiver }, workspace_id = 1 }))
            await ShouldBeForbiddenFor(forOther, "workspace_id", "workspace 1");
        using (var forAll = await support.PostAsJsonAsync("/api/admin/outputs", new { name = Api.NewId("x"), kind = "webhook", webhook = new { url = Receiver } }))
            await ShouldBeForbiddenFor(forAll, "workspace_id", "every workspace");
        using (var moved = await Send(support, HttpMethod.Put, $"/api/admin/outputs/{second}", new { name = "moved", kind = "webhook", webhook = new { url = Receiver }, workspace_id = 1 }))
            await ShouldBeForbiddenFor(moved, "workspace_id", "workspace 1");
        var own = await OutputOf(support, 2);
        using (var paused = await support.PostAsync($"/api/admin/outputs/{own}/pause", null)) paused.StatusCode.ShouldBe(HttpStatusCode.OK);
        using (var dead = await support.GetAsync($"/api/admin/outputs/{own}/dead-letters")) dead.StatusCode.ShouldBe(HttpStatusCode.OK);
        using (var deleted = await support.DeleteAsync($"/api/admin/outputs/{own}")) deleted.StatusCode.ShouldBe(HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task connections_of_other_workspaces_inputs_are_out_of_reach()
    {
        using var admin = app.AdminClient();
        using var support = Support();
        var first = await OutputOf(admin, 1);
        var second = await OutputOf(admin, 2);
        var theirs = (await app.Connect("demo-server", first))["id"]!.GetValue<string>();

        var listed = (await Json(await support.GetAsync("/api/admin/connections"), HttpStatusCode.OK)).AsArray().Select(c => c!["id"]!.GetValue<string>()).ToList();
        listed.ShouldNotContain(theirs);
        foreach (var (method, body) in new (HttpMethod, object?)[] { (HttpMethod.Get, null), (HttpMethod.Put, new { input = "other-server", output_id = second }), (HttpMethod.Delete, null) })
        {
            using var response = await Send(support, method, $"/api/admin/connections/{theirs}", body);
            response.StatusCode.ShouldBe(HttpStatusCode.NotFound, $"{method}: {await response.Content.ReadAsStringAsync()}");
        }
        (await Json(await admin.GetAsync($"/api/admin/connections/{theirs}"), HttpStatusCode.OK))["output_id"]!.GetValue<string>().ShouldBe(first);

        using (var otherInput = await support.PostAsJsonAsync("/api/admin/connections", new { input = "demo-server", output_id = second }))
            await ShouldBeForbiddenFor(otherInput, "input", "workspace 1");
        using (var otherOutput = await support.PostAsJsonAsync("/api/admin/connections", new { input = "other-server", output_id = first }))
        {
            otherOutput.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            (await otherOutput.Errors()).ShouldContain(e => e.Field == "output_id" && e.Message.Contains("there is no output"));
        }
        using (var unknown = await support.PostAsJsonAsync("/api/admin/connections", new { input = "nope", output_id = second }))
        {
            var errors = await unknown.Errors();
            errors.ShouldContain(e => e.Field == "input" && e.Message.Contains("other-server"));
            errors.ShouldNotContain(e => e.Message.Contains("demo-server")); // other workspaces' inputs are not listed
        }
        // Even an admin of every workspace cannot send one workspace's data to another's output.
        using (var crossed = await admin.PostAsJsonAsync("/api/admin/connections", new { input = "demo-server", output_id = second }))
        {
            crossed.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            (await crossed.Errors()).ShouldContain(e => e.Field == "output_id" && e.Message.Contains("workspace 2"));
        }
        var own = (await Json(await support.PostAsJsonAsync("/api/admin/connections", new { input = "other-server", output_id = second }), HttpStatusCode.Created))["id"]!.GetValue<string>();
        (await Json(await support.GetAsync("/api/admin/connections"), HttpStatusCode.OK)).AsArray().Select(c => c!["id"]!.GetValue<string>()).ShouldContain(own);
        using (var deleted = await support.DeleteAsync($"/api/admin/connections/{own}")) deleted.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        using (await admin.DeleteAsync($"/api/admin/connections/{theirs}")) { }
    }

    [Fact]
    public async Task audience_connections_of_other_workspaces_are_out_of_reach()
    {
        using var admin = app.AdminClient();
        using var support = Support();
        var criteria = """[ { "kind": "identity", "identity_type": "email", "operator": "exists" } ]""";
        var firstAudience = (await app.CreateAudience(Api.NewId("ws1-aud"), criteria))["id"]!.GetValue<int>();
        var orgWide = await OutputOf(admin, null);
        var second = await OutputOf(admin, 2);
        var theirs = (await Json(await admin.PostAsJsonAsync("/api/admin/audience-connections", new { audience_id = firstAudience, output_id = orgWide }), HttpStatusCode.Created))["id"]!.GetValue<string>();

        (await Json(await support.GetAsync("/api/admin/audience-connections"), HttpStatusCode.OK)).AsArray().Select(c => c!["id"]!.GetValue<string>()).ShouldNotContain(theirs);
        using (var deleted = await support.DeleteAsync($"/api/admin/audience-connections/{theirs}")) deleted.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await Json(await admin.GetAsync("/api/admin/audience-connections"), HttpStatusCode.OK)).AsArray().Select(c => c!["id"]!.GetValue<string>()).ShouldContain(theirs);
        using (var otherAudience = await support.PostAsJsonAsync("/api/admin/audience-connections", new { audience_id = firstAudience, output_id = second }))
        {
            otherAudience.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            (await otherAudience.Errors()).ShouldContain(e => e.Field == "audience_id");
        }

        var otherToken = await app.Token("other-client", "other-client-secret");
        using var created = await app.Platform(HttpMethod.Post, "/v1/audiences?accountId=1", $$"""{ "name": "{{Api.NewId("ws2-aud")}}", "workspaces": [2], "criteria": {{criteria}} }""", otherToken);
        var secondAudience = (await Json(created, HttpStatusCode.OK))["id"]!.GetValue<int>();
        var own = (await Json(await support.PostAsJsonAsync("/api/admin/audience-connections", new { audience_id = secondAudience, output_id = second }), HttpStatusCode.Created))["id"]!.GetValue<string>();
        (await Json(await support.GetAsync("/api/admin/audience-connections"), HttpStatusCode.OK)).AsArray().Select(c => c!["id"]!.GetValue<string>()).ShouldContain(own);
    }

    [Fact]
    public async Task jobs_exports_and_uploads_of_other_workspaces_are_out_of_reach()
    {
        using var admin = app.AdminClient();
        using var support = Support();
        var export = (await app.StartJob("export", workspace: 3))["id"]!.GetValue<string>();
        await app.Completed(export);
        using (var mine = await admin.GetAsync($"/api/admin/jobs/{export}/download")) mine.StatusCode.ShouldBe(HttpStatusCode.OK);

        (await Json(await support.GetAsync("/api/admin/jobs"), HttpStatusCode.OK)).AsArray()
            .ShouldAllBe(j => j!["workspace_id"]!.GetValue<int>() == 2);
        foreach (var (method, path) in new[]
        {
            (HttpMethod.Get, $"/api/admin/jobs/{export}"), (HttpMethod.Get, $"/api/admin/jobs/{export}/download"),
            (HttpMethod.Post, $"/api/admin/jobs/{export}/pause"), (HttpMethod.Post, $"/api/admin/jobs/{export}/cancel"), (HttpMethod.Post, $"/api/admin/jobs/{export}/resume"),
        })
        {
            using var response = await Send(support, method, path);
            var text = await response.Content.ReadAsStringAsync();
            response.StatusCode.ShouldBe(HttpStatusCode.NotFound, $"{method} {path}: {text}");
            text.ShouldNotContain("eventprofiles-events");
        }
        (await app.Job(export))["status"]!.GetValue<string>().ShouldBe("completed");

        using (var otherExport = await support.PostAsJsonAsync("/api/admin/jobs", new { kind = "export", workspace_id = 1 }))
            await ShouldBeForbiddenFor(otherExport, "workspace_id", "workspace 1");
        using (var rebuild = await support.PostAsJsonAsync("/api/admin/jobs", new { kind = "rebuild" }))
            await ShouldBeForbiddenFor(rebuild, "workspace_id", "every workspace");

        // Uploads belong to a workspace; a limited user imports only their workspace's.
        var content = new StringContent("", Encoding.UTF8, "application/x-ndjson");
        using (var orgUpload = await support.PostAsync("/api/admin/jobs/files", content)) await ShouldBeForbiddenFor(orgUpload, "workspace_id", "every workspace");
        using (var otherUpload = await support.PostAsync("/api/admin/jobs/files?workspace_id=1", content)) await ShouldBeForbiddenFor(otherUpload, "workspace_id", "workspace 1");
        var adminFile = (await Json(await admin.PostAsync("/api/admin/jobs/files", content), HttpStatusCode.Created))["file"]!.GetValue<string>();
        using (var importOthers = await support.PostAsJsonAsync("/api/admin/jobs", new { kind = "import", workspace_id = 2, parameters = new { file = adminFile } }))
        {
            importOthers.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            (await importOthers.Errors()).ShouldContain(e => e.Field == "parameters.file");
        }
        using (var importExport = await support.PostAsJsonAsync("/api/admin/jobs", new { kind = "import", workspace_id = 2, parameters = new { file = $"export-{export}.jsonl" } }))
            importExport.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var ownFile = (await Json(await support.PostAsync("/api/admin/jobs/files?workspace_id=2", content), HttpStatusCode.Created))["file"]!.GetValue<string>();
        ownFile.ShouldStartWith("upload-ws2-");

        // Their own workspace's jobs are theirs.
        var own = (await Json(await support.PostAsJsonAsync("/api/admin/jobs", new { kind = "export", workspace_id = 2 }), HttpStatusCode.Accepted))["id"]!.GetValue<string>();
        using (var cancelled = await support.PostAsync($"/api/admin/jobs/{own}/cancel", null)) cancelled.StatusCode.ShouldBeOneOf(HttpStatusCode.Accepted, HttpStatusCode.Conflict);
        await app.Finished(own);
        (await Json(await support.GetAsync("/api/admin/jobs"), HttpStatusCode.OK)).AsArray().Select(j => j!["id"]!.GetValue<string>()).ShouldContain(own);
    }

    [Fact]
    public async Task org_wide_settings_and_projections_are_for_admins_of_every_workspace()
    {
        using var admin = app.AdminClient();
        using var support = Support();
        var before = (await Json(await admin.GetAsync("/api/admin/retention"), HttpStatusCode.OK)).ToJsonString();

        using (var read = await support.GetAsync("/api/admin/retention")) await ShouldBeForbiddenFor(read, "workspace_id", "every workspace");
        using (var change = await Send(support, HttpMethod.Put, "/api/admin/retention", new { data_retention_days = 31 }))
            await ShouldBeForbiddenFor(change, "workspace_id", "every workspace");
        using (var projections = await support.GetAsync("/api/admin/projections")) await ShouldBeForbiddenFor(projections, "workspace_id", "every workspace");

        (await Json(await admin.GetAsync("/api/admin/retention"), HttpStatusCode.OK)).ToJsonString().ShouldBe(before);
        using (var allowed = await admin.GetAsync("/api/admin/projections")) allowed.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Theory]
    [InlineData("basic")]
    [InlineData("session")]
    public async Task the_live_stream_shows_a_limited_user_their_workspaces_batches_only(string signIn)
    {
        using var client = signIn == "basic" ? Support() : await app.SignedIn(AppFixture.SupportUser, AppFixture.SupportPassword);
        using var response = await client.GetAsync("/api/admin/live-stream", HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        string? line;
        while ((line = await reader.ReadLineAsync(timeout.Token)) is not null && line != "data: ready") { } // subscribed

        // Workspace 1's batch is committed (and published) before workspace 2's: if it were visible it would come first.
        var hidden = Api.NewId("ws1-live");
        var shown = Api.NewId("ws2-live");
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{hidden}}" } }""");
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{shown}}" } }""", key: Api.OtherKey, secret: Api.OtherSecret);

        var seen = new List<string>();
        while ((line = await reader.ReadLineAsync(timeout.Token)) is not null)
        {
            if (!line.StartsWith("data: {")) continue;
            seen.Add(line);
            if (line.Contains(shown)) break;
        }
        seen.ShouldContain(l => l.Contains(shown));
        seen.ShouldNotContain(l => l.Contains(hidden));
        seen.ShouldAllBe(l => l.Contains("\"input\":\"other-server\""));
    }
}
