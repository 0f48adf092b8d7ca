using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Catalog;

/// <summary>
/// The catalog (docs/console.md): names of accepted batches per workspace with their daily volume, read by kind and
/// prefix a page at a time; a workspace keeps at most its bound of names; only its admins read it.
/// </summary>
[Collection(AppCollection.Name)]
public class CatalogTests(AppFixture app)
{
    private Task Send(string json, string key = AppFixture.CatalogKey) => app.Ingested(json, key: key, secret: AppFixture.CatalogSecret);

    private static string Q(string prefix) => "q=" + Uri.EscapeDataString(prefix);

    private async Task<JsonObject> Catalog(int workspace, string query, HttpClient? client = null)
    {
        using var response = await (client ?? app.AdminClient()).GetAsync($"/api/admin/workspaces/{workspace}/catalog?{query}");
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    [Fact]
    public async Task names_of_accepted_batches_are_listed_by_kind_and_prefix_with_their_volume_today()
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        await Send($$"""
            { "environment": "development", "user_identities": { "customer_id": "{{Api.NewId("cat")}}" }, "user_attributes": { "plan_{{run}}": "pro" },
              "events": [
                { "event_type": "custom_event", "data": { "event_name": "Viewed Pricing {{run}}", "custom_event_type": "navigation", "custom_attributes": { "tier_{{run}}": "gold" } } },
                { "event_type": "custom_event", "data": { "event_name": "Viewed Pricing {{run}}", "custom_event_type": "navigation" } },
                { "event_type": "screen_view", "data": { "screen_name": "Home {{run}}" } } ] }
            """);

        JsonObject events = null!;
        await Waiting.Until(async () => (events = await Catalog(4, "kind=event&" + Q($"viewed pricing {run}")))["total"]!.GetValue<long>() == 1, "the event name in the catalog");
        var item = events["items"]![0]!;
        (item["name"]!.GetValue<string>(), item["event_type"]!.GetValue<string>(), item["total"]!.GetValue<long>()).ShouldBe(($"Viewed Pricing {run}", "custom_event", 2L));
        var week = item["last_7_days"]!.AsArray();
        week.Count.ShouldBe(7);
        week[6]!["date"]!.GetValue<string>().ShouldBe(DateOnly.FromDateTime(app.Clock.GetUtcNow().UtcDateTime).ToString("yyyy-MM-dd"));
        week[6]!["count"]!.GetValue<long>().ShouldBe(2);

        (await Catalog(4, "kind=screen&" + Q($"home {run}")))["items"]![0]!["name"]!.GetValue<string>().ShouldBe($"Home {run}");
        (await Catalog(4, "kind=user_attribute&" + Q($"PLAN_{run}")))["items"]![0]!["event_type"]!.GetValue<string>().ShouldBe("");
        (await Catalog(4, "kind=event_attribute&" + Q($"tier_{run}")))["items"]![0]!["event_type"]!.GetValue<string>().ShouldBe("custom_event");
        // Every kind at once; a prefix matches the beginning only ("_" and "%" are not wildcards).
        (await Catalog(4, Q($"home {run}")))["total"]!.GetValue<long>().ShouldBe(1);
        (await Catalog(4, Q($"%{run}")))["total"]!.GetValue<long>().ShouldBe(0);
        (await Catalog(4, "q=pricing"))["items"]!.AsArray().ShouldNotContain(i => i!["name"]!.GetValue<string>() == $"Viewed Pricing {run}");

        // Another batch adds to the same rows.
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{Api.NewId("cat")}}" }, "events": [ { "event_type": "custom_event", "data": { "event_name": "Viewed Pricing {{run}}", "custom_event_type": "navigation" } } ] }""");
        await Waiting.Until(async () => (await Catalog(4, "kind=event&" + Q($"viewed pricing {run}")))["items"]![0]!["total"]!.GetValue<long>() == 3, "the second batch's count");
    }

    [Fact]
    public async Task pages_hold_at_most_their_size_and_the_total_counts_every_match()
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        await Send($$"""
            { "environment": "development", "user_identities": { "customer_id": "{{Api.NewId("cat")}}" },
              "events": [ {{string.Join(",", Enumerable.Range(1, 5).Select(i => $$"""{ "event_type": "custom_event", "data": { "event_name": "Paged {{run}} {{i}}", "custom_event_type": "other" } }"""))}} ] }
            """);
        await Waiting.Until(async () => (await Catalog(4, Q($"paged {run}")))["total"]!.GetValue<long>() == 5, "five names");

        var first = await Catalog(4, Q($"paged {run}") + "&size=2&page=1");
        var third = await Catalog(4, Q($"paged {run}") + "&size=2&page=3");
        first["items"]!.AsArray().Count.ShouldBe(2);
        third["items"]!.AsArray().Count.ShouldBe(1);
        third["total"]!.GetValue<long>().ShouldBe(5);
        first["items"]!.AsArray().Concat(third["items"]!.AsArray()).Select(i => i!["name"]!.GetValue<string>()).Distinct().Count().ShouldBe(3);
    }

    [Fact]
    public async Task a_workspace_keeps_at_most_its_bound_of_names_and_counts_the_rest_as_overflow()
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        // More new names than the bound, in two batches.
        var names = Enumerable.Range(1, AppFixture.CatalogLimit + 20).Select(i => $"Flood {run} {i:D4}").ToList();
        foreach (var chunk in names.Chunk(70))
            await Send($$"""
                { "environment": "development", "user_identities": { "customer_id": "{{Api.NewId("flood")}}" },
                  "events": [ {{string.Join(",", chunk.Select(n => $$"""{ "event_type": "custom_event", "data": { "event_name": "{{n}}", "custom_event_type": "other" } }"""))}} ] }
                """, AppFixture.CatalogBoundKey);

        JsonObject catalog = null!;
        await Waiting.Until(async () => (catalog = await Catalog(5, "size=500"))["overflow"]!.GetValue<long>() >= 20, "the overflow");
        catalog["names"]!.GetValue<long>().ShouldBe(AppFixture.CatalogLimit);
        catalog["limit"]!.GetValue<int>().ShouldBe(AppFixture.CatalogLimit);
        catalog["items"]!.AsArray().Count.ShouldBe(AppFixture.CatalogLimit);

        // A name it holds is still counted; another new one is not kept.
        var kept = catalog["items"]![0]!["name"]!.GetValue<string>();
        await Send($$"""
            { "environment": "development", "user_identities": { "customer_id": "{{Api.NewId("flood")}}" },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "{{kept}}", "custom_event_type": "other" } },
                          { "event_type": "custom_event", "data": { "event_name": "Late {{run}}", "custom_event_type": "other" } } ] }
            """, AppFixture.CatalogBoundKey);
        await Waiting.Until(async () => (await Catalog(5, "size=500"))["overflow"]!.GetValue<long>() >= 21, "the second overflow");
        var after = await Catalog(5, Q(kept));
        after["items"]![0]!["total"]!.GetValue<long>().ShouldBe(2);
        (await Catalog(5, Q($"late {run}")))["total"]!.GetValue<long>().ShouldBe(0);
        (await Catalog(5, "size=1"))["names"]!.GetValue<long>().ShouldBe(AppFixture.CatalogLimit);
    }

    [Fact]
    public async Task only_admins_of_the_workspace_read_its_catalog_and_bad_parameters_are_named()
    {
        // The support user sees workspace 2 only: workspace 4 is as absent as one that does not exist.
        using var support = await app.SignedIn(AppFixture.SupportUser, AppFixture.SupportPassword);
        foreach (var workspace in new[] { 4, 999 })
        {
            using var hidden = await support.GetAsync($"/api/admin/workspaces/{workspace}/catalog");
            hidden.StatusCode.ShouldBe(HttpStatusCode.NotFound);
            (await hidden.Content.ReadAsStringAsync()).ShouldContain("workspaceId");
        }
        (await Catalog(2, "", support))["workspace_id"]!.GetValue<int>().ShouldBe(2);
        using (var anonymous = await app.NewClient().GetAsync("/api/admin/workspaces/1/catalog"))
            anonymous.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);

        foreach (var (query, field) in new[] { ("kind=events", "kind"), ("size=0", "size"), ("size=501", "size"), ("page=0", "page"), ($"q={new string('a', 257)}", "q") })
        {
            using var bad = await app.AdminClient().GetAsync($"/api/admin/workspaces/4/catalog?{query}");
            bad.StatusCode.ShouldBe(HttpStatusCode.BadRequest, query);
            var problem = await bad.Content.ReadFromJsonAsync<JsonObject>();
            problem!["errors"]![0]!["field"]!.GetValue<string>().ShouldBe(field, query);
        }
    }
}
