using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Domain.Operations;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Identity;

/// <summary>
/// Issue 21: every reader of stored events honours splits and merges. The shared tablet is split (Ana browsed on it, Ben
/// logged in on it and bought twice); then each reader is used: Ben's two batches appear under the new MPID only, never
/// twice, never under the original.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class MovedEventsReadersTests(AppFixture app) : WithReceiver(app)
{
    private sealed record Tablet(string S, long Original, long Ben, string AnaCustomer, string BenEmail, DateTimeOffset From, DateTimeOffset To)
    {
        public string Browse => $"Browse{S}";
        public string Purchase => $"Purchase{S}";
    }

    private static string Event(string name, DateTimeOffset at) =>
        $$"""{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "other", "timestamp_unixtime_ms": {{at.ToUnixTimeMilliseconds()}} } }""";

    private static string Batch(string identities, string device, string events) =>
        $$"""{ "environment": "development", "user_identities": { {{identities}} }, "device_info": { "ios_idfv": "{{device}}" }, "events": [ {{events}} ] }""";

    /// <summary>Ana's batch, then Ben's two on the same tablet (one person), then the split by Ben's email.</summary>
    private async Task<Tablet> SplitTabletAsync(string key = Api.DemoKey, string secret = Api.DemoSecret)
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var now = App.Clock.GetUtcNow();
        var (ana, anaEmail, benEmail, tablet) = (Api.NewId("ana"), Api.NewId("ana") + "@example.org", Api.NewId("ben") + "@example.org", Api.NewId("tablet"));
        var from = App.Clock.GetUtcNow();
        await App.Ingested(Batch($"\"customer_id\": \"{ana}\", \"email\": \"{anaEmail}\"", tablet, Event($"Browse{s}", now.AddMinutes(-30))), key: key, secret: secret);
        await App.Ingested(Batch($"\"email\": \"{benEmail}\"", tablet, Event($"Purchase{s}", now.AddMinutes(-20))), key: key, secret: secret);
        await App.Ingested(Batch($"\"email\": \"{benEmail}\"", tablet, Event($"Purchase{s}", now.AddMinutes(-10))), key: key, secret: secret);
        var to = App.Clock.GetUtcNow().AddMilliseconds(1);
        var merged = (await App.ProfileOf(ana))["mpid"]!.GetValue<long>();

        using var split = await App.AdminClient().PostAsJsonAsync($"/api/admin/people/{merged}/split",
            new { identities = new[] { new { type = "email", value = benEmail } }, reason = "shared family tablet" });
        var text = await split.Content.ReadAsStringAsync();
        split.StatusCode.ShouldBe(HttpStatusCode.Created, text);
        var answer = JsonNode.Parse(text)!;
        answer["batches_moved"]!.GetValue<int>().ShouldBe(2);
        await App.CatchUpDaemon();
        return new Tablet(s, merged, answer["new_mpid"]!.GetValue<long>(), ana, benEmail, from, to);
    }

    private async Task<JsonObject> Profile(long mpid)
    {
        using var response = await App.GetProfile(mpid);
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    private static int[] Memberships(JsonObject profile) => profile["audience_memberships"]!.AsArray().Select(m => m!["audience_id"]!.GetValue<int>()).ToArray();

    /// <summary>The versions stored on a stream, with their event types.</summary>
    private async Task<(long Version, string Type)[]> StoredAsync(long mpid)
    {
        await using var command = App.Db.CreateCommand($"select version, type from {App.Schema}.mt_events where stream_id = $1 order by version");
        command.Parameters.AddWithValue(mpid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var stored = new List<(long, string)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) stored.Add((reader.GetInt64(0), reader.GetString(1)));
        return [.. stored];
    }

    /// <summary>The versions the (one) split of this stream hid.</summary>
    private async Task<long[]> HiddenBySplitAsync(long mpid)
    {
        await using var command = App.Db.CreateCommand($"select data::text from {App.Schema}.mt_events where stream_id = $1 and type = 'person_split'");
        command.Parameters.AddWithValue(mpid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var split = JsonNode.Parse((string)(await command.ExecuteScalarAsync())!)!.AsObject();
        return split.First(p => p.Key.Equals("hidden", StringComparison.OrdinalIgnoreCase)).Value!.AsArray().Select(v => v!.GetValue<long>()).ToArray();
    }

    [Fact]
    public async Task erasing_the_person_a_split_gave_events_to_deletes_the_originals_hidden_on_the_giver_and_nothing_of_the_giver()
    {
        var t = await SplitTabletAsync();
        var hidden = await HiddenBySplitAsync(t.Original);
        hidden.Length.ShouldBeGreaterThan(0);
        var before = (await StoredAsync(t.Original)).Select(s => s.Version).ToArray();
        before.ShouldContain(v => hidden.Contains(v)); // Ben's originals, kept hidden on Ana's stream
        var anaBefore = await Profile(t.Original);

        await DataSubjectRequests.EraseAsync(App, "email", t.BenEmail);

        // Ben's copies are gone with his stream, and so are his originals on Ana's; everything of Ana's stays as it was.
        (await StoredAsync(t.Original)).Select(s => s.Version).ShouldBe(before.Where(v => !hidden.Contains(v)).ToArray());
        using (var gone = await App.GetProfile(t.Ben)) gone.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        var anaAfter = await Profile(t.Original);
        anaAfter["user_identities"]!.ToJsonString().ShouldBe(anaBefore["user_identities"]!.ToJsonString());
        anaAfter["user_attributes"]!.ToJsonString().ShouldBe(anaBefore["user_attributes"]!.ToJsonString());
        using var browser = await App.SignedIn();
        (await browser.UiJson($"/ui/api/people/{t.Original}/events?size=200"))["events"]!.AsArray()
            .Select(e => e!["name"]!.GetValue<string>()).ShouldBe([t.Browse]);
    }

    [Fact]
    public async Task erasing_one_workspace_s_part_of_that_person_deletes_the_batches_and_events_of_that_workspace_among_the_originals()
    {
        var t = await SplitTabletAsync();
        // Ben also uses another workspace: an erasure through the demo input takes workspace 1's part of him only.
        await App.Ingested(Batch($"\"email\": \"{t.BenEmail}\"", Api.NewId("phone"), Event($"Elsewhere{t.S}", App.Clock.GetUtcNow())),
            key: AppFixture.LimitedKey, secret: AppFixture.LimitedSecret);
        var hidden = await HiddenBySplitAsync(t.Original);
        (await StoredAsync(t.Original)).ShouldContain(s => hidden.Contains(s.Version) && s.Type == "event_captured");

        await DataSubjectRequests.EraseAsync(App, "email", t.BenEmail);

        // His workspace-1 batches and events are gone from Ana's stream too; he keeps his other workspace's data.
        (await StoredAsync(t.Original)).ShouldNotContain(s => hidden.Contains(s.Version) && (s.Type == "event_captured" || s.Type == "batch_received"));
        (await StoredAsync(t.Ben)).ShouldNotBeEmpty(); // his stream stays, with his other workspace's data
        (await StoredAsync(t.Original)).ShouldContain(s => !hidden.Contains(s.Version) && s.Type == "event_captured"); // Ana's browse stays
    }

    [Fact]
    public async Task the_timeline_shows_the_moved_events_under_the_new_person_only_and_the_original_page_records_the_split()
    {
        var t = await SplitTabletAsync();
        using var browser = await App.SignedIn();
        async Task<string[]> Names(long mpid) =>
            (await browser.UiJson($"/ui/api/people/{mpid}/events?size=200"))["events"]!.AsArray().Select(e => e!["name"]!.GetValue<string>()).ToArray();

        (await Names(t.Original)).ShouldBe([t.Browse]);
        (await Names(t.Ben)).ShouldBe([t.Purchase, t.Purchase]);
        (await browser.UiJson($"/ui/api/people/{t.Original}/events?size=200"))["total"]!.GetValue<long>().ShouldBe(1);
        (await browser.UiJson($"/ui/api/people/{t.Original}/activity"))["total"]!.GetValue<long>().ShouldBe(1);
        (await browser.UiJson($"/ui/api/people/{t.Ben}/activity"))["total"]!.GetValue<long>().ShouldBe(2);
        // The original's page records the split (the move is its entry); the events it moved are only on Ben's timeline.
        var page = await browser.UiJson($"/ui/api/people/{t.Original}");
        var move = page["moves"]!.AsArray().ShouldHaveSingleItem()!;
        (move["kind"]!.GetValue<string>(), move["other_mpid"]!.GetValue<string>(), move["gave"]!.GetValue<bool>()).ShouldBe(("split", t.Ben.ToString(), true));
    }

    [Fact]
    public async Task a_data_replay_sends_each_moved_batch_once_under_the_new_person()
    {
        await NewOutputAsync();
        var connection = (await App.Connect(AppFixture.ForwardingInput, OutputId))["id"]!.GetValue<string>();
        var t = await SplitTabletAsync(AppFixture.ForwardingKey, AppFixture.ForwardingSecret);

        var job = await App.StartJob(OperationKinds.Replay, new { input = AppFixture.ForwardingInput, connection, from = t.From.ToString("O"), to = t.To.ToString("O") }, workspace: 1);
        var id = job["id"]!.GetValue<string>();
        var done = await App.Completed(id);
        done["done"]!.GetValue<long>().ShouldBe(3);
        done["events"]!.GetValue<long>().ShouldBe(3);

        List<JsonObject> Replayed() => Receiver.Received.Select(r => r.Batch).Where(b => b["replay"]?["replay_id"]?.GetValue<string>() == id).ToList();
        await Waiting.Until(() => Task.FromResult(Replayed().Count >= 3), "the replayed deliveries");
        await Task.Delay(300); // nothing more comes
        var replayed = Replayed();
        replayed.Count.ShouldBe(3);
        replayed.Select(b => b["batch_id"]!.GetValue<string>()).Distinct().Count().ShouldBe(3);
        string[] Names(JsonObject b) => b["events"]!.AsArray().Select(e => e!["data"]!["event_name"]!.GetValue<string>()).ToArray();
        replayed.Where(b => b["mpid"]!.GetValue<long>() == t.Original).SelectMany(Names).ShouldBe([t.Browse]);
        replayed.Where(b => b["mpid"]!.GetValue<long>() == t.Ben).SelectMany(Names).ShouldBe([t.Purchase, t.Purchase]);
    }

    [Fact]
    public async Task an_export_holds_the_moved_events_under_the_new_person_only_and_no_move_records()
    {
        var t = await SplitTabletAsync();
        var job = await App.StartJob(OperationKinds.Export, workspace: 1);
        var file = (await App.Completed(job["id"]!.GetValue<string>()))["result"]!.GetValue<string>();
        var lines = (await File.ReadAllLinesAsync(file)).Skip(1).Select(l => JsonNode.Parse(l)!).ToList();
        string[] Names(long mpid) => lines.Where(l => l["mpid"]!.GetValue<string>() == mpid.ToString() && l["type"]!.GetValue<string>() == "event_captured")
            .Select(l => l["data"]!["EventName"]!.GetValue<string>()).ToArray();

        Names(t.Original).ShouldBe([t.Browse]);
        Names(t.Ben).ShouldBe([t.Purchase, t.Purchase]);
        lines.Where(l => l["mpid"]!.GetValue<string>() == t.Original.ToString() || l["mpid"]!.GetValue<string>() == t.Ben.ToString())
            .Select(l => l["type"]!.GetValue<string>()).ShouldNotContain(type => type == "person_split" || type == "people_merged");
        lines.Count(l => l["mpid"]!.GetValue<string>() == t.Original.ToString() && l["type"]!.GetValue<string>() == "batch_received").ShouldBe(1);
        lines.Count(l => l["mpid"]!.GetValue<string>() == t.Ben.ToString() && l["type"]!.GetValue<string>() == "batch_received").ShouldBe(2);
    }

    private async Task<HttpResponseMessage> Dsr(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        request.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
        return await App.Client.SendAsync(request);
    }

    /// <summary>An access request for one identity, completed; the batches of its export (batches.jsonl), as event names per MPID.</summary>
    private async Task<List<(long Mpid, string[] Names)>> AccessExportAsync(string identities)
    {
        var id = Guid.NewGuid().ToString();
        using (var submitted = await Dsr(HttpMethod.Post, "/v3/requests", $$"""
            { "regulation": "gdpr", "subject_request_id": "{{id}}", "subject_request_type": "access", "submitted_time": "2026-11-01T10:00:00Z",
              "subject_identities": {{identities}}, "api_version": "3.0", "extensions": { "opendsr.mparticle.com": { "skip_waiting_period": true } } }
            """))
            submitted.StatusCode.ShouldBe(HttpStatusCode.Created, await submitted.Content.ReadAsStringAsync());
        JsonObject? status = null;
        await Waiting.Until(async () =>
        {
            await Task.Delay(200); // status calls count against the workspace's rate limit
            using var response = await Dsr(HttpMethod.Get, $"/v3/requests/{id}");
            status = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
            return status["request_status"]?.GetValue<string>() == "completed";
        }, $"request {id} to complete", 60);
        using var download = await Dsr(HttpMethod.Get, status!["results_url"]!.GetValue<string>());
        download.StatusCode.ShouldBe(HttpStatusCode.OK);
        using var zip = new ZipArchive(await download.Content.ReadAsStreamAsync());
        using var reader = new StreamReader(zip.GetEntry("batches.jsonl")!.Open());
        return (await reader.ReadToEndAsync()).Trim().Split('\n').Select(l => JsonNode.Parse(l)!)
            .Select(b => (b["mpid"]!.GetValue<long>(), b["events"]!.AsArray().Select(e => e!["data"]!["event_name"]!.GetValue<string>()).ToArray())).ToList();
    }

    [Fact]
    public async Task access_exports_give_the_moved_batches_to_the_new_person_only()
    {
        var t = await SplitTabletAsync();
        var original = await AccessExportAsync($$"""{ "controller_customer_id": { "value": "{{t.AnaCustomer}}", "encoding": "raw" } }""");
        original.Select(b => b.Mpid).ShouldBe([t.Original]);
        original.SelectMany(b => b.Names).ShouldBe([t.Browse]);
        var ben = await AccessExportAsync($$"""{ "email": { "value": "{{t.BenEmail}}", "encoding": "raw" } }""");
        ben.Select(b => b.Mpid).ShouldBe([t.Ben, t.Ben]);
        ben.SelectMany(b => b.Names).ShouldBe([t.Purchase, t.Purchase]);
    }

    [Fact]
    public async Task a_standard_audience_and_a_size_estimate_count_the_moved_events_for_the_new_person_only()
    {
        var t = await SplitTabletAsync();
        var today = App.Clock.GetUtcNow().UtcDateTime.Date;
        using var created = await App.Platform(HttpMethod.Post, "/v1/audiences?accountId=1", $$"""
            { "name": "Bought {{t.S}}", "audience_type": "standard", "workspaces": [1],
              "date_range": { "from": "{{today.AddDays(-2):yyyy-MM-dd}}", "to": "{{today:yyyy-MM-dd}}" },
              "criteria": [ { "kind": "event", "event_type": "custom_event", "event_name": "{{t.Purchase}}", "frequency": { "operator": "greater_or_equal", "count": 1 } } ] }
            """);
        created.StatusCode.ShouldBe(HttpStatusCode.OK, await created.Content.ReadAsStringAsync());
        var id = JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!.GetValue<int>();
        using (var activated = await App.Platform(HttpMethod.Post, $"/v1/audiences/{id}/activation?accountId=1")) activated.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        await Waiting.Until(async () => (await App.Audience(id))["status"]!.GetValue<string>() == "ready", "the standard audience", 60);
        (await App.Audience(id))["size"]!.GetValue<long>().ShouldBe(1);
        Memberships(await Profile(t.Ben)).ShouldContain(id);
        Memberships(await Profile(t.Original)).ShouldNotContain(id);

        using var browser = await App.SignedIn();
        using var started = await browser.PostAsJsonAsync("/ui/api/audiences/estimates", new
        {
            name = $"Buyers {t.S}", workspaces = new[] { 1 }, audience_type = "real_time",
            criteria = new object[] { new { kind = "event", event_type = "custom_event", event_name = t.Purchase, frequency = new { @operator = "greater_or_equal", count = 2 }, recency = new { within_days = 7 } } },
        });
        var startedText = await started.Content.ReadAsStringAsync();
        started.StatusCode.ShouldBe(HttpStatusCode.Accepted, startedText);
        var estimateId = JsonNode.Parse(startedText)!["id"]!.GetValue<string>();
        JsonObject? estimate = null;
        await Waiting.Until(async () => (estimate = await browser.UiJson($"/ui/api/audiences/estimates/{estimateId}"))["status"]!.GetValue<string>() == "finished", "the estimate", 60);
        estimate!["size"]!.GetValue<long>().ShouldBe(1); // Ben; the original's hidden copies of his purchases count for nobody
    }

    [Fact]
    public async Task a_calculated_attribute_and_an_audience_activated_after_the_split_count_the_moved_events_for_the_new_person_only()
    {
        var t = await SplitTabletAsync();
        var purchases = $"purchases_after_{t.S}";
        await App.ActiveCalculatedAttribute(purchases, $$"""
            { "recipe_type": "event", "data_point": { "type": "event", "event_type": "custom_event", "event_name": "{{t.Purchase}}", "attribute_name": null },
              "conditions": [], "calculation_type": "count", "time_period": { "type": "within", "within": 30, "within_unit": "days" } }
            """);
        var buyers = await App.ActiveAudience($"Buyers after {t.S}", $$"""[ { "kind": "event", "event_type": "custom_event", "event_name": "{{t.Purchase}}" } ]""");
        await App.CatchUpDaemon();

        var ben = await Profile(t.Ben);
        ben.Attribute(purchases).ShouldBe(["2"]);
        Memberships(ben).ShouldContain(buyers);
        var original = await Profile(t.Original);
        original.Attribute(purchases).ShouldAllBe(v => v == "0");
        Memberships(original).ShouldNotContain(buyers);
    }

    [Fact]
    public async Task an_alias_of_the_original_copies_none_of_the_events_the_split_moved_away()
    {
        var t = await SplitTabletAsync();
        var destinationCustomer = Api.NewId("alias-dest");
        var destination = (await App.Identity("identify", new { customerid = destinationCustomer })).Mpid();
        var now = App.Clock.GetUtcNow();
        using (var response = await App.Call("/v1/alias", new
               {
                   request_type = "alias", request_id = Guid.NewGuid().ToString(), environment = "development",
                   data = new { source_mpid = t.Original, destination_mpid = destination, start_unixtime_ms = now.AddHours(-1).ToUnixTimeMilliseconds(), end_unixtime_ms = now.ToUnixTimeMilliseconds() },
               }, key: "demo-web-key"))
            response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());

        await Waiting.Until(async () => await App.EventCount(long.Parse(destination), "profile_aliased_from") == 1, "the alias copy");
        (await App.EventCount(long.Parse(destination), "event_captured")).ShouldBe(1); // Ana's browse; Ben's purchases are his
    }

    [Theory]
    [InlineData("projections", "rebuild")]
    [InlineData("projections", "--rebuild")]
    public async Task marten_s_own_projection_rebuild_is_refused_with_a_pointer_to_the_rebuild_job_and_changes_nothing(string command, string action)
    {
        var t = await SplitTabletAsync();
        var before = (await Profile(t.Original)).ToJsonString();

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "EventProfiles.Host.dll"));
        start.ArgumentList.Add(command);
        start.ArgumentList.Add(action);
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        var text = await output + await errors;

        process.ExitCode.ShouldBe(1, text);
        text.ShouldContain("split or merge");
        text.ShouldContain("rebuild [--projection profiles|calculations|all]");
        (await Profile(t.Original)).ToJsonString().ShouldBe(before);
    }
}
