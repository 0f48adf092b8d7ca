using EventProfiles.Domain.Forwarding.Warehouse;

namespace EventProfiles.Domain.Tests.Forwarding;

public sealed class WarehouseSyncTests
{
    private const int Ws = 1;
    private const long Mpid = 42;

    private static WarehouseDelivery Batch(long ms, string attributes, string identities = """[{"identity_type":"customer_id","identity":"c-1"}]""",
        string events = """[{"event_type":"custom_event","data":{"event_name":"Play","timestamp_unixtime_ms":1000}}]""", bool replay = false) =>
        new(Guid.NewGuid(), Guid.NewGuid(), Mpid, Ws, "server", "development",
            "{\"mpid\":" + Mpid + ",\"timestamp_unixtime_ms\":" + ms + ",\"user_identities\":" + identities + ",\"user_attributes\":" + attributes
            + ",\"consent_state\":{\"gdpr\":{}},\"events\":" + events + (replay ? ",\"replay\":{\"replay_id\":\"r\"}" : "") + "}");

    private static WarehouseRows Decide(params WarehouseDelivery[] deliveries) =>
        WarehouseSync.Decide(deliveries, new Dictionary<(int, long), WarehousePerson>(), (_, name) => name.StartsWith("ca_", StringComparison.Ordinal));

    [Fact]
    public void each_batch_records_only_what_it_changed_and_the_profile_is_the_latest()
    {
        var rows = Decide(Batch(1_000, """{"tier":"silver","plan":"a"}"""), Batch(2_000, """{"tier":"gold","plan":"a","ca_plays":"2"}"""));

        rows.AttributeUpdates.Select(u => (u.Name, u.Value, u.At.ToUnixTimeMilliseconds())).ShouldBe(
            [("plan", "\"a\"", 1_000L), ("tier", "\"silver\"", 1_000L), ("ca_plays", "\"2\"", 2_000L), ("tier", "\"gold\"", 2_000L)], ignoreOrder: true);
        rows.AttributeUpdates.Single(u => u.Name == "ca_plays").Calculated.ShouldBeTrue();
        rows.IdentityUpdates.Count.ShouldBe(1); // the customer id, set by the first batch only
        var profile = rows.Profiles.Single();
        profile.Attributes.ShouldBe("""{"plan":"a","tier":"gold"}""");
        profile.Calculated.ShouldBe("""{"ca_plays":"2"}""");
        rows.Events.Count.ShouldBe(2);
    }

    [Fact]
    public void a_value_the_warehouse_already_has_adds_no_history_and_a_missing_one_is_recorded_as_removed()
    {
        var current = new Dictionary<(int, long), WarehousePerson>
        {
            [(Ws, Mpid)] = new(new Dictionary<string, string> { ["customer_id"] = "c-1", ["email"] = "a@example.org" },
                new Dictionary<string, string> { ["tier"] = "\"gold\"", ["old"] = "1" }),
        };
        var rows = WarehouseSync.Decide([Batch(3_000, """{"tier":"gold"}""")], current, (_, _) => false);

        rows.AttributeUpdates.ShouldHaveSingleItem().ShouldBe(new AttributeUpdate(rows.AttributeUpdates[0].BatchId, Ws, Mpid, "old", null, false, DateTimeOffset.FromUnixTimeMilliseconds(3_000)));
        rows.IdentityUpdates.ShouldHaveSingleItem().IdentityType.ShouldBe("email");
        rows.IdentityUpdates[0].Value.ShouldBeNull();
    }

    [Fact]
    public void a_replayed_batch_adds_its_events_and_the_profile_but_no_history()
    {
        var rows = Decide(Batch(1_000, """{"tier":"gold"}""", replay: true));

        rows.AttributeUpdates.ShouldBeEmpty();
        rows.IdentityUpdates.ShouldBeEmpty();
        rows.Events.ShouldHaveSingleItem().IsReplay.ShouldBeTrue();
        rows.Profiles.ShouldHaveSingleItem();
    }

