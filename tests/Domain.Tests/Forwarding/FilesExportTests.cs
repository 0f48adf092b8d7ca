using EventProfiles.Domain.Forwarding.Files;
using EventProfiles.Domain.Forwarding.Warehouse;
using EventProfiles.Domain.Privacy;

namespace EventProfiles.Domain.Tests.Forwarding;

public sealed class FilesExportTests
{
    private const long Day1 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    private static WarehouseDelivery Batch(Guid batchId, string events, long batchMs = Day1) =>
        new(Guid.NewGuid(), batchId, 42, 1, "server", "development",
            "{\"mpid\":42,\"timestamp_unixtime_ms\":" + batchMs + ",\"user_identities\":[],\"user_attributes\":{\"tier\":\"gold\"},\"events\":" + events + "}");

    [Fact]
    public void events_go_to_the_day_they_happened_in_and_fall_back_to_the_batch_time()
    {
        var rows = ExportDecision.Decide([Batch(Guid.NewGuid(),
            """[{"event_type":"custom_event","data":{"event_name":"Late","timestamp_unixtime_ms":1767139200000}},{"event_type":"custom_event","data":{"event_name":"Undated"}}]""")],
            new HashSet<Guid>());

        rows.Events.Keys.Select(p => p.Path).ShouldBe(["events/workspace=1/date=2025-12-31", "events/workspace=1/date=2026-01-01"], ignoreOrder: true);
        rows.Events.Values.SelectMany(r => r).Single(r => r.EventName == "Undated").UserAttributes.ShouldBe("""{"tier":"gold"}""");
    }

    [Fact]
    public void deliveries_already_published_and_a_batch_seen_twice_in_a_flush_give_no_rows()
    {
        const string one = """[{"event_type":"custom_event","data":{"event_name":"A"}}]""";
        var published = Batch(Guid.NewGuid(), one);
        var batch = Guid.NewGuid();
        var rows = ExportDecision.Decide([published, Batch(batch, one), Batch(batch, one)], new HashSet<Guid> { published.DeliveryId });

        rows.Events.Values.SelectMany(r => r).Select(r => r.BatchId).ShouldBe([batch.ToString("D")]);
    }

    [Fact]
    public void audience_changes_and_erasures_have_partitions_of_their_own()
    {
        var change = new WarehouseDelivery(Guid.NewGuid(), Guid.NewGuid(), 42, 1, "audience", "production",
            """{"type":"audience_membership_change_request","timestamp_ms":1767225600000,"user_profiles":[{"mpid":"42","audiences":[{"audience_id":7,"audience_name":"Fans","action":"add"}]}]}""");
        var erasure = new WarehouseDelivery(Guid.NewGuid(), Guid.NewGuid(), 43, 1, ErasureNotice.InputOf(Guid.NewGuid()), "production",
            """{"type":"dsr_processing_request","subject_request_id":"r-1","submitted_time":1767225600}""");

        var rows = ExportDecision.Decide([change, erasure], new HashSet<Guid>());

        rows.AudienceChanges.Single().Key.Path.ShouldBe("audience_changes/workspace=1/date=2026-01-01");
        rows.AudienceChanges.Single().Value.Single().Action.ShouldBe("add");
        rows.Erasures.Single().Value.Single().SubjectRequestId.ShouldBe("r-1");
        rows.Erasures.Single().Key.Path.ShouldBe("erasures/workspace=1/date=2026-01-01");
        rows.Events.ShouldBeEmpty();
    }

    [Fact]
    public void an_erasure_drops_the_persons_rows_gathered_earlier_in_the_flush()
    {
        var erasure = new WarehouseDelivery(Guid.NewGuid(), Guid.NewGuid(), 42, 1, ErasureNotice.InputOf(Guid.NewGuid()), "production",
            """{"type":"dsr_processing_request","subject_request_id":"r-2","submitted_time":1767225600}""");

        var rows = ExportDecision.Decide([Batch(Guid.NewGuid(), """[{"event_type":"custom_event","data":{"event_name":"A"}}]"""), erasure], new HashSet<Guid>());

        rows.Events.ShouldBeEmpty();
        rows.Erasures.Single().Value.Single().Mpid.ShouldBe(42);
    }
}
