using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Privacy;

/// <summary>
/// The console's Privacy page data (<c>GET /api/admin/privacy/requests</c>): requests of the user's workspaces with
/// their states, filtered, with the download of an access export; and the retention settings read and changed with the session.
/// </summary>
[Collection(AppCollection.Name)]
public class RequestListTests(AppFixture app)
{
    private static async Task<JsonObject> List(HttpClient client, string query)
    {
        using var response = await client.GetAsync($"/api/admin/privacy/requests?{query}");
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    private static IEnumerable<string> Ids(JsonObject page) => page["requests"]!.AsArray().Select(r => r!["subject_request_id"]!.GetValue<string>());

    [Fact]
    public async Task requests_are_listed_with_their_state_filtered_and_an_access_export_is_downloadable()
    {
        var customer = Api.NewId("dsr-list");
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}", "email": "{{customer}}@example.org" }, "user_attributes": { "plan": "pro" } }""");
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>().ToString();
        using var console = await app.SignedIn();
        async Task<string> Submit(string type)
        {
            using var response = await console.PostAsJsonAsync($"/ui/api/people/{mpid}/requests", new { workspace_id = 1, regulation = "gdpr", type });
            response.StatusCode.ShouldBe(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
            return (await response.Content.ReadFromJsonAsync<JsonObject>())!["subject_request_id"]!.GetValue<string>();
        }
        var access = await Submit("access");
        var erasure = await Submit("erasure");

        // Done requests keep no personal data (the MPID goes too): found by their id among the workspace's latest.
        JsonNode? done = null;
        await Waiting.Until(async () => (done = (await List(console, "workspace_id=1&type=access&status=completed&size=200"))["requests"]!.AsArray()
            .SingleOrDefault(r => r!["subject_request_id"]!.GetValue<string>() == access)) is not null, "the access request to complete", 60);
        done!["profiles_matched"]!.GetValue<int>().ShouldBe(1);
        done["mpid"].ShouldBeNull();
        done["identity_types"]!.AsArray().ShouldBeEmpty(); // asked by MPID; identities would be listed by type, never by value
        done["results_until"].ShouldNotBeNull();

        Ids(await List(console, $"mpid={mpid}")).ShouldBe([erasure]); // open requests keep the MPID
        Ids(await List(console, $"mpid={mpid}&status=pending&type=erasure&workspace_id=1")).ShouldBe([erasure]);
        Ids(await List(console, $"mpid={mpid}&type=access")).ShouldBeEmpty();
        var today = DateOnly.FromDateTime(app.Clock.GetUtcNow().UtcDateTime);
        Ids(await List(console, $"mpid={mpid}&from={today:yyyy-MM-dd}&to={today:yyyy-MM-dd}")).ShouldBe([erasure]);
        Ids(await List(console, $"mpid={mpid}&from={today.AddDays(1):yyyy-MM-dd}")).ShouldBeEmpty();
        var newest = await List(console, "workspace_id=1&size=2");
        Ids(newest).ShouldBe([erasure, access]); // newest first
        newest["total"]!.GetValue<int>().ShouldBeGreaterThanOrEqualTo(2);

        using (var zip = await console.GetAsync($"/api/admin/privacy/requests/{access}/results"))
        {
            zip.StatusCode.ShouldBe(HttpStatusCode.OK);
            zip.Content.Headers.ContentType!.MediaType.ShouldBe("application/zip");
            (await zip.Content.ReadAsByteArrayAsync()).Take(2).ShouldBe("PK"u8.ToArray());
        }

        // A user of workspace 2 sees none of workspace 1's requests, nor its export.
        using var support = await app.SignedIn(AppFixture.SupportUser, AppFixture.SupportPassword);
        Ids(await List(support, $"mpid={mpid}")).ShouldBeEmpty();
        using (var forbidden = await support.GetAsync("/api/admin/privacy/requests?workspace_id=1")) forbidden.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        using (var hidden = await support.GetAsync($"/api/admin/privacy/requests/{access}/results")) hidden.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task bad_filters_are_named_and_no_session_is_refused()
    {
        using var console = await app.SignedIn();
        foreach (var (query, field) in new[] { ("status=done", "status"), ("type=delete", "type"), ("from=05/12/2026", "from"), ("to=yesterday", "to"),
                     ("mpid=abc", "mpid"), ("page=0", "page"), ("size=201", "size") })
        {
            using var bad = await console.GetAsync($"/api/admin/privacy/requests?{query}");
            bad.StatusCode.ShouldBe(HttpStatusCode.BadRequest, query);
            (await bad.Content.ReadFromJsonAsync<JsonObject>())!["errors"]![0]!["field"]!.GetValue<string>().ShouldBe(field, query);
        }
        using (var anonymous = await app.Browser().GetAsync("/api/admin/privacy/requests")) anonymous.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task the_retention_settings_are_read_and_changed_with_the_session_by_admins_of_every_workspace_only()
    {
        using var console = await app.SignedIn();
        var before = (await console.GetFromJsonAsync<JsonObject>("/api/admin/retention"))!;
        using (var same = await console.PutAsJsonAsync("/api/admin/retention", new { profile_lifetime_days = before["profile_lifetime_days"]!.GetValue<int>() }))
            same.StatusCode.ShouldBe(HttpStatusCode.OK);
        using (var bad = await console.PutAsJsonAsync("/api/admin/retention", new { data_retention_days = 0 }))
            (await bad.Content.ReadFromJsonAsync<JsonObject>())!["errors"]![0]!["field"]!.GetValue<string>().ShouldBe("data_retention_days");

        using var support = await app.SignedIn(AppFixture.SupportUser, AppFixture.SupportPassword);
        using (var read = await support.GetAsync("/api/admin/retention")) read.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        using (var write = await support.PutAsJsonAsync("/api/admin/retention", new { data_retention_days = 100 })) write.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        (await app.AdminClient().GetFromJsonAsync<JsonObject>("/api/admin/retention"))!.ToJsonString().ShouldBe(before.ToJsonString());
    }
}
