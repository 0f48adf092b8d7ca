using System.Text.Json;
using EventProfiles.Domain.Consent;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using static EventProfiles.Domain.Tests.Ingestion.Batches;

namespace EventProfiles.Domain.Tests.Ingestion;

public class BatchDecisionTests
{
    private const string NodeBatch = """
        {
          "environment": "development",
          "source_request_id": "r-1",
          "events": [
            { "data": { "custom_event_type": "navigation", "event_name": "Viewed Pricing", "custom_attributes": { "plan": "pro" },
                        "timestamp_unixtime_ms": 1795878718123, "source_message_id": "m-1" }, "event_type": "custom_event" },
            { "data": { "screen_name": "Checkout", "timestamp_unixtime_ms": 1795878719123 }, "event_type": "screen_view" }
          ],
          "user_attributes": { "plan": "pro", "favorite_genres": ["documentary", "comedy"] },
          "deleted_user_attributes": ["trial_end"],
          "user_identities": { "customerid": "c-1", "email": "a@example.org" },
          "device_info": { "ios_idfv": "IDFV-1", "limit_ad_tracking": true },
          "consent_state": {
            "gdpr": { "Marketing": { "consented": true, "timestamp_unixtime_ms": 1795878661123, "document": "v3" } },
            "ccpa": { "data_sale_opt_out": { "consented": false, "timestamp_unixtime_ms": 1795878661123 } }
          },
          "unmodelled_field": { "kept": true }
        }
        """;

    private static (IReadOnlyList<object> Events, Profile Profile) DecideAndFold(Profile? current, ParsedBatch batch, IngestionContext ctx)
    {
        var events = BatchDecision.Decide(current, batch, ctx);
        var profile = current;
        foreach (var e in events) profile = profile is null ? Profile.Create((ProfileCreated)e) : profile.Evolve(e);
        return (events, profile!);
    }

    /// <summary>The group writer stores the profile the decision folded as it went instead of folding the events again:
    /// it must be exactly the fold of the events (compared as Marten-like JSON, records holding immutable collections).</summary>
    [Fact]
    public void the_decisions_own_fold_is_the_fold_of_its_events()
    {
        var batch = Parse(NodeBatch);
        var (events, folded) = BatchDecision.DecideAndFold(null, batch, Context(batch));
        JsonSerializer.Serialize(folded).ShouldBe(JsonSerializer.Serialize(DecideAndFold(null, batch, Context(batch)).Profile));
        events.Count.ShouldBe(BatchDecision.Decide(null, batch, Context(batch)).Count);

        // An existing person, a later batch with older and newer event times than the profile's bounds.
        var later = Parse(NodeBatch.Replace("1795878718123", "1695878718123").Replace("\"m-1\"", "\"m-2\"").Replace("\"pro\"", "\"gold\""));
        var ctx = Context(later, isNew: false, receivedAt: ReceivedAt.AddMinutes(1));
        var (again, foldedAgain) = BatchDecision.DecideAndFold(folded, later, ctx);
        var byHand = again.Aggregate(folded, (p, e) => p.Evolve(e));
        JsonSerializer.Serialize(foldedAgain).ShouldBe(JsonSerializer.Serialize(byHand));
        foldedAgain.FirstSeenAt.ShouldBe(DateTimeOffset.FromUnixTimeMilliseconds(1695878718123));
        foldedAgain.LastStoredAt.ShouldBe(ReceivedAt.AddMinutes(1));
    }

