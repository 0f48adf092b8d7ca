using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Forwarding;

/// <summary>
/// The console's health of outputs (<c>GET /api/admin/outputs/health</c>): deliveries, failed attempts and dead letters of
/// the last hour, what waits, the last error; and the admin endpoints the Connections page calls with its session.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class OutputHealthTests(AppFixture app) : WithReceiver(app)
{
    private Task Send(string customer) => App.Ingested(
        $$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "events": [ { "event_type": "custom_event", "data": { "event_name": "Play", "custom_event_type": "other" } } ] }""",
        key: AppFixture.ForwardingKey, secret: AppFixture.ForwardingSecret);

    private static async Task<JsonObject?> HealthOf(HttpClient client, string outputId) =>
        (await client.GetFromJsonAsync<JsonArray>("/api/admin/outputs/health"))!.Select(o => o!.AsObject())
            .SingleOrDefault(o => o["output"]!["id"]!.GetValue<string>() == outputId);

    [Fact]
    public async Task an_output_shows_its_last_hours_deliveries_failures_and_last_error_and_is_paused_from_the_console()
    {
        await NewOutputAsync();
        await App.Connect(AppFixture.ForwardingInput, OutputId);
        var (delivered, refused) = (Api.NewId("ok"), Api.NewId("refused"));
        Receiver.StatusFor = b => b.ToJsonString().Contains(refused) ? 400 : null;
        await Send(delivered);
        await Send(refused);

        using var console = await App.SignedIn(); // the console's session, not Basic
        JsonObject health = null!;
        await Waiting.Until(async () => (health = (await HealthOf(console, OutputId))!["health"]!.AsObject())["dead_letters"]!.GetValue<long>() == 1
            && health["delivered"]!.GetValue<long>() == 1 && health["pending"]!.GetValue<long>() == 0, "the delivery and the dead letter", seconds: 30);
        health["failed_attempts"]!.GetValue<long>().ShouldBe(1);
        health["dead_letters_total"]!.GetValue<long>().ShouldBe(1);
        health["status"]!.GetValue<string>().ShouldBe("degraded");
        health["last_error"]!.GetValue<string>().ShouldContain("400");
        health["last_error_at"].ShouldNotBeNull();

        // Pause and resume with the session, as the page does.
        using (var pause = await console.PostAsync($"/api/admin/outputs/{OutputId}/pause", null)) pause.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await HealthOf(console, OutputId))!["health"]!["status"]!.GetValue<string>().ShouldBe("paused");
        using (var resume = await console.PostAsync($"/api/admin/outputs/{OutputId}/resume", null)) resume.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await HealthOf(console, OutputId))!["output"]!["paused"]!.GetValue<bool>().ShouldBeFalse();

        // An hour later the failures are history: the counts are of the last hour only, the last error stays.
        App.Clock.Advance(TimeSpan.FromMinutes(61));
        try
        {
            var later = (await HealthOf(App.AdminClient(), OutputId))!["health"]!; // Basic: the session would have expired in that hour
            (later["delivered"]!.GetValue<long>(), later["failed_attempts"]!.GetValue<long>(), later["dead_letters"]!.GetValue<long>()).ShouldBe((0L, 0L, 0L));
            later["status"]!.GetValue<string>().ShouldBe("healthy");
            later["last_error"]!.GetValue<string>().ShouldContain("400");
        }
        finally
        {
            App.Clock.Reset();
        }
    }

    [Fact]
    public async Task an_outputs_delivered_count_never_falls_while_this_nodes_counts_are_written_to_the_tables()
    {
        await NewOutputAsync();
        await App.Connect(AppFixture.ForwardingInput, OutputId);
        // Deliveries are counted in memory and written every half second; a read adds both up while they keep moving.
        var sending = Task.WhenAll(Enumerable.Range(0, 4).Select(sender => Task.Run(async () =>
        {
            for (var i = 0; i < 50; i++) await Send(Api.NewId($"moving{sender}-{i}"));
        })));
        var seen = new List<long>();
        var reads = new List<string>();
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            // Taken before the read: a send that completes during the read may be missing from what it counted.
            var sent = sending.IsCompleted;
            var counters = (await App.Output(OutputId))["counters"]!;
            seen.Add(counters["delivered"]!.GetValue<long>());
            reads.Add($"{counters.ToJsonString()}, every send answered before the read: {sent}");
            if (sent && counters["pending"]!.GetValue<long>() == 0 && counters["enqueued"]!.GetValue<long>() > 0) break;
        }
        await sending;
        seen.Zip(seen.Skip(1)).Where(pair => pair.Second < pair.First).ShouldBeEmpty();
        var final = (await App.Output(OutputId))["counters"]!;
        seen[^1].ShouldBe(final["enqueued"]!.GetValue<long>(), string.Join("\n", reads.TakeLast(8)) + "\nfinal " + final.ToJsonString());
    }

    [Fact]
    public async Task a_workspace_limited_user_sees_only_outputs_of_their_workspace_and_needs_a_session_or_basic()
    {
        await NewOutputAsync(); // org-wide: not the support user's
        using var support = await App.SignedIn(AppFixture.SupportUser, AppFixture.SupportPassword);
        (await HealthOf(support, OutputId)).ShouldBeNull();
        using (var other = await support.PostAsync($"/api/admin/outputs/{OutputId}/pause", null)) other.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await HealthOf(App.AdminClient(), OutputId)).ShouldNotBeNull();
        using (var anonymous = await App.NewClient().GetAsync("/api/admin/outputs/health")) anonymous.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task the_connections_page_lists_the_inputs_of_the_users_workspaces_from_the_admin_api()
    {
        // The page reads /api/admin/inputs (its own copy under /ui/api is gone): a workspace-limited user sees only theirs.
        using var support = await App.SignedIn(AppFixture.SupportUser, AppFixture.SupportPassword);
        var inputs = (await support.GetFromJsonAsync<JsonArray>("/api/admin/inputs"))!;
        inputs.ShouldNotBeEmpty();
        inputs.ShouldAllBe(i => i!["workspace_id"]!.GetValue<int>() == 2);
        inputs.ShouldAllBe(i => i!["secrets"]!.AsArray().All(s => s!["secret"] == null)); // secrets by id, never their value
        using var admin = await App.SignedIn();
        (await admin.GetFromJsonAsync<JsonArray>("/api/admin/inputs"))!.Select(i => i!["name"]!.GetValue<string>()).ShouldContain(AppFixture.ForwardingInput);
        using (var anonymous = await App.Browser().GetAsync("/api/admin/inputs")) anonymous.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        using (var removed = await admin.GetAsync("/ui/api/inputs")) removed.StatusCode.ShouldNotBe(HttpStatusCode.OK);
    }
}
