using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Domain.Operations;
using EventProfiles.Integration.Tests.Fixtures;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace EventProfiles.Integration.Tests.Operations;

/// <summary>A workspace exported as JSON Lines and imported into an empty database gives the same profiles.</summary>
[Collection(AppCollection.Name)]
public class ExportImportTests(AppFixture app)
{
    private const string Fields = "user_identities,device_identities,user_attributes,consent_state,devices,attribution";

    [Fact]
    public async Task export_then_import_into_an_empty_database_gives_the_same_profiles()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var people = Enumerable.Range(0, 5).Select(i => $"export-{s}-{i}").ToList();
        var now = DateTimeOffset.UtcNow;
        foreach (var (customer, i) in people.Select((c, i) => (c, i)))
        {
            await app.Ingested($$"""
                { "environment": "development", "mp_deviceid": "das-{{customer}}", "device_info": { "platform": "iOS", "ios_idfv": "idfv-{{customer}}" },
                  "user_identities": { "customer_id": "{{customer}}", "email": "{{customer}}@example.org" },
                  "user_attributes": { "plan": "p{{i}}", "tags": [ "a", "b{{i}}" ] },
                  "consent_state": { "gdpr": { "marketing": { "consented": true, "document": "v{{i}}", "timestamp_unixtime_ms": {{now.ToUnixTimeMilliseconds()}} } } },
                  "events": [ { "event_type": "custom_event", "data": { "event_name": "Opened", "custom_event_type": "other" } } ] }
                """, key: Api.OtherKey, secret: Api.OtherSecret);
            await app.Ingested($$"""
                { "environment": "development", "user_identities": { "customer_id": "{{customer}}", "email": "{{customer}}-2@example.org" },
                  "user_attributes": { "plan": "p{{i}}-later" }, "deleted_user_attributes": [ "tags" ], "events": [] }
                """, key: Api.OtherKey, secret: Api.OtherSecret);
        }

        // Exported on the server, downloaded, uploaded to the other database's service, imported there.
        var export = await app.Completed((await app.StartJob(OperationKinds.Export, workspace: 2))["id"]!.GetValue<string>());
        string content;
        using (var download = await app.AdminClient().GetAsync($"/api/admin/jobs/{export["id"]}/download"))
        {
            download.StatusCode.ShouldBe(HttpStatusCode.OK);
            content = await download.Content.ReadAsStringAsync();
        }
        var lines = content.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        JsonNode.Parse(lines[0])!["format"]!.GetValue<string>().ShouldBe("eventprofiles-events");
        lines.Skip(1).Select(l => JsonNode.Parse(l)!["data"]!["WorkspaceId"]).Where(w => w is not null).ShouldAllBe(w => w!.GetValue<int>() == 2);
        lines.ShouldContain(l => l.Contains(people[0]));

        await using var empty = new EmptyDatabaseHost(app, $"{app.Schema}_import");
        using (var admin = empty.Client())
        {
            admin.DefaultRequestHeaders.Authorization = AppFixture.Basic("admin", "admin-password");
            using var uploaded = await admin.PostAsync("/api/admin/jobs/files", new StringContent(content, Encoding.UTF8, "application/x-ndjson"));
            uploaded.StatusCode.ShouldBe(HttpStatusCode.Created);
            var file = (await uploaded.Content.ReadFromJsonAsync<JsonObject>())!["file"]!.GetValue<string>();
            using var started = await admin.PostAsJsonAsync("/api/admin/jobs", new { kind = "import", workspace_id = 2, parameters = new { file } });
            var job = JsonNode.Parse(await started.Content.ReadAsStringAsync())!;
            started.StatusCode.ShouldBe(HttpStatusCode.Accepted, job.ToJsonString());
            JsonNode status = job;
            await Waiting.Until(async () =>
            {
                status = (await admin.GetFromJsonAsync<JsonObject>($"/api/admin/jobs/{job["id"]}"))!;
                return status["status"]!.GetValue<string>() is not ("queued" or "running");
            }, "the import", 60);
            status["status"]!.GetValue<string>().ShouldBe("completed", status.ToJsonString());
            status["events"]!.GetValue<long>().ShouldBe(lines.Length - 1);

            // Over HTTP, files stay in the operations folder: no path of the server's choosing can be read or written.
            using var outside = await admin.PostAsJsonAsync("/api/admin/jobs", new { kind = "import", workspace_id = 2, parameters = new { file = "../../etc/passwd" } });
            outside.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            using var exportTo = await admin.PostAsJsonAsync("/api/admin/jobs", new { kind = "export", workspace_id = 2, parameters = new { file = "/tmp/anywhere.jsonl" } });
            (await exportTo.Content.ReadAsStringAsync()).ShouldContain("parameters.file");
        }

        foreach (var customer in people)
        {
            var original = await Resolve(app.Client, customer);
            var imported = await Resolve(empty.Client(), customer);
            JsonNode.DeepEquals(imported, original).ShouldBeTrue($"{customer}:\nimported {imported}\noriginal {original}");
        }
    }

    /// <summary>The Profile API's view of a person in workspace 2 (its own client), by customer id.</summary>
    private static async Task<JsonNode?> Resolve(HttpClient client, string customer)
    {
        using var token = await client.PostAsJsonAsync("/oauth/token", new { client_id = "other-client", client_secret = "other-client-secret", grant_type = "client_credentials" });
        var bearer = (await token.Content.ReadFromJsonAsync<JsonObject>())!["access_token"]!.GetValue<string>();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/userprofile/v1/resolve/1/1/2?fields={Fields}")
        {
            Content = JsonContent.Create(new { environment_type = "development", identity = new { type = "customer_id", value = customer } }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text);
    }

    /// <summary>A second Host on the same PostgreSQL with a schema of its own: an empty database.</summary>
    private sealed class EmptyDatabaseHost : IAsyncDisposable
    {
        private readonly WebApplicationFactory<Program> _factory;

        public EmptyDatabaseHost(AppFixture app, string schema)
        {
            // The Host reads its schema from the environment when it is built (now): set it for this host only.
            var previous = Environment.GetEnvironmentVariable("EventProfiles__Schema");
            Environment.SetEnvironmentVariable("EventProfiles__Schema", schema);
            try
            {
                _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b.UseEnvironment("Development"));
                _factory.CreateClient().Dispose();
            }
            finally
            {
                Environment.SetEnvironmentVariable("EventProfiles__Schema", previous);
            }
        }

        public HttpClient Client() => _factory.CreateClient();

        public async ValueTask DisposeAsync() => await _factory.DisposeAsync();
    }
}