    [Fact]
    public void a_batch_for_a_new_user_starts_the_stream_and_records_every_fact()
    {
        var batch = Parse(NodeBatch);
        var (events, profile) = DecideAndFold(null, batch, Context(batch));

        events[0].ShouldBe(new ProfileCreated(Mpid, ReceivedAt));
        events.OfType<BatchReceived>().Single().SourceRequestId.ShouldBe("r-1");
        events.OfType<UserIdentityAdded>().Select(e => $"{e.IdentityType}={e.Value}")
            .ShouldBe(["customer_id=c-1", "email=a@example.org", "ios_idfv=IDFV-1"], ignoreOrder: true);
        events.OfType<UserAttributeSet>().Select(e => e.Name).ShouldBe(["plan", "favorite_genres"], ignoreOrder: true);
        events.OfType<UserAttributeSet>().ShouldAllBe(e => e.EffectiveAt == ReceivedAt);
        events.OfType<ConsentStateChanged>().Select(e => $"{e.Regulation}:{e.Purpose}").ShouldBe(["gdpr:marketing", "ccpa:data_sale_opt_out"]);
        events.OfType<DeviceSeen>().Single().DeviceKey.ShouldBe("ios_idfv:IDFV-1");
        events.OfType<LimitAdTrackingChanged>().Single().LimitAdTracking.ShouldBeTrue();
        var captured = events.OfType<EventCaptured>().ToList();
        captured.Select(e => e.EventName).ShouldBe(["Viewed Pricing", "Checkout"]);
        captured[0].Timestamp.ShouldBe(DateTimeOffset.FromUnixTimeMilliseconds(1795878718123));
        captured[0].Data.GetProperty("custom_attributes").GetProperty("plan").GetString().ShouldBe("pro");

        profile.Workspace(1).CurrentAttributes().Select(a => a.Key).ShouldBe(["favorite_genres", "plan"]);
        profile.FirstSeenAt.ShouldBe(DateTimeOffset.FromUnixTimeMilliseconds(1795878718123)); // the earliest event, older than receipt
    }

    [Fact]
    public void fields_we_do_not_model_are_kept_verbatim_on_the_batch()
    {
        var batch = Parse(NodeBatch);
        var received = BatchDecision.Decide(null, batch, Context(batch)).OfType<BatchReceived>().Single();

        received.Batch.GetProperty("unmodelled_field").GetProperty("kept").GetBoolean().ShouldBeTrue();
        received.Batch.TryGetProperty("events", out _).ShouldBeFalse();
    }

    [Fact]
    public void sending_the_same_batch_again_only_records_its_receipt()
    {
        var first = Parse(NodeBatch);
        var (_, profile) = DecideAndFold(null, first, Context(first));

        var again = Parse(NodeBatch.Replace("\"m-1\"", "\"m-2\""));
        var events = BatchDecision.Decide(profile, again, Context(again, isNew: false, receivedAt: ReceivedAt.AddMinutes(1)));

        events.Select(e => e.GetType().Name).ShouldBe(["BatchReceived", "EventCaptured", "EventCaptured"]);
    }

    [Fact]
    public void an_event_whose_source_message_id_is_already_in_the_stream_is_not_stored_again()
    {
        var batch = Parse(NodeBatch);
        var events = BatchDecision.Decide(null, batch, Context(batch, knownMessageIds: new HashSet<string> { "m-1" }));

        events.OfType<EventCaptured>().Select(e => e.EventName).ShouldBe(["Checkout"]);
    }

    [Fact]
    public void a_message_id_repeated_inside_one_batch_is_stored_once()
    {
        var batch = Parse("""
            { "events": [
                { "event_type": "custom_event", "data": { "event_name": "a", "custom_event_type": "other", "source_message_id": "same" } },
                { "event_type": "custom_event", "data": { "event_name": "b", "custom_event_type": "other", "source_message_id": "same" } } ] }
            """);
        BatchDecision.Decide(null, batch, Context(batch)).OfType<EventCaptured>().Count().ShouldBe(1);
    }

    [Fact]
    public void an_attribute_change_older_than_the_stored_value_changes_nothing()
    {
        var newer = Parse("""{ "events": [ { "event_type": "user_attribute_change", "data": { "user_attribute_name": "tier", "new": "gold", "timestamp_unixtime_ms": 2000 } } ] }""");
        var (_, profile) = DecideAndFold(null, newer, Context(newer));

        var older = Parse("""{ "events": [ { "event_type": "user_attribute_change", "data": { "user_attribute_name": "tier", "new": "silver", "timestamp_unixtime_ms": 1000 } } ] }""");
        var (events, after) = DecideAndFold(profile, older, Context(older, isNew: false));

        events.OfType<UserAttributeSet>().ShouldBeEmpty();
        events.OfType<EventCaptured>().Count().ShouldBe(1); // the event itself is still kept
        after.Workspace(1).Attributes["tier"].Value!.Value.GetString().ShouldBe("gold");
    }

