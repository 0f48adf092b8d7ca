using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;
using Marten;
using Microsoft.Extensions.DependencyInjection;

namespace EventProfiles.Integration.Tests.Privacy;

/// <summary>OpenDSR v3: erasure that leaves nothing anywhere, access exports, and the API's rules.</summary>
[Collection(AppCollection.Name)]
public sealed class DataSubjectRequestTests(AppFixture app) : WithReceiver(app)
{

    private static string Request(string type, string identities, bool skip = true, string? id = null, string extra = "") => $$"""
        { "regulation": "gdpr", "subject_request_id": "{{id ?? Guid.NewGuid().ToString()}}", "subject_request_type": "{{type}}",
          "submitted_time": "2026-11-01T10:00:00Z", "subject_identities": {{identities}}, "api_version": "3.0"{{extra}},
          "extensions": { "opendsr.mparticle.com": { "skip_waiting_period": {{(skip ? "true" : "false")}} } } }
        """;

    private async Task<HttpResponseMessage> Send(HttpMethod method, string path, string? json = null, string key = Api.DemoKey, string secret = Api.DemoSecret)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        request.Headers.Authorization = AppFixture.Basic(key, secret);
        return await App.Client.SendAsync(request);
    }

    private async Task<JsonObject> Submitted(string json)
    {
        using var response = await Send(HttpMethod.Post, "/v3/requests", json);
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.Created, text);
        response.Headers.GetValues("X-OpenDSR-Signature").Single().ShouldNotBeEmpty();
        return JsonNode.Parse(text)!.AsObject();
    }

    private async Task<JsonObject> Status(string id)
    {
        using var response = await Send(HttpMethod.Get, $"/v3/requests/{id}");
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>Polls at most a few times a second: OpenDSR status calls count against the workspace's rate limit.</summary>
    private Task UntilCompleted(string id) =>
        Waiting.Until(async () =>
        {
            await Task.Delay(200);
            return (await Status(id))["request_status"]!.GetValue<string>() == "completed";
        }, $"request {id} to complete", 60);

    private Task<List<string>> Traces(params string[] needles) => App.Traces(needles);

    [Fact]
    public async Task an_erasure_leaves_no_trace_in_any_table_and_no_rebuild_brings_it_back()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        await App.ActiveCalculatedAttribute($"buys_{s}", $$"""
            { "data_point": { "type": "event", "event_type": "custom_event", "event_name": "Buy{{s}}" }, "calculation_type": "count",
              "time_period": { "type": "within", "within": 30, "within_unit": "days" } }
            """);
        var audience = await App.ActiveAudience($"Secret keepers {s}", $$"""[ { "kind": "user_attribute", "attribute_name": "secret_{{s}}", "type": "string", "operator": "exists" } ]""");
        await NewOutputAsync();
        await App.Connect(AppFixture.ForwardingInput, OutputId);

        var customer = Api.NewId("erase-me");
        var email = $"{customer}@example.org";
        var secret = $"value-{Guid.NewGuid():N}";
        var batch = $$"""
            { "environment": "development", "user_identities": { "customer_id": "{{customer}}", "email": "{{email}}" }, "user_attributes": { "secret_{{s}}": "{{secret}}" },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "Buy{{s}}", "custom_event_type": "other", "custom_attributes": { "note": "{{secret}}" } } } ] }
            """;
        await App.Ingested(batch, key: AppFixture.ForwardingKey, secret: AppFixture.ForwardingSecret);
        await App.Ingested(batch.Replace($"Buy{s}", "Other"), key: AppFixture.ForwardingKey, secret: AppFixture.ForwardingSecret);
        await App.CatchUpDaemon();
        await Waiting.Until(async () => (await App.MembershipsOf(customer)).Contains(audience), "the membership");
        await Waiting.Until(() => Task.FromResult(Receiver.BatchesOf(customer).Count == 2), "the forwarded batches");
        var mpid = (await App.ProfileOf(customer))["mpid"]!.GetValue<long>().ToString();
        (await Traces(email, secret, mpid)).ShouldNotBeEmpty(); // the scan does find the person before

        var id = (await Submitted(Request("erasure", $$"""{ "email": { "value": "{{email}}", "encoding": "raw" } }""")))["subject_request_id"]!.GetValue<string>();
        await UntilCompleted(id);
        // The output's erasure notice is the one thing about them that outlives the erasure, until it is delivered.
        await Waiting.Until(() => Task.FromResult(Receiver.Received.Any(r => r.Batch["subject_request_id"]?.GetValue<string>() == id)), "the erasure notice");
        await DataSubjectRequests.WaitUntilNoticesLeftTheQueueAsync(App, id);

        (await Traces(email, customer, secret, mpid)).ShouldBeEmpty();
        using (var gone = await App.ResolveProfile(customer)) gone.StatusCode.ShouldBe(HttpStatusCode.NotFound);

        // Nothing of them can come back from the events: rebuild every projection and look again.
        // (The rebuild job over everyone: Marten's own projection rebuild is refused, it cannot see what splits moved away.)
        var rebuild = await App.StartJob(Domain.Operations.OperationKinds.Rebuild, new { projection = "profiles" });
        await App.Completed(rebuild["id"]!.GetValue<string>(), seconds: 300);
        await App.RebuildCalculatedAttributes(); // synchronous: done when it returns
        (await Traces(email, customer, secret, mpid)).ShouldBeEmpty();
        (await Status(id))["request_status"]!.GetValue<string>().ShouldBe("completed");
    }

    [Fact]
    public async Task an_access_request_exports_the_profile_and_every_batch_of_that_person_only()
    {
        var customer = Api.NewId("access");
        var other = Api.NewId("access-other");
        string Batch(string who, string name) => $$"""{ "environment": "development", "user_identities": { "customer_id": "{{who}}" }, "user_attributes": { "tier": "gold" }, "events": [ { "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "other" } } ] }""";
        await App.Ingested(Batch(customer, "First"));
        await App.Ingested(Batch(customer, "Second"));
        await App.Ingested(Batch(other, "Elsewhere"));

        var id = (await Submitted(Request("access", $$"""{ "controller_customer_id": { "value": "{{customer}}", "encoding": "raw" } }""")))["subject_request_id"]!.GetValue<string>();
        await UntilCompleted(id);
        var status = await Status(id);
        var url = status["results_url"]!.GetValue<string>();
        using var download = await Send(HttpMethod.Get, url);
        download.StatusCode.ShouldBe(HttpStatusCode.OK);
        using var zip = new ZipArchive(await download.Content.ReadAsStreamAsync());
        string Read(string name) { using var r = new StreamReader(zip.GetEntry(name)!.Open()); return r.ReadToEnd(); }
        var profile = Read("profile.jsonl").Trim().Split('\n').Single();
        JsonNode.Parse(profile)!["user_attributes"]!["tier"]!.GetValue<string>().ShouldBe("gold");
        var batches = Read("batches.jsonl").Trim().Split('\n').Select(l => JsonNode.Parse(l)!).ToList();
        batches.Count.ShouldBe(2);
        batches.SelectMany(b => b["events"]!.AsArray()).Select(e => e!["data"]!["event_name"]!.GetValue<string>()).ShouldBe(["First", "Second"], ignoreOrder: true);
        (profile + string.Join("", batches.Select(b => b.ToJsonString()))).ShouldNotContain(other);

        using var foreign = await Send(HttpMethod.Get, url, key: Api.OtherKey, secret: Api.OtherSecret);
        foreign.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task the_api_validates_scopes_to_the_workspace_and_cancels_in_the_waiting_period()
    {
        var email = $"{Api.NewId("dsr")}@example.org";
        var identities = $$"""{ "email": { "value": "{{email}}", "encoding": "raw" } }""";

        using (var mixed = await Send(HttpMethod.Post, "/v3/requests", Request("erasure", identities).Replace("\"skip_waiting_period\": true", "\"skip_waiting_period\": true, \"subject_identities\": { \"mpid\": { \"value\": \"42\", \"encoding\": \"raw\" } }")))
        {
            mixed.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            var body = JsonNode.Parse(await mixed.Content.ReadAsStringAsync())!;
            body["code"]!.GetValue<int>().ShouldBe(400);
            body["errors"]![0]!["domain"]!.GetValue<string>().ShouldBe("Validation");
        }
        using (var unknown = await Send(HttpMethod.Post, "/v3/requests", Request("erasure", """{ "shoe_size": { "value": "42", "encoding": "raw" } }""")))
            (await unknown.Errors()).ShouldContain(e => e.Field == "subject_identities.shoe_size");
        using (var hashed = await Send(HttpMethod.Post, "/v3/requests", Request("erasure", $$"""{ "email": { "value": "{{email}}", "encoding": "md5" } }""")))
            hashed.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        using (var anonymous = await App.NewClient().PostAsync("/v3/requests", new StringContent(Request("erasure", identities), Encoding.UTF8, "application/json")))
            anonymous.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);

        var requestId = Guid.NewGuid().ToString();
        var created = await Submitted(Request("erasure", identities, skip: false, id: requestId, extra: ", \"group_id\": \"case-77\""));
        created["controller_id"]!.GetValue<string>().ShouldBe("1");
        DateTimeOffset.Parse(created["expected_completion_time"]!.GetValue<string>()).ShouldBeGreaterThan(DateTimeOffset.UtcNow.AddDays(8)); // 7 days + 48 h
        using (var duplicate = await Send(HttpMethod.Post, "/v3/requests", Request("erasure", identities, id: requestId))) duplicate.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        using (var again = await Send(HttpMethod.Post, "/v3/requests", Request("erasure", identities, skip: false))) again.StatusCode.ShouldBe(HttpStatusCode.Conflict);
        using (var foreign = await Send(HttpMethod.Get, $"/v3/requests/{requestId}", key: Api.OtherKey, secret: Api.OtherSecret)) foreign.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await Status(requestId))["request_status"]!.GetValue<string>().ShouldBe("pending");
        using (var group = await Send(HttpMethod.Get, "/v3/requests?group_id=case-77"))
            JsonNode.Parse(await group.Content.ReadAsStringAsync())!.AsArray().ShouldContain(r => r!["subject_request_id"]!.GetValue<string>() == requestId);

        using (var cancelled = await Send(HttpMethod.Delete, $"/v3/requests/{requestId}")) cancelled.StatusCode.ShouldBe(HttpStatusCode.OK);
        var status = await Status(requestId);
        status["request_status"]!.GetValue<string>().ShouldBe("cancelled");
        status["expected_completion_time"].ShouldBeNull();
        using (var twice = await Send(HttpMethod.Delete, $"/v3/requests/{requestId}")) twice.StatusCode.ShouldBe(HttpStatusCode.BadRequest);

        using var discovery = await App.NewClient().GetAsync("/v3/discovery");
        var found = JsonNode.Parse(await discovery.Content.ReadAsStringAsync())!;
        found["supported_subject_request_types"]!.AsArray().Select(t => t!.GetValue<string>()).ShouldBe(["access", "portability", "erasure"]);
        using var certificate = await App.NewClient().GetAsync(new Uri(found["processor_certificate"]!.GetValue<string>()).PathAndQuery);
        (await certificate.Content.ReadAsStringAsync()).ShouldStartWith("-----BEGIN CERTIFICATE-----");
    }

    [Fact]
    public async Task more_requests_in_a_minute_than_the_limit_are_refused_with_retry_after_per_workspace()
    {
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 310 && limited is null; i++)
        {
            var response = await Send(HttpMethod.Get, $"/v3/requests/{Guid.NewGuid()}", key: AppFixture.LimitedKey, secret: AppFixture.LimitedSecret);
            if (response.StatusCode == (HttpStatusCode)429) limited = response;
            else
            {
                response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
                response.Dispose();
            }
        }
        limited.ShouldNotBeNull();
        limited.Headers.RetryAfter.ShouldNotBeNull();
        JsonNode.Parse(await limited.Content.ReadAsStringAsync())!["code"]!.GetValue<int>().ShouldBe(429);
        limited.Dispose();
        using var otherWorkspace = await Send(HttpMethod.Get, $"/v3/requests/{Guid.NewGuid()}"); // workspace 1 has its own budget
        otherWorkspace.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }
}
