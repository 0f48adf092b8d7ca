using Microsoft.Extensions.DependencyInjection;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Forwarding;

/// <summary>
/// A rabbitmq output publishes what a webhook would receive to an exchange of a real RabbitMQ node (the private one
/// build/test starts), read back here by a consumer of our own with RabbitMQ.Client.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class RabbitMqOutputTests(AppFixture app) : IAsyncLifetime
{
    private RabbitMqConsumer _broker = null!;
    private string _outputId = "";

    public async Task InitializeAsync() => _broker = await RabbitMqConsumer.StartAsync();

    public async Task DisposeAsync()
    {
        // Deleting the output deletes its connections: later tests' data is not published to this test's exchange.
        if (_outputId.Length > 0) using (await app.AdminClient().DeleteAsync($"/api/admin/outputs/{_outputId}")) { }
        await _broker.DisposeAsync();
    }

    private async Task<JsonObject> CreateOutput(string? routingKey = "{workspace}.{input}.{event_type}", string? uri = null)
    {
        using var response = await app.AdminClient().PostAsJsonAsync("/api/admin/outputs", new
        {
            name = Api.NewId("rabbit"), kind = "rabbitmq", rabbitmq = new { uri = uri ?? _broker.Uri, exchange = _broker.Exchange, routing_key = routingKey },
        });
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.Created, text);
        var output = JsonNode.Parse(text)!.AsObject();
        _outputId = output["id"]!.GetValue<string>();
        return output;
    }

    private async Task Connected(object? filter = null, object? consentRules = null)
    {
        await CreateOutput();
        await app.Connect(AppFixture.ForwardingInput, _outputId, filter, consentRules);
    }

    private Task Send(string json) => app.Ingested(json, key: AppFixture.ForwardingKey, secret: AppFixture.ForwardingSecret);

    private static string Event(string name) => $$"""{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "other" } }""";

    private async Task<long> Counter(string name) => (await app.Output(_outputId))["counters"]![name]!.GetValue<long>();

    [Fact]
    public async Task an_enriched_batch_is_published_once_with_its_delivery_id_as_message_id_and_a_routing_key_from_the_template()
    {
        await Connected();
        var customer = Api.NewId("rmq");
        await Send($$"""{ "user_identities": { "customer_id": "{{customer}}", "email": "{{customer}}@example.org" }, "user_attributes": { "tier": "gold" } }""");
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{Event("Play")}} ] }""");

        await Waiting.Until(() => Task.FromResult(_broker.BatchesOf(customer).Count == 1), "the published batch");
        var (messageId, routingKey, batch) = _broker.BatchesOf(customer).Single();
        batch["user_attributes"]!["tier"]!.GetValue<string>().ShouldBe("gold"); // enriched from the profile, as for a webhook
        batch["user_identities"]!.AsArray().Select(i => i!["identity_type"]!.GetValue<string>()).ShouldBe(["customer_id", "email"], ignoreOrder: true);
        batch["events"]!.AsArray().Single()!["data"]!["event_name"]!.GetValue<string>().ShouldBe("Play");
        Guid.TryParse(messageId, out _).ShouldBeTrue();
        routingKey.ShouldBe($"1.{AppFixture.ForwardingInput}.custom_event");
        await Waiting.Until(async () => await Counter("delivered") == 1, "the delivered counter");
        (await Counter("enqueued")).ShouldBe(1); // the profile-only batch was not forwarded

        // Exactly once: a further batch is one more message, and no message id came twice.
        await Send($$"""{ "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{Event("Again")}} ] }""");
        await Waiting.Until(() => Task.FromResult(_broker.BatchesOf(customer).Count == 2), "the second batch");
        _broker.Received.Select(r => r.MessageId).Distinct().Count().ShouldBe(_broker.Received.Count);
    }

    [Fact]
    public async Task a_split_publishes_an_identity_change_notice_per_person_as_messages_of_their_own_confirmed_like_batches()
    {
        await Connected();
        var (ana, benEmail, tablet) = (Api.NewId("rmq-ana"), Api.NewId("rmq-ben") + "@example.org", Api.NewId("tablet"));
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{ana}}" }, "device_info": { "ios_idfv": "{{tablet}}" }, "events": [ {{Event("Browse")}} ] }""");
        await Send($$"""{ "environment": "development", "user_identities": { "email": "{{benEmail}}" }, "device_info": { "ios_idfv": "{{tablet}}" }, "events": [ {{Event("Play")}} ] }""");
        var merged = long.Parse((await app.ProfileOf(ana))["mpid"]!.ToString(), System.Globalization.CultureInfo.InvariantCulture);
        await Waiting.Until(async () => await Counter("delivered") == 2, "the two batches");

        using var split = await app.AdminClient().PostAsJsonAsync($"/api/admin/people/{merged}/split",
            new { identities = new[] { new { type = "email", value = benEmail } }, reason = "shared tablet" });
        var text = await split.Content.ReadAsStringAsync();
        split.StatusCode.ShouldBe(HttpStatusCode.Created, text);
        var (splitId, ben) = (JsonNode.Parse(text)!["split_id"]!.GetValue<string>(), JsonNode.Parse(text)!["new_mpid"]!.GetValue<long>());

        List<(string? MessageId, string RoutingKey, JsonObject Body)> Notices() =>
            _broker.Received.Where(r => r.Body["type"]?.GetValue<string>() == "identity_change" && r.Body["id"]?.GetValue<string>() == splitId).ToList();
        await Waiting.Until(() => Task.FromResult(Notices().Count == 2), "the two notices");
        var notices = Notices();
        notices.Select(n => (n.Body["mpid"]!.GetValue<string>(), n.Body["other_mpid"]!.GetValue<string>(), n.Body["gave"]!.GetValue<bool>()))
            .ShouldBe([(merged.ToString(), ben.ToString(), true), (ben.ToString(), merged.ToString(), false)], ignoreOrder: true);
        notices.ShouldAllBe(n => n.RoutingKey == "all.identity.identity_change"); // an org-wide output: {workspace} is "all", as for audience changes
        notices.ShouldAllBe(n => n.Body["change"]!.GetValue<string>() == "split" && n.Body["batch_ids"]!.AsArray().Count == 1);
        notices.Select(n => n.MessageId).Distinct().Count().ShouldBe(2);
        // Confirmed like batches: counted delivered only once the broker confirmed them.
        await Waiting.Until(async () => await Counter("delivered") == 4, "the notices counted delivered");
        (await Counter("enqueued")).ShouldBe(4);
    }

    [Fact]
    public async Task audience_membership_changes_are_published_like_webhook_ones()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var audienceId = await app.ActiveAudience($"Rabbit {s}", $$"""[ { "kind": "user_attribute", "attribute_name": "rabbit_{{s}}", "type": "string", "operator": "exists" } ]""");
        await CreateOutput(routingKey: "audiences.{input}.{event_type}");
        using (var connect = await app.AdminClient().PostAsJsonAsync("/api/admin/audience-connections", new { audience_id = audienceId, output_id = _outputId }))
            connect.StatusCode.ShouldBe(HttpStatusCode.Created, await connect.Content.ReadAsStringAsync());
        var customer = Api.NewId("rmq-aud");
        await Send($$"""{ "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "rabbit_{{s}}": "yes" } }""");
        await app.CatchUpDaemon();

        await Waiting.Until(() => Task.FromResult(_broker.Received.Any(r => r.Body["type"]?.GetValue<string>() == "audience_membership_change_request")),
            "the membership change", seconds: 30);
        var (messageId, routingKey, change) = _broker.Received.Single(r => r.Body["type"]?.GetValue<string>() == "audience_membership_change_request");
        var profile = change["user_profiles"]![0]!;
        profile["audiences"]![0]!["audience_id"]!.GetValue<int>().ShouldBe(audienceId);
        profile["audiences"]![0]!["action"]!.GetValue<string>().ShouldBe("add");
        profile["user_identities"]!.AsArray().ShouldContain(i => i!["value"]!.GetValue<string>() == customer);
        messageId.ShouldBe(change["id"]!.GetValue<string>()); // the delivery id is the change's id
        routingKey.ShouldBe("audiences.audience.audience_membership_change");
    }

    [Fact]
    public async Task filters_and_consent_rules_decide_what_is_published()
    {
        await Connected(
            filter: new { blocked_event_names = new[] { new { event_type = "custom_event", event_name = "Hidden" } }, blocked_user_attributes = new[] { "secret" } },
            consentRules: new[] { new { kind = "require_gdpr_consent", purpose = "Marketing" } });
        var customer = Api.NewId("rmq-f");
        var t = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await Send($$"""{ "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{Event("Before consent")}} ] }""");
        (await Counter("enqueued")).ShouldBe(0); // held back by the consent rule, in the same transaction

        await Send($$"""
            { "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "secret": "s", "tier": "gold" },
              "events": [ {{Event("Hidden")}}, {{Event("Shown")}} ],
              "consent_state": { "gdpr": { "marketing": { "consented": true, "timestamp_unixtime_ms": {{t}} } } } }
            """);
        await Waiting.Until(() => Task.FromResult(_broker.BatchesOf(customer).Count == 1), "the consented batch");
        var batch = _broker.BatchesOf(customer).Single().Body;
        batch["events"]!.AsArray().Select(e => e!["data"]!["event_name"]!.GetValue<string>()).ShouldBe(["Shown"]);
        batch["user_attributes"]!.AsObject().Select(a => a.Key).ShouldBe(["tier"]);
    }

    /// <summary>
    /// A real outage: the private node is stopped (rabbitmqctl shutdown) and started again on the same data folder
    /// (build/rabbitmq.sh). A message the broker confirmed before the outage waits in the consumer's durable queue across
    /// it; batches accepted while the broker is down wait in the durable delivery queue, are retried, end as dead letters
    /// (the test host's retries take ~3 s, the node longer to come back) and are published once replayed; the output's
    /// broker connection is made again by itself. Every delivery id reaches the consumer exactly once.
    /// </summary>
    [Fact]
    public async Task a_broker_down_then_up_loses_nothing()
    {
        await Connected();
        var before = Api.NewId("rmq-before");
        await Send($$"""{ "user_identities": { "customer_id": "{{before}}" }, "events": [ {{Event("e")}} ] }""");
        await Waiting.Until(() => Task.FromResult(_broker.BatchesOf(before).Count == 1), "the batch before the outage");

        // Confirmed by the broker but not consumed yet when the broker goes down: it is in the durable queue.
        await _broker.DisconnectAsync();
        var queued = Api.NewId("rmq-queued");
        await Send($$"""{ "user_identities": { "customer_id": "{{queued}}" }, "events": [ {{Event("e")}} ] }""");
        await Waiting.Until(async () => await Counter("delivered") == 2, "the broker to confirm the batch nobody consumes yet");

        await RabbitMqConsumer.NodeAsync("stop");
        var during = Enumerable.Range(0, 5).Select(_ => Api.NewId("rmq-down")).ToList();
        try
        {
            // Accepted while the broker is down: each waits in the durable queue, is retried, and ends as a dead letter
            // once the retries are spent.
            foreach (var c in during) await Send($$"""{ "user_identities": { "customer_id": "{{c}}" }, "events": [ {{Event("e")}} ] }""");
            await Waiting.Until(async () => await Counter("failed") == during.Count, "the outage's deliveries to be dead letters", seconds: 30);
            during.ShouldAllBe(c => _broker.BatchesOf(c).Count == 0);
        }
        finally
        {
            await RabbitMqConsumer.NodeAsync("start");
        }
        await _broker.ConnectAsync();
        await Waiting.Until(() => Task.FromResult(_broker.BatchesOf(queued).Count == 1), "the confirmed batch, kept by the broker across its restart");

        // Up again: the dead letters are replayed and every batch arrives, each once by delivery id.
        using (var replay = await app.AdminClient().PostAsync($"/api/admin/outputs/{_outputId}/dead-letters/replay", null))
            (await replay.Content.ReadFromJsonAsync<JsonObject>())!["replayed"]!.GetValue<int>().ShouldBe(during.Count);
        var after = Api.NewId("rmq-after");
        await Send($$"""{ "user_identities": { "customer_id": "{{after}}" }, "events": [ {{Event("e")}} ] }""");
        await Waiting.Until(() => Task.FromResult(during.Append(after).All(c => _broker.BatchesOf(c).Count >= 1)), "every batch after the outage", seconds: 60);
        await Waiting.Until(async () => await Counter("pending") == 0 && await Counter("failed") == 0, "no delivery left pending or failed");
        await Waiting.Until(async () => await Counter("delivered") == 2 + during.Count + 1, "every delivery counted once");
        during.Append(after).Append(before).Append(queued).ShouldAllBe(c => _broker.BatchesOf(c).Count == 1);
        _broker.Received.Select(r => r.MessageId).Distinct().Count().ShouldBe(_broker.Received.Count); // no delivery id twice
    }

    [Fact]
    public async Task an_erasure_publishes_a_notice_and_pause_holds_deliveries_until_resumed()
    {
        await CreateOutput(routingKey: "{input}.{event_type}");
        await app.Connect(AppFixture.ForwardingInput, _outputId);
        var customer = Api.NewId("rmq-erase");
        using (var pause = await app.AdminClient().PostAsync($"/api/admin/outputs/{_outputId}/pause", null)) pause.StatusCode.ShouldBe(HttpStatusCode.OK);
        await Send($$"""{ "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{Event("Held")}} ] }""");
        (await Counter("pending")).ShouldBe(1);
        await Task.Delay(500);
        _broker.BatchesOf(customer).ShouldBeEmpty(); // held while paused

        using (var resume = await app.AdminClient().PostAsync($"/api/admin/outputs/{_outputId}/resume", null)) resume.StatusCode.ShouldBe(HttpStatusCode.OK);
        await Waiting.Until(() => Task.FromResult(_broker.BatchesOf(customer).Count == 1), "the resumed delivery", seconds: 30);

        var request = await DataSubjectRequests.EraseCustomerAsync(app, customer);
        await Waiting.Until(() => Task.FromResult(_broker.Received.Any(r => r.Body["subject_request_id"]?.GetValue<string>() == request)), "the erasure notice");
        var (_, routingKey, notice) = _broker.Received.Single(r => r.Body["subject_request_id"]?.GetValue<string>() == request);
        notice["subject_request_type"]!.GetValue<string>().ShouldBe("erasure");
        routingKey.ShouldBe("erasure.erasure_notice");
    }

    [Fact]
    public async Task the_password_is_never_shown_and_a_missing_one_keeps_the_stored_one()
    {
        var uri = new UriBuilder(_broker.Uri) { UserName = "someone", Password = "pa55-w0rd-never-shown" }.Uri.ToString();
        var created = await CreateOutput(uri: uri);
        created.ToJsonString().ShouldNotContain("pa55-w0rd-never-shown");
        created["rabbitmq"]!["uri"]!.GetValue<string>().ShouldBe(uri.Replace("pa55-w0rd-never-shown", "***"));
        created["rabbitmq"]!["has_password"]!.GetValue<bool>().ShouldBeTrue();

        // An edit that sends the URI as shown (no password) keeps the stored password.
        using var update = await app.AdminClient().PutAsJsonAsync($"/api/admin/outputs/{_outputId}", new
        {
            name = "renamed", kind = "rabbitmq", rabbitmq = new { uri = new UriBuilder(uri) { Password = "" }.Uri.ToString(), exchange = _broker.Exchange },
        });
        var updated = JsonNode.Parse(await update.Content.ReadAsStringAsync())!.AsObject();
        update.StatusCode.ShouldBe(HttpStatusCode.OK, updated.ToJsonString());
        updated["rabbitmq"]!["has_password"]!.GetValue<bool>().ShouldBeTrue();
        (await app.AdminClient().GetStringAsync("/api/admin/outputs")).ShouldNotContain("pa55-w0rd-never-shown");

        // So does one that sends back the URI exactly as the API showed it (with the *** mask): the mask is never stored.
        using var sentBack = await app.AdminClient().PutAsJsonAsync($"/api/admin/outputs/{_outputId}", new
        {
            name = "renamed", kind = "rabbitmq", rabbitmq = new { uri = updated["rabbitmq"]!["uri"]!.GetValue<string>(), exchange = _broker.Exchange },
        });
        sentBack.StatusCode.ShouldBe(HttpStatusCode.OK, await sentBack.Content.ReadAsStringAsync());
        await using (var session = app.Services.GetRequiredService<Marten.IDocumentStore>().QuerySession())
            (await session.LoadAsync<EventProfiles.Domain.Forwarding.Output>(_outputId))!.RabbitMq!.Uri.ShouldContain(":pa55-w0rd-never-shown@");

        // A delivery the broker refuses (no such user) fails without the password in its reason or in any log line.
        await app.Connect(AppFixture.ForwardingInput, _outputId);
        var customer = Api.NewId("rmq-pw");
        await Send($$"""{ "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{Event("e")}} ] }""");
        JsonArray dead = [];
        await Waiting.Until(async () => (dead = (await app.AdminClient().GetFromJsonAsync<JsonArray>($"/api/admin/outputs/{_outputId}/dead-letters"))!).Count == 1,
            "the dead letter", seconds: 30);
        dead.ToJsonString().ShouldNotContain("pa55-w0rd-never-shown");
        dead[0]!["error"]!.GetValue<string>().ShouldContain("someone:***@");
        app.Logs.Lines.ShouldNotContain(l => l.Contains("pa55-w0rd-never-shown"));
    }

    [Fact]
    public async Task settings_are_checked_and_a_broker_inside_the_network_is_refused_before_any_connection()
    {
        async Task<IReadOnlyList<(string Field, string Message)>> Refused(object rabbitmq)
        {
            using var response = await app.AdminClient().PostAsJsonAsync("/api/admin/outputs", new { name = Api.NewId("rabbit"), kind = "rabbitmq", rabbitmq });
            response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync());
            return await response.Errors();
        }

        (await Refused(new { uri = "http://127.0.0.1:5672/", exchange = "x" })).ShouldContain(e => e.Field == "rabbitmq.uri");
        (await Refused(new { uri = _broker.Uri, exchange = "" })).ShouldContain(e => e.Field == "rabbitmq.exchange");
        (await Refused(new { uri = _broker.Uri, exchange = "x", routing_key = "{workspace}.{nope}" })).ShouldContain(e => e.Field == "rabbitmq.routing_key");
        // The outbound address policy's answer for a private address: no connection is attempted to reach it.
        var inside = await Refused(new { uri = "amqp://guest:guest@10.1.2.3:5672/", exchange = "x" });
        inside.ShouldContain(e => e.Field == "rabbitmq.uri" && e.Message.Contains("address not allowed"));
        using var missing = await app.AdminClient().PostAsJsonAsync("/api/admin/outputs", new { name = Api.NewId("rabbit"), kind = "rabbitmq" });
        (await missing.Errors()).ShouldContain(e => e.Field == "rabbitmq");
    }
}
