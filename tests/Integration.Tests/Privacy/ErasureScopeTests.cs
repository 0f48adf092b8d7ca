using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Commands.Privacy;
using EventProfiles.Domain.Privacy;
using EventProfiles.Integration.Tests.Fixtures;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Wolverine;

namespace EventProfiles.Integration.Tests.Privacy;

/// <summary>
/// Issue 14, item 1: a data-subject request of one workspace matches only people with data in it, and its erasure
/// removes that workspace's data of them; the person's identities and the rest stay while another workspace holds them.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class ErasureScopeTests(AppFixture app)
{
    /// <summary>A person as one workspace sees them: its batch carries every kind of identity a request can name.</summary>
    private sealed record Person(string Customer, string Email, string Other, string Idfv)
    {
        public static Person New(string prefix)
        {
            var id = Api.NewId(prefix);
            return new Person(id, $"{id}@example.org", $"other-{id}", $"idfv-{id}");
        }

        public string Batch(string attribute, string value, string eventName) => $$"""
            { "environment": "development", "device_info": { "platform": "iOS", "ios_idfv": "{{Idfv}}" },
              "user_identities": { "customer_id": "{{Customer}}", "email": "{{Email}}", "other": "{{Other}}" },
              "user_attributes": { "{{attribute}}": "{{value}}" },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "{{eventName}}", "custom_event_type": "other" } } ] }
            """;

        /// <summary>The request's subject_identities and extensions naming the person by one kind of identity.</summary>
        public (string Standard, string Extension) Naming(string kind, long mpid) => kind switch
        {
            "customer_id" => ($$"""{ "controller_customer_id": { "value": "{{Customer}}", "encoding": "raw" } }""", ""),
            "email" => ($$"""{ "email": { "value": "{{Email}}", "encoding": "raw" } }""", ""),
            "ios_vendor_id" => ($$"""{ "ios_vendor_id": { "value": "{{Idfv}}", "encoding": "raw" } }""", ""),
            "other" => ("{}", $$"""{ "other": { "value": "{{Other}}", "encoding": "raw" } }"""),
            "mpid" => ("{}", $$"""{ "mpid": { "value": "{{mpid}}", "encoding": "raw" } }"""),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }

    public static TheoryData<string> Kinds => new() { "customer_id", "email", "ios_vendor_id", "other", "mpid" };

    private async Task<HttpResponseMessage> Send(HttpMethod method, string path, string? json, string key, string secret)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        request.Headers.Authorization = AppFixture.Basic(key, secret);
        return await app.Client.SendAsync(request);
    }

    /// <summary>Submits a request (waiting period skipped) as the workspace's input and waits until it completes.</summary>
    private async Task<DataSubjectRequest> Completed(string type, (string Standard, string Extension) naming, string key, string secret)
    {
        var id = Guid.NewGuid().ToString();
        var extension = naming.Extension.Length > 0 ? $", \"subject_identities\": {naming.Extension}" : "";
        var json = $$"""
            { "regulation": "gdpr", "subject_request_id": "{{id}}", "subject_request_type": "{{type}}", "submitted_time": "2026-11-01T10:00:00Z",
              "subject_identities": {{naming.Standard}}, "api_version": "3.0",
              "extensions": { "opendsr.mparticle.com": { "skip_waiting_period": true{{extension}} } } }
            """;
        using (var created = await Send(HttpMethod.Post, "/v3/requests", json, key, secret))
            created.StatusCode.ShouldBe(HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        return await UntilCompleted(Guid.Parse(id), key, secret);
    }

    private async Task<DataSubjectRequest> UntilCompleted(Guid id, string key, string secret)
    {
        await Waiting.Until(async () =>
        {
            await Task.Delay(200); // status calls count against the workspace's OpenDSR rate limit
            using var status = await Send(HttpMethod.Get, $"/v3/requests/{id}", null, key, secret);
            return JsonNode.Parse(await status.Content.ReadAsStringAsync())!["request_status"]!.GetValue<string>() == "completed";
        }, $"request {id} to complete", 60);
        // How many profiles it matched is kept on the request, not shown by OpenDSR.
        await using var session = app.Services.GetRequiredService<IDocumentStore>().QuerySession();
        return (await session.LoadAsync<DataSubjectRequest>(id))!;
    }

    private async Task<long> EventsOf(long mpid, int workspace)
    {
        await using var command = app.Db.CreateCommand(
            $"select count(*) from {app.Schema}.mt_events where stream_id = $1 and type in ('event_captured', 'batch_received') and (data->>'WorkspaceId')::int = $2");
        command.Parameters.AddWithValue(mpid.ToString());
        command.Parameters.AddWithValue(workspace);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task a_request_of_a_workspace_the_person_never_sent_data_to_matches_nobody(string kind)
    {
        var person = Person.New("ws1-only");
        await app.Ingested(person.Batch("plan", "pro", "Viewed"));
        var mpid = (await app.ProfileOf(person.Customer))["mpid"]!.GetValue<long>();

        var erasure = await Completed("erasure", person.Naming(kind, mpid), Api.OtherKey, Api.OtherSecret);
        erasure.ProfilesMatched.ShouldBe(0);
        var access = await Completed("access", person.Naming(kind, mpid), Api.OtherKey, Api.OtherSecret);
        access.ProfilesMatched.ShouldBe(0);

        // Workspace 1 still has all of it.
        var profile = await app.ProfileOf(person.Customer);
        profile["mpid"]!.GetValue<long>().ShouldBe(mpid);
        profile.Attribute("plan").ShouldBe(["pro"]);
        (await EventsOf(mpid, 1)).ShouldBe(2);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task an_erasure_removes_the_workspaces_data_and_keeps_what_another_workspace_holds(string kind)
    {
        var person = Person.New("both");
        await app.Ingested(person.Batch("plan", "pro", "Viewed"));
        await app.Ingested(person.Batch("secret_ws2", "only-2", "Bought"), key: Api.OtherKey, secret: Api.OtherSecret);
        var mpid = (await app.ProfileOf(person.Customer))["mpid"]!.GetValue<long>();
        (await app.ProfileOf(person.Customer, workspace: 2, token: await app.Token("other-client", "other-client-secret")))["mpid"]!.GetValue<long>().ShouldBe(mpid);
        await app.CatchUpDaemon();

        var erasure = await Completed("erasure", person.Naming(kind, mpid), Api.OtherKey, Api.OtherSecret);
        erasure.ProfilesMatched.ShouldBe(1);

        // Workspace 1: the same person, identities and data.
        var profile = await app.ProfileOf(person.Customer);
        profile["mpid"]!.GetValue<long>().ShouldBe(mpid);
        profile.Attribute("plan").ShouldBe(["pro"]);
        profile.Attribute("secret_ws2").ShouldBeEmpty();
        profile.Identities().ShouldContain($"email={person.Email}");
        (await EventsOf(mpid, 1)).ShouldBe(2);
        // Workspace 2: nothing of them; its events are gone.
        using (var gone = await app.ResolveProfile(person.Customer, workspace: 2, token: await app.Token("other-client", "other-client-secret")))
            gone.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await EventsOf(mpid, 2)).ShouldBe(0);
        await using (var session = app.Services.GetRequiredService<IDocumentStore>().QuerySession())
        {
            var stored = (await session.LoadAsync<Domain.Profiles.Profile>(mpid.ToString()))!;
            stored.IsKnownIn(2).ShouldBeFalse();
            stored.Workspaces.Keys.ShouldBe([1]);
        }

        // A rebuild folds the same: workspace 2 does not come back from the identity events it linked.
        var job = await app.StartJob("rebuild", new { projection = "profiles", mpid = mpid.ToString() });
        await app.Completed(job["id"]!.GetValue<string>());
        await using (var session = app.Services.GetRequiredService<IDocumentStore>().QuerySession())
            (await session.LoadAsync<Domain.Profiles.Profile>(mpid.ToString()))!.Workspaces.Keys.ShouldBe([1]);
        using (var still = await app.ResolveProfile(person.Customer, workspace: 2, token: await app.Token("other-client", "other-client-secret")))
            still.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task the_activity_views_request_form_erases_only_the_workspace_it_names()
    {
        var person = Person.New("ui-both");
        await app.Ingested(person.Batch("plan", "pro", "Viewed"));
        await app.Ingested(person.Batch("secret_ws2", "only-2", "Bought"), key: Api.OtherKey, secret: Api.OtherSecret);
        var mpid = (await app.ProfileOf(person.Customer))["mpid"]!.GetValue<long>();
        var alone = Person.New("ui-ws1-only");
        await app.Ingested(alone.Batch("plan", "basic", "Viewed"));
        var aloneMpid = (await app.ProfileOf(alone.Customer))["mpid"]!.GetValue<long>();
        await app.CatchUpDaemon();

        using var support = await app.SignedIn(AppFixture.SupportUser, AppFixture.SupportPassword); // sees workspace 2 only
        using (var refused = await support.PostAsync($"/ui/api/people/{aloneMpid}/requests",
                   new StringContent("""{ "workspace_id": 2, "regulation": "gdpr", "type": "erasure" }""", Encoding.UTF8, "application/json")))
            refused.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        using var created = await support.PostAsync($"/ui/api/people/{mpid}/requests",
            new StringContent("""{ "workspace_id": 2, "regulation": "gdpr", "type": "erasure" }""", Encoding.UTF8, "application/json"));
        var body = JsonNode.Parse(await created.Content.ReadAsStringAsync())!;
        created.StatusCode.ShouldBe(HttpStatusCode.Created, body.ToJsonString());
        var id = Guid.Parse(body["subject_request_id"]!.GetValue<string>());

        // The form's erasure waits the 7-day waiting period; carry it out now, as its scheduled job will.
        using (var scope = app.Services.CreateScope())
            await scope.ServiceProvider.GetRequiredService<IMessageBus>().InvokeAsync(new ProcessDataSubjectRequest(id), CancellationToken.None, TimeSpan.FromMinutes(1));
        var done = await UntilCompleted(id, Api.OtherKey, Api.OtherSecret);
        done.ProfilesMatched.ShouldBe(1);

        var profile = await app.ProfileOf(person.Customer);
        profile["mpid"]!.GetValue<long>().ShouldBe(mpid);
        profile.Attribute("plan").ShouldBe(["pro"]);
        (await EventsOf(mpid, 2)).ShouldBe(0);
        using (var gone = await support.GetAsync($"/ui/api/people/{mpid}")) gone.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await app.ProfileOf(alone.Customer)).Attribute("plan").ShouldBe(["basic"]);
    }
}
