using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using EventProfiles.Domain.Forwarding.Warehouse;
using EventProfiles.Domain.Privacy;

namespace EventProfiles.Domain.Forwarding.Files;

/// <summary>
/// A files output's target (docs/outputs.md): a folder under the configured root, and the size at which a Parquet file
/// is closed and the next one started (files are also closed at every flush, so they roll by time as well). With
/// <paramref name="RewriteOnErasure"/>, an erasure also rewrites the workspace's published files without the person.
/// </summary>
public sealed record FilesSettings(string Folder, long MaxFileBytes, bool RewriteOnErasure = false);

/// <summary>The tables of the export, each its own folder of Parquet files.</summary>
public static class ExportTables
{
    public const string Events = "events";
    public const string AudienceChanges = "audience_changes";
    public const string Erasures = "erasures";
    public const string IdentityChanges = "identity_changes";
}

/// <summary>One row per captured event, enriched as the webhook's JSON gives it (the profile's context as JSON strings).</summary>
public sealed class EventFileRow
{
    [JsonPropertyName("delivery_id")] public string DeliveryId { get; set; } = "";
    [JsonPropertyName("batch_id")] public string BatchId { get; set; } = "";
    [JsonPropertyName("event_index")] public int EventIndex { get; set; }
    [JsonPropertyName("workspace_id")] public int WorkspaceId { get; set; }
    [JsonPropertyName("mpid")] public long Mpid { get; set; }
    [JsonPropertyName("input")] public string Input { get; set; } = "";
    [JsonPropertyName("environment")] public string Environment { get; set; } = "";
    [JsonPropertyName("event_type")] public string EventType { get; set; } = "";
    [JsonPropertyName("event_name")] public string? EventName { get; set; }
    [JsonPropertyName("timestamp_unixtime_ms")] public long? TimestampUnixtimeMs { get; set; }
    [JsonPropertyName("custom_attributes")] public string? CustomAttributes { get; set; }
    [JsonPropertyName("data")] public string Data { get; set; } = "{}";
    [JsonPropertyName("user_identities")] public string UserIdentities { get; set; } = "[]";
    [JsonPropertyName("user_attributes")] public string UserAttributes { get; set; } = "{}";
    [JsonPropertyName("audience_memberships")] public string AudienceMemberships { get; set; } = "[]";
    [JsonPropertyName("consent_state")] public string ConsentState { get; set; } = "{}";
    [JsonPropertyName("batch_timestamp_unixtime_ms")] public long? BatchTimestampUnixtimeMs { get; set; }
    [JsonPropertyName("is_replay")] public bool IsReplay { get; set; }
}

/// <summary>One row per person and audience in an audience membership change.</summary>
public sealed class AudienceChangeFileRow
{
    [JsonPropertyName("delivery_id")] public string DeliveryId { get; set; } = "";
    [JsonPropertyName("workspace_id")] public int WorkspaceId { get; set; }
    [JsonPropertyName("mpid")] public long Mpid { get; set; }
    [JsonPropertyName("audience_id")] public int AudienceId { get; set; }
    [JsonPropertyName("audience_name")] public string? AudienceName { get; set; }
    [JsonPropertyName("action")] public string Action { get; set; } = "";
    [JsonPropertyName("timestamp_unixtime_ms")] public long TimestampUnixtimeMs { get; set; }
}

/// <summary>A tombstone: this person of this workspace was erased; rows of theirs in earlier files are to be ignored.</summary>
public sealed class ErasureFileRow
{
    [JsonPropertyName("delivery_id")] public string DeliveryId { get; set; } = "";
    [JsonPropertyName("subject_request_id")] public string? SubjectRequestId { get; set; }
    [JsonPropertyName("workspace_id")] public int WorkspaceId { get; set; }
    [JsonPropertyName("mpid")] public long Mpid { get; set; }
    [JsonPropertyName("submitted_unixtime_ms")] public long SubmittedUnixtimeMs { get; set; }
}

/// <summary>
/// A split, merge or undo moved stored batches from one person to another (issue 21): one row per person of the change.
/// Rows of <c>events</c> whose <c>batch_id</c> is in <c>batch_ids</c> and whose <c>mpid</c> is the giver's (<c>gave</c>)
/// belong to the other person from then on.
/// </summary>
public sealed class IdentityChangeFileRow
{
    [JsonPropertyName("delivery_id")] public string DeliveryId { get; set; } = "";
    [JsonPropertyName("change_id")] public string ChangeId { get; set; } = "";
    [JsonPropertyName("change")] public string Change { get; set; } = "";
    [JsonPropertyName("workspace_id")] public int WorkspaceId { get; set; }
    [JsonPropertyName("mpid")] public long Mpid { get; set; }
    [JsonPropertyName("other_mpid")] public long OtherMpid { get; set; }
    [JsonPropertyName("gave")] public bool Gave { get; set; }
    [JsonPropertyName("batch_ids")] public string BatchIds { get; set; } = "[]";
    [JsonPropertyName("identities")] public string Identities { get; set; } = "[]";
    [JsonPropertyName("timestamp_unixtime_ms")] public long TimestampUnixtimeMs { get; set; }
}

