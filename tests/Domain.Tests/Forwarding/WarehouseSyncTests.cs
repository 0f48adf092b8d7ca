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
}
