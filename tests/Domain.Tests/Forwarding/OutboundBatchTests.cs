using System.Text.Json.Nodes;
using EventProfiles.Domain.Forwarding;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using EventProfiles.Domain.Tests.Ingestion;
using static EventProfiles.Domain.Tests.Ingestion.Batches;

namespace EventProfiles.Domain.Tests.Forwarding;

public class OutboundBatchTests
{
    private static readonly BatchOrigin Origin = new(1, Guid.NewGuid(), ReceivedAt, InputKind.Server, false);

    private static (Profile After, IReadOnlyList<object> Decided) Ingest(Profile? before, ParsedBatch batch, DateTimeOffset? at = null)
    {
        var decided = BatchDecision.Decide(before, batch, Context(batch, isNew: before is null, receivedAt: at));
        var after = before;
        foreach (var e in decided) after = after is null ? Profile.Create((ProfileCreated)e) : after.Evolve(e);
        return (after!, decided);
    }

    [Fact]
    public void a_batch_leaves_with_what_the_profile_knows_but_only_its_own_device()
    {
        var first = Parse("""
            { "user_identities": { "customer_id": "c-1", "email": "a@example.org" }, "user_attributes": { "tier": "gold" },
              "mp_deviceid": "das-old", "device_info": { "platform": "iOS", "ios_idfv": "OLD" },
              "consent_state": { "gdpr": { "marketing": { "consented": true, "timestamp_unixtime_ms": 1000 } } } }
            """);
        var (profile, _) = Ingest(null, first);

        var second = Parse("""
            { "user_identities": { "customer_id": "c-1" }, "mp_deviceid": "das-new", "device_info": { "platform": "web" },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "Play", "custom_event_type": "other" } } ] }
            """);
        var (after, decided) = Ingest(profile, second, ReceivedAt.AddMinutes(1));
        var outbound = OutboundBatch.Build(second, profile, after, decided, Origin)!;

        outbound["user_attributes"]!["tier"]!.GetValue<string>().ShouldBe("gold");
        outbound["user_identities"]!.AsArray().Select(i => i!["identity_type"]!.GetValue<string>()).ShouldBe(["customer_id", "email"], ignoreOrder: true);
        outbound["consent_state"]!["gdpr"]!["marketing"]!["consented"]!.GetValue<bool>().ShouldBeTrue();
        outbound["device_info"]!.ToJsonString().ShouldBe("""{"platform":"web"}""");
        outbound["mp_deviceid"]!.GetValue<string>().ShouldBe("das-new");
        outbound["mpid"]!.GetValue<long>().ShouldBe(Mpid);
        outbound["events"]!.AsArray().Single()!["data"]!["event_name"]!.GetValue<string>().ShouldBe("Play");
    }

    [Theory]
    [InlineData(InputKind.Server, "server_to_server")]
    [InlineData(InputKind.Web, "javascript")]
    [InlineData(InputKind.IOS, "native")]
    [InlineData(InputKind.Android, "native")]
    public void the_source_channel_names_the_kind_of_input_the_batch_came_from(InputKind kind, string channel)
    {
        var batch = Parse("""{ "events": [ { "event_type": "custom_event", "data": { "event_name": "Play", "custom_event_type": "other" } } ] }""");
        var (after, decided) = Ingest(null, batch);
        OutboundBatch.Build(batch, null, after, decided, Origin with { Channel = kind })!["source_info"]!["channel"]!.GetValue<string>().ShouldBe(channel);
    }

    [Fact]
    public void a_batch_without_events_or_with_historical_data_is_not_forwarded()
    {
        var profileOnly = Parse("""{ "user_attributes": { "tier": "gold" } }""");
        var (after, decided) = Ingest(null, profileOnly);
        OutboundBatch.Build(profileOnly, null, after, decided, Origin).ShouldBeNull();

        var old = Parse("""{ "events": [ { "event_type": "session_start", "data": { "timestamp_unixtime_ms": 1000 } } ] }""");
        var (oldAfter, oldDecided) = Ingest(null, old);
        OutboundBatch.Build(old, null, oldAfter, oldDecided, Origin with { IsHistorical = true }).ShouldBeNull();
    }

    [Fact]
    public void consent_changes_become_system_notifications_with_old_and_current()
    {
        var first = Parse("""{ "consent_state": { "gdpr": { "marketing": { "consented": true, "timestamp_unixtime_ms": 1000 } } } }""");
        var (profile, _) = Ingest(null, first);
        var second = Parse("""
            { "consent_state": { "gdpr": { "marketing": { "consented": false, "timestamp_unixtime_ms": 2000 } } },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "Consent Updated", "custom_event_type": "other" } } ] }
            """);
        var (after, decided) = Ingest(profile, second);
        var notification = OutboundBatch.Build(second, profile, after, decided, Origin)!["system_notifications"]!.AsArray().Single()!;

        notification["type"]!.GetValue<string>().ShouldBe("gdpr_change");
        notification["data"]!["old"]!["consented"]!.GetValue<bool>().ShouldBeTrue();
        notification["data"]!["current"]!["consented"]!.GetValue<bool>().ShouldBeFalse();
    }