/// <summary>A partition: the table, the workspace and the (UTC) day, as in <c>events/workspace=1/date=2026-12-05/</c>.</summary>
public sealed record ExportPartition(string Table, int WorkspaceId, DateOnly Day)
{
    public string Path => $"{Table}/workspace={WorkspaceId.ToString(CultureInfo.InvariantCulture)}/date={Day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}";
}

/// <summary>A flush's rows, by partition.</summary>
public sealed record ExportRows(
    IReadOnlyDictionary<ExportPartition, List<EventFileRow>> Events,
    IReadOnlyDictionary<ExportPartition, List<AudienceChangeFileRow>> AudienceChanges,
    IReadOnlyDictionary<ExportPartition, List<ErasureFileRow>> Erasures,
    IReadOnlyDictionary<ExportPartition, List<IdentityChangeFileRow>> IdentityChanges,
    IReadOnlyList<BatchMove> Moves)
{
    public int Count => Events.Values.Sum(r => r.Count) + AudienceChanges.Values.Sum(r => r.Count) + Erasures.Values.Sum(r => r.Count)
        + IdentityChanges.Values.Sum(r => r.Count);
}

/// <summary>
/// Turns a flush's deliveries into rows by partition (pure). The day is the event's own time (else its batch's), so a
/// late or replayed batch lands in the day it happened, never the day it was written. Deliveries already published
/// (<paramref name="published"/>: the last flush's, whose commit may have been lost) and a batch seen twice in one flush
/// (a retry next to its replay) give no rows. An erasure drops the person's rows gathered so far in the flush. An
/// identity-change notice writes its row to <c>identity_changes</c> and, the giver's, re-keys the moved batches' event
/// rows gathered so far to the receiver (and is listed in <see cref="ExportRows.Moves"/> for published files).
/// </summary>
public static class ExportDecision
{
    public static ExportRows Decide(IReadOnlyList<WarehouseDelivery> deliveries, IReadOnlySet<Guid> published)
    {
        var events = new Dictionary<ExportPartition, List<EventFileRow>>();
        var changes = new Dictionary<ExportPartition, List<AudienceChangeFileRow>>();
        var erasures = new Dictionary<ExportPartition, List<ErasureFileRow>>();
        var identityChanges = new Dictionary<ExportPartition, List<IdentityChangeFileRow>>();
        var moves = new List<BatchMove>();
        var batches = new HashSet<(Guid, long)>();
        foreach (var delivery in deliveries)
        {
            if (published.Contains(delivery.DeliveryId)) continue;
            if (JsonNode.Parse(delivery.Payload) is not JsonObject payload) continue;
            if (ErasureNotice.IsNotice(delivery.Input))
            {
                var submitted = payload["submitted_time"] is JsonValue s && s.TryGetValue<long>(out var seconds) ? seconds * 1000 : 0;
                foreach (var list in events.Values) list.RemoveAll(r => r.WorkspaceId == delivery.WorkspaceId && r.Mpid == delivery.Mpid);
                foreach (var list in changes.Values) list.RemoveAll(r => r.WorkspaceId == delivery.WorkspaceId && r.Mpid == delivery.Mpid);
                foreach (var list in identityChanges.Values) list.RemoveAll(r => r.WorkspaceId == delivery.WorkspaceId && r.Mpid == delivery.Mpid);
                Add(erasures, new ExportPartition(ExportTables.Erasures, delivery.WorkspaceId, Day(submitted)), new ErasureFileRow
                {
                    DeliveryId = delivery.DeliveryId.ToString("D"), SubjectRequestId = payload["subject_request_id"]?.GetValue<string>(),
                    WorkspaceId = delivery.WorkspaceId, Mpid = delivery.Mpid, SubmittedUnixtimeMs = submitted,
                });
                continue;
            }
            if (IdentityChangeNotice.IsNotice(delivery.Input))
            {
                if (IdentityChangeNotice.Parse(payload) is not { } notice) continue;
                if (notice.Gave && notice.BatchIds.Count > 0)
                {
                    var moved = notice.BatchIds.ToHashSet();
                    foreach (var list in events.Values)
                        foreach (var row in list.Where(r => r.WorkspaceId == delivery.WorkspaceId && r.Mpid == notice.Giver && Guid.TryParse(r.BatchId, out var b) && moved.Contains(b)))
                            row.Mpid = notice.Receiver;
                    moves.Add(new BatchMove(delivery.WorkspaceId, notice.Giver, notice.Receiver, notice.BatchIds));
                }
                Add(identityChanges, new ExportPartition(ExportTables.IdentityChanges, delivery.WorkspaceId, Day(notice.At.ToUnixTimeMilliseconds())), new IdentityChangeFileRow
                {
                    DeliveryId = delivery.DeliveryId.ToString("D"), ChangeId = notice.Id, Change = notice.Change, WorkspaceId = delivery.WorkspaceId,
                    Mpid = notice.Mpid, OtherMpid = notice.OtherMpid, Gave = notice.Gave,
                    BatchIds = new JsonArray(notice.BatchIds.Select(b => (JsonNode?)b.ToString("D")).ToArray()).ToJsonString(), Identities = notice.Identities,
                    TimestampUnixtimeMs = notice.At.ToUnixTimeMilliseconds(),
                });
                continue;
            }
            if (payload["type"]?.GetValue<string>() == "audience_membership_change_request")
            {
                var at = Millis(payload["timestamp_ms"]) ?? 0;
                foreach (var profile in payload["user_profiles"] as JsonArray ?? [])
                {
                    var mpid = long.TryParse(profile?["mpid"]?.GetValue<string>(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var m) ? m : delivery.Mpid;
                    foreach (var audience in profile?["audiences"] as JsonArray ?? [])
                        if (audience?["audience_id"]?.GetValue<int>() is { } id)
                            Add(changes, new ExportPartition(ExportTables.AudienceChanges, delivery.WorkspaceId, Day(at)), new AudienceChangeFileRow
                            {
                                DeliveryId = delivery.DeliveryId.ToString("D"), WorkspaceId = delivery.WorkspaceId, Mpid = mpid, AudienceId = id,
                                AudienceName = audience["audience_name"]?.GetValue<string>(), Action = audience["action"]?.GetValue<string>() ?? "",
                                TimestampUnixtimeMs = at,
                            });
                }
                continue;
            }
            var batchMpid = payload["mpid"]?.GetValue<long>() ?? delivery.Mpid;
            if (!batches.Add((delivery.BatchId, batchMpid))) continue;
            var batchTime = Millis(payload["timestamp_unixtime_ms"]);
            var identities = payload["user_identities"]?.ToJsonString() ?? "[]";
            var attributes = payload["user_attributes"]?.ToJsonString() ?? "{}";
            var memberships = payload["audience_memberships"]?.ToJsonString() ?? "[]";
            var consent = payload["consent_state"]?.ToJsonString() ?? "{}";
            var replayed = payload[WarehouseSync.ReplayedBatch] is not null;
            var index = 0;
            foreach (var node in payload["events"] as JsonArray ?? [])
            {
                if (node is not JsonObject e) continue;
                var data = e["data"] as JsonObject;
                var time = Millis(data?["timestamp_unixtime_ms"]);
                Add(events, new ExportPartition(ExportTables.Events, delivery.WorkspaceId, Day(time ?? batchTime ?? 0)), new EventFileRow
                {
                    DeliveryId = delivery.DeliveryId.ToString("D"), BatchId = delivery.BatchId.ToString("D"), EventIndex = index++,
                    WorkspaceId = delivery.WorkspaceId, Mpid = batchMpid, Input = delivery.Input, Environment = delivery.Environment,
                    EventType = e["event_type"]?.GetValue<string>() ?? "", EventName = (data?["event_name"] ?? data?["screen_name"])?.GetValue<string>(),
                    TimestampUnixtimeMs = time, CustomAttributes = data?["custom_attributes"]?.ToJsonString(), Data = data?.ToJsonString() ?? "{}",
                    UserIdentities = identities, UserAttributes = attributes, AudienceMemberships = memberships, ConsentState = consent,
                    BatchTimestampUnixtimeMs = batchTime, IsReplay = replayed,
                });
            }
        }
        return new ExportRows(events.Where(p => p.Value.Count > 0).ToDictionary(), changes.Where(p => p.Value.Count > 0).ToDictionary(), erasures,
            identityChanges, moves);
    }

    private static void Add<T>(Dictionary<ExportPartition, List<T>> rows, ExportPartition partition, T row)
    {
        if (!rows.TryGetValue(partition, out var list)) rows[partition] = list = [];
        list.Add(row);
    }

    private static DateOnly Day(long unixMs) => DateOnly.FromDateTime(DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime);

    private static long? Millis(JsonNode? node) => node is JsonValue v && v.TryGetValue<long>(out var ms) ? ms : null;
}