    [Fact]
    public void a_late_set_cannot_bring_back_an_attribute_deleted_after_it()
    {
        var removal = Parse("""{ "events": [ { "event_type": "user_attribute_change", "data": { "user_attribute_name": "temp_flag", "new": null, "deleted": true, "timestamp_unixtime_ms": 2000 } } ] }""");
        var (_, profile) = DecideAndFold(null, removal, Context(removal));

        var lateSet = Parse("""{ "events": [ { "event_type": "user_attribute_change", "data": { "user_attribute_name": "temp_flag", "new": "yes", "timestamp_unixtime_ms": 1000 } } ] }""");
        var (_, after) = DecideAndFold(profile, lateSet, Context(lateSet, isNew: false));

        after.Workspace(1).CurrentAttributes().ShouldBeEmpty();
    }

    [Fact]
    public void a_user_attribute_change_with_null_value_that_is_not_a_deletion_sets_a_tag()
    {
        var batch = Parse("""{ "events": [ { "event_type": "user_attribute_change", "data": { "user_attribute_name": "vip", "new": null, "deleted": false, "timestamp_unixtime_ms": 1000 } } ] }""");
        var (_, profile) = DecideAndFold(null, batch, Context(batch));

        profile.Workspace(1).CurrentAttributes().Single().Key.ShouldBe("vip");
    }

    [Fact]
    public void batch_attributes_of_an_sdk_input_are_a_snapshot_and_do_not_change_the_profile()
    {
        var batch = Parse("""{ "user_attributes": { "stale": "snapshot" }, "deleted_user_attributes": ["x"] }""");
        var events = BatchDecision.Decide(null, batch, Context(batch, kind: InputKind.Web));

        events.OfType<UserAttributeSet>().ShouldBeEmpty();
        events.OfType<UserAttributeRemoved>().ShouldBeEmpty();
    }

    [Fact]
    public void deleted_user_attributes_remove_what_the_profile_has()
    {
        var set = Parse("""{ "user_attributes": { "trial_end": "2026-01-01" } }""");
        var (_, profile) = DecideAndFold(null, set, Context(set));

        var delete = Parse("""{ "deleted_user_attributes": ["trial_end"] }""");
        var (events, after) = DecideAndFold(profile, delete, Context(delete, isNew: false, receivedAt: ReceivedAt.AddSeconds(1)));

        events.OfType<UserAttributeRemoved>().Single().Name.ShouldBe("trial_end");
        after.Workspace(1).CurrentAttributes().ShouldBeEmpty();
    }

    [Fact]
    public void an_immutable_login_identity_is_never_replaced_but_an_email_is()
    {
        var first = Parse("""{ "user_identities": { "customer_id": "c-1", "email": "old@example.org" } }""");
        var (_, profile) = DecideAndFold(null, first, Context(first));

        var second = Parse("""{ "user_identities": { "customer_id": "c-2", "email": "new@example.org" } }""");
        var events = BatchDecision.Decide(profile, second, Context(second, isNew: false));

        events.OfType<UserIdentityAdded>().ShouldBeEmpty();
        events.OfType<UserIdentityChanged>().Single().ShouldBe(
            new UserIdentityChanged(1, "email", "old@example.org", "new@example.org", ReceivedAt, "server"));
    }

    [Fact]
    public void only_the_identities_resolution_allows_are_linked()
    {
        var batch = Parse("""{ "user_identities": { "customer_id": "c-1", "email": "shared@example.org" } }""");
        var events = BatchDecision.Decide(null, batch, Context(batch, link: [new IdentityKey("customer_id", "c-1")]));

        events.OfType<UserIdentityAdded>().Select(e => e.IdentityType).ShouldBe(["customer_id"]);
    }

