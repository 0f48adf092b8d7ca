using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Forwarding;

/// <summary>Batches leave enriched, filtered per connection, and reach a real HTTP receiver exactly once.</summary>
[Collection(AppCollection.Name)]
public sealed class ForwardingTests(AppFixture app) : WithReceiver(app)
{

    private async Task<string> Connected(object? filter = null, object? consentRules = null, string? secret = null)
    {
        OutputId = (await App.CreateOutput(Receiver.Url, secret))["id"]!.GetValue<string>();
        await App.Connect(AppFixture.ForwardingInput, OutputId, filter, consentRules);
        return OutputId;
    }

    private Task Send(string json) => App.Ingested(json, key: AppFixture.ForwardingKey, secret: AppFixture.ForwardingSecret);

    private static string Event(string name) => $$"""{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "other" } }""";

    [Fact]
    public async Task a_later_batch_arrives_enriched_with_what_earlier_batches_set()
    {
        await Connected(secret: "hook-secret");
        var customer = Api.NewId("fw");
        await Send($$"""{ "user_identities": { "customer_id": "{{customer}}", "email": "{{customer}}@example.org" }, "user_attributes": { "tier": "gold" } }""");
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{Event("Play")}} ] }""");

        await Waiting.Until(() => Task.FromResult(Receiver.BatchesOf(customer).Count == 1), "the forwarded batch");
        var batch = Receiver.BatchesOf(customer).Single();
        batch["user_attributes"]!["tier"]!.GetValue<string>().ShouldBe("gold");
        batch["user_identities"]!.AsArray().Select(i => i!["identity_type"]!.GetValue<string>()).ShouldBe(["customer_id", "email"], ignoreOrder: true);
        batch["events"]!.AsArray().Single()!["data"]!["event_name"]!.GetValue<string>().ShouldBe("Play");
        Receiver.Received.Single(r => r.Batch == batch).Signature!.ShouldStartWith("sha256=");
        // The count is committed after the receiver answered: wait for it, then it must be this one batch alone (the
        // profile-only batch was not forwarded).
        await Waiting.Until(async () => (await App.Output(OutputId))["counters"]!["delivered"]!.GetValue<long>() >= 1, "the delivery counted");
        (await App.Output(OutputId))["counters"]!["delivered"]!.GetValue<long>().ShouldBe(1);
    }

    [Fact]
    public async Task batches_carry_the_persons_calculated_attributes_in_place_of_a_user_attribute_of_the_same_name()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        await App.ActiveCalculatedAttribute($"plays_{s}", $$"""
            { "data_point": { "type": "event", "event_type": "custom_event", "event_name": "Play{{s}}" }, "calculation_type": "count",
              "time_period": { "type": "within", "within": 30, "within_unit": "days" } }
            """);
        await Connected();
        var customer = Api.NewId("fw-ca");
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{Event($"Play{s}")}}, {{Event($"Play{s}")}} ] }""");
        await App.CatchUpDaemon();
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "plays_{{s}}": "a user value" }, "events": [ {{Event("Other")}} ] }""");

        await Waiting.Until(() => Task.FromResult(Receiver.BatchesOf(customer).Count == 2), "the forwarded batches");
        var second = Receiver.BatchesOf(customer).Single(b => b["events"]!.AsArray().Any(e => e!["data"]!["event_name"]!.GetValue<string>() == "Other"));
        second["user_attributes"]![$"plays_{s}"]!.GetValue<string>().ShouldBe("2");
    }

    [Fact]
    public async Task batches_carry_the_persons_current_audience_memberships()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var id = await App.ActiveAudience($"Members {s}", $$"""[ { "kind": "user_attribute", "attribute_name": "club_{{s}}", "type": "string", "operator": "exists" } ]""");
        await Connected();
        var customer = Api.NewId("fw-aud");
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "club_{{s}}": "yes" }, "events": [ {{Event("First")}} ] }""");
        await App.CatchUpDaemon();
        await Waiting.Until(async () => (await App.MembershipsOf(customer)).Contains(id), "the membership");
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{Event("Second")}} ] }""");

        await Waiting.Until(() => Task.FromResult(Receiver.BatchesOf(customer).Count == 2), "the forwarded batches");
        var second = Receiver.BatchesOf(customer).Single(b => b["events"]!.AsArray().Any(e => e!["data"]!["event_name"]!.GetValue<string>() == "Second"));
        second["audience_memberships"]!.AsArray().Select(a => a!["audience_id"]!.GetValue<int>()).ShouldContain(id);
    }

    [Fact]
    public async Task blocked_attributes_and_events_never_leave()
    {
        await Connected(filter: new
        {
            blocked_event_names = new[] { new { event_type = "custom_event", event_name = "Hidden" } },
            blocked_user_attributes = new[] { "secret" },
            blocked_identity_types = new[] { "email" },
        });
        var customer = Api.NewId("blk");
        await Send($$"""{ "user_identities": { "customer_id": "{{customer}}", "email": "{{customer}}@example.org" }, "user_attributes": { "secret": "s", "tier": "gold" }, "events": [ {{Event("Hidden")}} ] }""");
        await Send($$"""{ "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{Event("Hidden")}}, {{Event("Shown")}} ] }""");

        await Waiting.Until(() => Task.FromResult(Receiver.BatchesOf(customer).Count == 1), "the allowed batch");
        var batch = Receiver.BatchesOf(customer).Single(); // the first batch had only a blocked event: nothing left to send
        batch["events"]!.AsArray().Select(e => e!["data"]!["event_name"]!.GetValue<string>()).ShouldBe(["Shown"]);
        batch["user_attributes"]!.AsObject().Select(a => a.Key).ShouldBe(["tier"]);
        batch["user_identities"]!.AsArray().Select(i => i!["identity_type"]!.GetValue<string>()).ShouldBe(["customer_id"]);
        (await App.Output(OutputId))["counters"]!["enqueued"]!.GetValue<long>().ShouldBe(1);
    }

    [Fact]
    public async Task a_consent_rule_holds_batches_back_until_consent_is_given()
    {
        await Connected(consentRules: new[] { new { kind = "require_gdpr_consent", purpose = "Marketing" } });
        var customer = Api.NewId("cons");
        var t = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await Send($$"""{ "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{Event("Before consent")}} ] }""");
        (await App.Output(OutputId))["counters"]!["enqueued"]!.GetValue<long>().ShouldBe(0); // held back in the same transaction

        await Send($$"""
            { "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{Event("After consent")}} ],
              "consent_state": { "gdpr": { "marketing": { "consented": true, "timestamp_unixtime_ms": {{t}} } } } }
            """);
        await Waiting.Until(() => Task.FromResult(Receiver.BatchesOf(customer).Count == 1), "the consented batch");
        var batch = Receiver.BatchesOf(customer).Single();
        batch["events"]![0]!["data"]!["event_name"]!.GetValue<string>().ShouldBe("After consent");
        batch["system_notifications"]!.AsArray().Single()!["type"]!.GetValue<string>().ShouldBe("gdpr_change");
    }

    [Fact]
    public async Task aReceiver_that_fails_and_then_recovers_gets_every_batch_exactly_once()
    {
        await Connected();
        var customers = Enumerable.Range(0, 10).Select(_ => Api.NewId("down")).ToList();
        Receiver.Failing = true; // answers 500 for a while
        foreach (var c in customers.Take(5)) await Send($$"""{ "user_identities": { "customer_id": "{{c}}" }, "events": [ {{Event("e")}} ] }""");
        await Receiver.StopAsync(); // then refuses connections
        foreach (var c in customers.Skip(5)) await Send($$"""{ "user_identities": { "customer_id": "{{c}}" }, "events": [ {{Event("e")}} ] }""");
        await Task.Delay(300); // let some retries fail against the closed port
        Receiver.Failing = false;
        await Receiver.RestartAsync();

        await Waiting.Until(() => Task.FromResult(customers.All(c => Receiver.BatchesOf(c).Count >= 1)), "every batch after the outage", seconds: 30);
        customers.ShouldAllBe(c => Receiver.BatchesOf(c).Count == 1);
        Receiver.Received.Select(r => r.DeliveryId).Distinct().Count().ShouldBe(Receiver.Received.Count);
    }

    [Fact]
    public async Task deliveries_refused_for_good_are_dead_letters_that_can_be_replayed()
    {
        var refusing = await Receiver.StartAsync();
        await refusing.StopAsync();
        OutputId = (await App.CreateOutput(Receiver.Url.Replace("/hook", "/missing")))["id"]!.GetValue<string>(); // 404: refused for good
        await App.Connect(AppFixture.ForwardingInput, OutputId);
        var customer = Api.NewId("dead");
        await Send($$"""{ "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{Event("e")}} ] }""");

        JsonArray dead = [];
        await Waiting.Until(async () => (dead = (await App.AdminClient().GetFromJsonAsync<JsonArray>($"/api/admin/outputs/{OutputId}/dead-letters"))!).Count == 1,
            "the dead letter");
        dead[0]!["error"]!.GetValue<string>().ShouldContain("404");
        var output = await App.Output(OutputId);
        output["counters"]!["failed"]!.GetValue<long>().ShouldBe(1);
        output["counters"]!["pending"]!.GetValue<long>().ShouldBe(0);

        // Point the output at the right URL, replay: the batch arrives.
        using (var update = await App.AdminClient().PutAsJsonAsync($"/api/admin/outputs/{OutputId}", new { name = "fixed", kind = "webhook", webhook = new { url = Receiver.Url } }))
            update.StatusCode.ShouldBe(HttpStatusCode.OK);
        using (var replay = await App.AdminClient().PostAsync($"/api/admin/outputs/{OutputId}/dead-letters/replay", null))
            (await replay.Content.ReadFromJsonAsync<JsonObject>())!["replayed"]!.GetValue<int>().ShouldBe(1);
        await Waiting.Until(() => Task.FromResult(Receiver.BatchesOf(customer).Count == 1), "the replayed batch", seconds: 30);
        await refusing.DisposeAsync();
    }

    [Fact]
    public async Task an_update_without_the_signing_secret_keeps_it_and_an_empty_secret_removes_it()
    {
        await Connected(secret: "hook-secret");
        async Task<JsonObject> Updated(object webhook)
        {
            using var update = await App.AdminClient().PutAsJsonAsync($"/api/admin/outputs/{OutputId}", new { name = Api.NewId("hook"), kind = "webhook", webhook });
            var text = await update.Content.ReadAsStringAsync();
            update.StatusCode.ShouldBe(HttpStatusCode.OK, text);
            return JsonNode.Parse(text)!.AsObject();
        }
        async Task<string?> SignatureOfABatch()
        {
            var customer = Api.NewId("fw-sig");
            await Send($$"""{ "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{Event("e")}} ] }""");
            await Waiting.Until(() => Task.FromResult(Receiver.BatchesOf(customer).Count == 1), "the forwarded batch");
            var batch = Receiver.BatchesOf(customer).Single();
            return Receiver.Received.Single(r => r.Batch == batch).Signature;
        }

        // Left out (the API never shows it, so a client cannot send it back): kept.
        (await Updated(new { url = Receiver.Url }))["webhook"]!["has_secret"]!.GetValue<bool>().ShouldBeTrue();
        (await SignatureOfABatch())!.ShouldStartWith("sha256=");

        // An empty secret is the way to remove it: batches go unsigned from then on.
        (await Updated(new { url = Receiver.Url, secret = "" }))["webhook"]!["has_secret"]!.GetValue<bool>().ShouldBeFalse();
        (await App.Output(OutputId))["webhook"]!["has_secret"]!.GetValue<bool>().ShouldBeFalse();
        (await SignatureOfABatch()).ShouldBeNullOrEmpty();

        // And a new one signs again.
        (await Updated(new { url = Receiver.Url, secret = "another-secret" }))["webhook"]!["has_secret"]!.GetValue<bool>().ShouldBeTrue();
        (await SignatureOfABatch())!.ShouldStartWith("sha256=");
    }

    [Fact]
    public async Task a_paused_output_keeps_its_deliveries_until_resumed()
    {
        await Connected();
        using (var pause = await App.AdminClient().PostAsync($"/api/admin/outputs/{OutputId}/pause", null)) pause.StatusCode.ShouldBe(HttpStatusCode.OK);
        var customer = Api.NewId("pause");
        await Send($$"""{ "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{Event("e")}} ] }""");
        (await App.Output(OutputId))["counters"]!["pending"]!.GetValue<long>().ShouldBe(1);

        using (var resume = await App.AdminClient().PostAsync($"/api/admin/outputs/{OutputId}/resume", null)) resume.StatusCode.ShouldBe(HttpStatusCode.OK);
        await Waiting.Until(() => Task.FromResult(Receiver.BatchesOf(customer).Count == 1), "the resumed delivery", seconds: 30);
    }

    [Fact]
    public async Task the_admin_api_needs_an_admin_and_names_bad_fields()
    {
        using (var anonymous = await App.NewClient().GetAsync("/api/admin/outputs")) anonymous.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        var wrong = App.NewClient();
        wrong.DefaultRequestHeaders.Authorization = AppFixture.Basic("admin", "nope");
        using (var forbidden = await wrong.GetAsync("/api/admin/outputs")) forbidden.StatusCode.ShouldBe(HttpStatusCode.Forbidden);

        using var bad = await App.AdminClient().PostAsJsonAsync("/api/admin/connections",
            new { input = "nowhere", output_id = "missing", consent_rules = new[] { new { kind = "require_gdpr_consent" } } });
        bad.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await bad.Errors()).Select(e => e.Field).ShouldBe(["input", "output_id", "consent_rules[0]"], ignoreOrder: true);

        var created = await App.CreateOutput("http://127.0.0.1:9/x", secret: "s3cret");
        OutputId = created["id"]!.GetValue<string>();
        created.ToJsonString().ShouldNotContain("s3cret");
    }
}
