using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Commands.Privacy;
using EventProfiles.Integration.Tests.Fixtures;
using Marten;
using Microsoft.Extensions.DependencyInjection;

namespace EventProfiles.Integration.Tests.Privacy;

/// <summary>
/// Issue 14, item 3: access exports and operations export files do not outlive an erasure, and expired access exports
/// are deleted, not only refused.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class ErasureExportsTests(AppFixture app)
{
    private async Task<HttpResponseMessage> Send(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        request.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
        return await app.Client.SendAsync(request);
    }

    private async Task<string> Completed(string type, string customer)
    {
        var id = Guid.NewGuid().ToString();
        using (var created = await Send(HttpMethod.Post, "/v3/requests", $$"""
                   { "regulation": "gdpr", "subject_request_id": "{{id}}", "subject_request_type": "{{type}}", "submitted_time": "2026-11-01T10:00:00Z",
                     "subject_identities": { "controller_customer_id": { "value": "{{customer}}", "encoding": "raw" } }, "api_version": "3.0",
                     "extensions": { "opendsr.mparticle.com": { "skip_waiting_period": true } } }
                   """))
            created.StatusCode.ShouldBe(HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        await Waiting.Until(async () =>
        {
            await Task.Delay(200);
            using var status = await Send(HttpMethod.Get, $"/v3/requests/{id}");
            return JsonNode.Parse(await status.Content.ReadAsStringAsync())!["request_status"]!.GetValue<string>() == "completed";
        }, $"request {id}", 60);
        return id;
    }

    private static string Batch(string customer) =>
        $$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "tier": "gold" }, "events": [ { "event_type": "custom_event", "data": { "event_name": "Exported", "custom_event_type": "other" } } ] }""";

    [Fact]
    public async Task an_erasure_deletes_the_persons_access_exports_and_the_workspaces_operations_export_files()
    {
        var customer = Api.NewId("exported");
        var bystander = Api.NewId("bystander");
        await app.Ingested(Batch(customer));
        await app.Ingested(Batch(bystander));
        var access = await Completed("access", customer);
        var other = await Completed("access", bystander);
        using (var download = await Send(HttpMethod.Get, $"/v3/requests/{access}/results")) download.StatusCode.ShouldBe(HttpStatusCode.OK);
        var job = await app.StartJob("export", workspace: 1);
        var file = (await app.Completed(job["id"]!.GetValue<string>()))["result"]!.GetValue<string>();
        File.Exists(file).ShouldBeTrue();
        (await File.ReadAllTextAsync(file)).ShouldContain(customer);

        await Completed("erasure", customer);

        using (var gone = await Send(HttpMethod.Get, $"/v3/requests/{access}/results")) gone.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        using (var kept = await Send(HttpMethod.Get, $"/v3/requests/{other}/results")) kept.StatusCode.ShouldBe(HttpStatusCode.OK); // someone else's stays
        File.Exists(file).ShouldBeFalse();
        (await app.Job(job["id"]!.GetValue<string>()))["result"]!.GetValue<string>().ShouldContain("deleted by an erasure");
    }

    [Fact]
    public async Task expired_access_exports_are_purged_by_the_retention_sweep()
    {
        var customer = Api.NewId("expiring");
        await app.Ingested(Batch(customer));
        var access = await Completed("access", customer);
        var store = app.Services.GetRequiredService<IDocumentStore>();
        try
        {
            app.Clock.Advance(ProcessDataSubjectRequestHandler.DownloadLifetime + TimeSpan.FromHours(1));
            await app.Services.GetRequiredService<RetentionEnforcer>().RunOnceAsync(CancellationToken.None, maxStatements: 1);
        }
        finally
        {
            app.Clock.Reset();
        }
        await using var session = store.QuerySession();
        (await session.LoadAsync<DsrExport>(Guid.Parse(access))).ShouldBeNull();
        using var gone = await Send(HttpMethod.Get, $"/v3/requests/{access}/results");
        gone.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }
}