    [Fact]
    public void unchanged_consent_is_not_recorded_again_and_older_consent_is_ignored()
    {
        var first = Parse(NodeBatch);
        var (_, profile) = DecideAndFold(null, first, Context(first));

        var older = Parse("""{ "consent_state": { "gdpr": { "marketing": { "consented": false, "timestamp_unixtime_ms": 1000 } } } }""");
        BatchDecision.Decide(profile, Parse(NodeBatch), Context(first, isNew: false)).OfType<ConsentStateChanged>().ShouldBeEmpty();
        BatchDecision.Decide(profile, older, Context(older, isNew: false)).OfType<ConsentStateChanged>().ShouldBeEmpty();
        profile.Workspace(1).Gdpr["marketing"].Consented.ShouldBeTrue();
    }

    [Fact]
    public void an_opt_out_event_opts_the_person_out()
    {
        var batch = Parse("""{ "events": [ { "event_type": "opt_out", "data": { "is_opted_out": true, "timestamp_unixtime_ms": 1000 } } ] }""");
        var (events, profile) = DecideAndFold(null, batch, Context(batch));

        events.OfType<OptOutChanged>().Single().IsOptedOut.ShouldBeTrue();
        profile.IsOptedOut.ShouldBeTrue();
    }

    [Fact]
    public void an_install_attribution_event_is_kept_on_the_device_and_workspace()
    {
        var batch = Parse("""
            { "mp_deviceid": "das-1", "events": [ { "event_type": "custom_event", "data": { "event_name": "attribution", "custom_event_type": "attribution",
              "custom_attributes": { "publisher": "PartnerX", "campaign": "spring" }, "timestamp_unixtime_ms": 1000 } } ] }
            """);
        var (_, profile) = DecideAndFold(null, batch, Context(batch));

        profile.Workspace(1).InstallAttribution!.Campaign.ShouldBe("spring");
        profile.Workspace(1).Devices["das-1"].InstallAttribution!.Publisher.ShouldBe("PartnerX");
    }

    [Fact]
    public void a_known_device_with_unchanged_details_is_not_recorded_again()
    {
        var batch = Parse("""{ "mp_deviceid": "das-1", "device_info": { "platform": "web", "screen_width": 1280 } }""");
        var (_, profile) = DecideAndFold(null, batch, Context(batch));

        BatchDecision.Decide(profile, batch, Context(batch, isNew: false)).OfType<DeviceSeen>().ShouldBeEmpty();
        var changed = Parse("""{ "mp_deviceid": "das-1", "device_info": { "platform": "web", "screen_width": 1920 } }""");
        BatchDecision.Decide(profile, changed, Context(changed, isNew: false)).OfType<DeviceSeen>().Count().ShouldBe(1);
    }

    [Fact]
    public void events_without_a_timestamp_take_the_receive_time()
    {
        var batch = Parse("""{ "events": [ { "event_type": "session_start", "data": {} } ] }""");
        BatchDecision.Decide(null, batch, Context(batch)).OfType<EventCaptured>().Single().Timestamp.ShouldBe(ReceivedAt);
    }

    [Fact]
    public void values_stay_as_sent()
    {
        var batch = Parse("""{ "user_attributes": { "score": 342.1, "vip": true } }""");
        var sets = BatchDecision.Decide(null, batch, Context(batch)).OfType<UserAttributeSet>().ToDictionary(e => e.Name, e => e.Value);

        sets["score"].ValueKind.ShouldBe(JsonValueKind.Number);
        sets["score"].GetRawText().ShouldBe("342.1");
        sets["vip"].ValueKind.ShouldBe(JsonValueKind.True);
    }

    [Fact]
    public void consent_purposes_are_stored_lower_case()
    {
        BatchDecision.NormalisePurpose("  Marketing ").ShouldBe("marketing");
        Regulations.Ccpa.ShouldBe("ccpa");
    }
}