    [Fact]
    public void an_erasure_drops_what_the_micro_batch_gathered_for_the_person()
    {
        var notice = new WarehouseDelivery(Guid.NewGuid(), Guid.NewGuid(), Mpid, Ws, "erasure:" + Guid.NewGuid(), "production", "{}");
        var rows = Decide(Batch(1_000, """{"tier":"gold"}"""), notice);

        rows.Erased.ShouldBe([(Ws, Mpid)]);
        rows.Profiles.ShouldBeEmpty();
        rows.Events.ShouldBeEmpty();
        rows.AttributeUpdates.ShouldBeEmpty();
    }

    [Fact]
    public void membership_changes_are_history_and_the_last_change_is_the_current_membership()
    {
        static WarehouseDelivery Change(string action, long ms) => new(Guid.NewGuid(), Guid.NewGuid(), Mpid, Ws, "audience:7", "production",
            $$"""{"type":"audience_membership_change_request","timestamp_ms":{{ms}},"user_profiles":[{"mpid":"{{Mpid}}","audiences":[{"audience_id":7,"audience_name":"Fans","action":"{{action}}"}]}]}""");
        var rows = Decide(Change("add", 1_000), Change("delete", 2_000));

        rows.MembershipChanges.Select(c => c.Added).ShouldBe([true, false]);
        rows.CurrentMemberships.ShouldHaveSingleItem().Added.ShouldBeFalse();
    }

    [Fact]
    public void an_identity_change_re_keys_the_moved_batches_rows_replaces_both_profiles_and_records_the_change()
    {
        var (moved, kept) = (Batch(1_000, """{"plan":"a"}"""), Batch(2_000, """{"plan":"a","level":"3"}"""));
        const long receiver = 77;
        string Notice(long mpid, long other, bool gave, string profile) => "{\"type\":\"identity_change\",\"change\":\"split\",\"id\":\"s-1\",\"mpid\":\"" + mpid
            + "\",\"other_mpid\":\"" + other + "\",\"gave\":" + (gave ? "true" : "false") + ",\"identities\":[],\"batch_ids\":[\"" + kept.BatchId + "\"],"
            + "\"timestamp_unixtime_ms\":3000,\"profile\":" + profile + "}";
        string Profile(long mpid, string attributes) => "{\"mpid\":" + mpid + ",\"timestamp_unixtime_ms\":3000,\"user_identities\":[],\"user_attributes\":" + attributes
            + ",\"consent_state\":{},\"events\":[],\"resync\":{\"first_seen_unixtime_ms\":1000,\"last_seen_unixtime_ms\":1000}}";
        WarehouseDelivery Delivery(long mpid, string payload) => new(Guid.NewGuid(), Guid.NewGuid(), mpid, Ws, "identity:s-1", "production", payload);

        var rows = Decide(moved, kept, Delivery(Mpid, Notice(Mpid, receiver, true, Profile(Mpid, """{"plan":"a"}"""))),
            Delivery(receiver, Notice(receiver, Mpid, false, Profile(receiver, """{"plan":"a","level":"3"}"""))));

        rows.Events.Select(e => (e.BatchId, e.Mpid)).ShouldBe([(moved.BatchId, Mpid), (kept.BatchId, receiver)]);
        rows.AttributeUpdates.Single(u => u.Name == "level").Mpid.ShouldBe(receiver);
        rows.Moves.ShouldHaveSingleItem().ShouldBe(rows.Moves[0] with { WorkspaceId = Ws, From = Mpid, To = receiver });
        rows.Moves[0].BatchIds.ShouldBe([kept.BatchId]);
        rows.Replaced.ShouldBe([(Ws, Mpid), (Ws, receiver)], ignoreOrder: true);
        rows.Profiles.Single(p => p.Mpid == Mpid).Attributes.ShouldBe("""{"plan":"a"}""");
        rows.Profiles.Single(p => p.Mpid == receiver).Attributes.ShouldBe("""{"level":"3","plan":"a"}""");
        rows.AttributeUpdates.Count.ShouldBe(2); // the refreshed profiles add no history: the re-keying corrected it
        rows.IdentityChanges.Select(c => (c.Mpid, c.OtherMpid, c.Gave)).ShouldBe([(Mpid, receiver, true), (receiver, Mpid, false)]);
    }
}