    [Fact]
    public void a_connection_blocks_what_its_filter_names_and_consent_rules_hold_data_back()
    {
        var batch = Parse("""
            { "user_identities": { "customer_id": "c-1", "email": "a@example.org" }, "user_attributes": { "tier": "gold", "secret": "x" },
              "mp_deviceid": "das", "device_info": { "ios_idfv": "V" },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "Play", "custom_event_type": "other", "custom_attributes": { "keep": "1", "drop": "2" } } },
                          { "event_type": "custom_event", "data": { "event_name": "Hidden", "custom_event_type": "other" } },
                          { "event_type": "screen_view", "data": { "screen_name": "Home" } } ] }
            """);
        var (after, decided) = Ingest(null, batch);
        var outbound = OutboundBatch.Build(batch, null, after, decided, Origin)!;
        var filter = new DataFilter(["screen_view"], [new EventNameRef("custom_event", "Hidden")],
            [new EventAttributeRef("custom_event", "Play", "drop")], ["secret"], ["email", "ios_idfv"]);
        var connection = new Connection("c", "server", "o", true, filter, []);

        var filtered = ConnectionFilter.Apply(outbound, connection, after.Workspace(1))!;
        filtered["events"]!.AsArray().Select(e => e!["data"]!["event_name"]!.GetValue<string>()).ShouldBe(["Play"]);
        filtered["events"]![0]!["data"]!["custom_attributes"]!.AsObject().Select(a => a.Key).ShouldBe(["keep"]);
        filtered["user_attributes"]!.AsObject().Select(a => a.Key).ShouldBe(["tier"]);
        filtered["user_identities"]!.AsArray().Select(i => i!["identity_type"]!.GetValue<string>()).ShouldBe(["customer_id"]);
        filtered["device_info"]!.AsObject().ContainsKey("ios_idfv").ShouldBeFalse();
        outbound["user_attributes"]!.AsObject().ContainsKey("secret").ShouldBeTrue(); // the shared batch is untouched

        ConnectionFilter.Apply(outbound, connection with { ConsentRules = [new ConsentRule(ConsentRuleKind.RequireGdprConsent, "Marketing")] },
            after.Workspace(1)).ShouldBeNull();
        ConnectionFilter.Apply(outbound, connection with { ConsentRules = [new ConsentRule(ConsentRuleKind.RequireNoCcpaOptOut)] },
            after.Workspace(1)).ShouldNotBeNull();
        ConnectionFilter.Apply(outbound, connection with { Filter = DataFilter.None with { BlockedEventTypes = ["custom_event", "screen_view"] } },
            after.Workspace(1)).ShouldBeNull();
        // A connection that blocks nothing gets the shared batch itself (serialised once for all such connections).
        ConnectionFilter.Apply(outbound, connection with { Filter = DataFilter.None }, after.Workspace(1)).ShouldBeSameAs(outbound);
        ConnectionFilter.Apply(outbound, connection with { Filter = DataFilter.None, Active = false }, after.Workspace(1)).ShouldBeNull();
    }

    [Fact]
    public void the_outbound_batch_writes_the_values_as_they_were_sent()
    {
        // Built over the parsed elements (not their text parsed again): numbers, escapes and nesting leave as they came.
        var batch = Parse("""
            { "user_identities": { "customer_id": "c-1" }, "user_attributes": { "ratio": 1.50, "tags": ["a", "b"], "nested": { "x": null }, "quote": "say \"hi\"" },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "Play", "custom_event_type": "other", "custom_attributes": { "price": 10.0, "big": 12345678901234567890 } } } ] }
            """);
        var (after, decided) = Ingest(null, batch);
        var json = OutboundBatch.Build(batch, null, after, decided, Origin)!.ToJsonString();

        var written = JsonNode.Parse(json)!;
        written["user_attributes"]!["ratio"]!.ToJsonString().ShouldBe("1.50");
        written["user_attributes"]!["tags"]!.ToJsonString().ShouldBe("""["a","b"]""");
        written["user_attributes"]!["nested"]!.ToJsonString().ShouldBe("""{"x":null}""");
        written["user_attributes"]!["quote"]!.GetValue<string>().ShouldBe("say \"hi\"");
        written["events"]![0]!["data"]!["custom_attributes"]!.ToJsonString().ShouldBe("""{"price":10.0,"big":12345678901234567890}""");
        written["events"]![0]!["data"]!["timestamp_unixtime_ms"]!.GetValue<long>().ShouldBe(ReceivedAt.ToUnixTimeMilliseconds());
    }
}
