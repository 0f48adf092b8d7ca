using System.Text.Json;
using System.Text.Json.Nodes;
using EventProfiles.Domain.Consent;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;

namespace EventProfiles.Domain.Forwarding;

/// <summary>Where a batch came from, as the outbound batch tells it.</summary>
public sealed record BatchOrigin(int WorkspaceId, Guid BatchId, DateTimeOffset ReceivedAt, InputKind Channel, bool IsHistorical);

/// <summary>
/// The enriched batch an output receives (forwarding.md §2): the batch as sent, completed from the profile as it is
/// right after this batch — every current user attribute of the workspace (the most recent value), every user
/// identity, the consent state — but only the batch's own device. Consent changes of this batch become
/// <c>system_notifications</c>. Only the events this batch stored are forwarded (a repeated message id is not).
/// </summary>
public static class OutboundBatch
{
    /// <summary>
    /// Null when the batch is not forwarded: no events stored (a profile-only batch, forwarding.md E6), or historical
    /// data (events-api.md §1: not forwarded to event outputs).
    /// </summary>
    public static JsonObject? Build(ParsedBatch batch, Profile? before, Profile after, IReadOnlyList<object> decided, BatchOrigin origin)
    {
        var events = decided.OfType<EventCaptured>().ToList();
        if (events.Count == 0 || origin.IsHistorical) return null;

        var outbound = Complete(JsonObject.Create(batch.Envelope)!, after, origin, events,
            i => decided.OfType<UserIdentityAdded>().Any(a => a.IdentityType == i.Type && a.Value == i.Value));
        var notifications = ConsentNotifications(before?.Workspace(origin.WorkspaceId), decided);
        if (notifications.Count > 0) outbound["system_notifications"] = notifications;
        return outbound;
    }

    /// <summary>
    /// A stored batch sent again by a data replay (forwarding.md §8): the batch as it was received with its stored events,
    /// enriched from the profile as it is now, and marked: <c>source_info.is_replay</c> and a <c>replay</c> object naming
    /// the replay job, so outputs can tell it from live traffic. Historical batches are not replayed (they were never forwarded).
    /// </summary>
    public static JsonObject? Replayed(JsonElement storedBatch, IReadOnlyList<EventCaptured> events, Profile now, BatchOrigin origin, Guid replayId, DateTimeOffset replayedAt)
    {
        if (events.Count == 0 || origin.IsHistorical) return null;
        var outbound = Complete(JsonObject.Create(storedBatch)!, now, origin, events, _ => false);
        outbound["source_info"]!["is_replay"] = true;
        outbound["replay"] = new JsonObject { ["replay_id"] = replayId.ToString(), ["replayed_at_unixtime_ms"] = replayedAt.ToUnixTimeMilliseconds() };
        return outbound;
    }

    private static JsonObject Complete(JsonObject outbound, Profile after, BatchOrigin origin, IReadOnlyList<EventCaptured> events, Func<ProfileIdentity, bool> createdThisBatch)
    {
        var workspace = after.Workspace(origin.WorkspaceId);
        outbound["mpid"] = after.Mpid;
        outbound["batch_id"] = origin.BatchId.ToString();
        outbound["timestamp_unixtime_ms"] = origin.ReceivedAt.ToUnixTimeMilliseconds();
        outbound["schema_version"] = 2;
        outbound["source_info"] = new JsonObject
        {
            ["channel"] = origin.Channel switch
            {
                InputKind.Web => "javascript",
                InputKind.IOS or InputKind.Android => "native", // native-sdks.md §11
                _ => "server_to_server",
            },
            ["is_historical"] = origin.IsHistorical,
        };
        outbound["user_identities"] = new JsonArray(after.Identities
            .Where(i => IdentityTypes.FromName(i.Type) is { IsDeviceIdentity: false })
            .Select(i => (JsonNode?)new JsonObject
            {
                ["identity_type"] = i.Type,
                ["identity"] = i.Value,
                ["timestamp_unixtime_ms"] = i.AddedAt.ToUnixTimeMilliseconds(),
                ["created_this_batch"] = createdThisBatch(i),
            }).ToArray());
        var attributes = new JsonObject();
        foreach (var (name, value) in workspace.CurrentAttributes())
            attributes[name] = value is { } v ? Node(v) : null;
        outbound["user_attributes"] = attributes;
        outbound["consent_state"] = Consent(workspace);
        outbound.Remove("deleted_user_attributes"); // applied to the profile; the outbound attributes are the result
        outbound["events"] = new JsonArray(events.Select(e => (JsonNode?)new JsonObject
        {
            ["event_type"] = e.EventType,
            ["data"] = EventData(e),
        }).ToArray());
        return outbound;
    }

    private static JsonObject EventData(EventCaptured e)
    {
        var data = JsonObject.Create(e.Data)!;
        data["timestamp_unixtime_ms"] = e.Timestamp.ToUnixTimeMilliseconds(); // the server time when the client sent none
        return data;
    }

    /// <summary>
    /// A node over an element already parsed (read lazily, written as it is), rather than its text parsed again: the
    /// outbound batch is built for every forwarded batch on the ingestion writer's path.
    /// </summary>
    private static JsonNode? Node(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => JsonObject.Create(element),
        JsonValueKind.Array => JsonArray.Create(element),
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        _ => JsonValue.Create(element),
    };

    internal static JsonObject Consent(WorkspaceProfile workspace)
    {
        var gdpr = new JsonObject();
        foreach (var (purpose, record) in workspace.Gdpr) gdpr[purpose] = Record(record);
        var consent = new JsonObject { ["gdpr"] = gdpr };
        if (workspace.Ccpa is { } ccpa) consent["ccpa"] = new JsonObject { [Regulations.CcpaPurpose] = Record(ccpa) };
        return consent;
    }

    private static JsonObject Record(ConsentRecord record, string? regulation = null)
    {
        var json = new JsonObject
        {
            ["consented"] = record.Consented,
            ["timestamp_unixtime_ms"] = record.At.ToUnixTimeMilliseconds(),
            ["document"] = record.Document,
            ["location"] = record.Location,
            ["hardware_id"] = record.HardwareId,
        };
        if (regulation is not null) json["regulation"] = regulation;
        return json;
    }

    /// <summary>One <c>gdpr_change</c> (or <c>ccpa_change</c>) per purpose this batch changed, with the old and the current record (consent.md §3).</summary>
    private static JsonArray ConsentNotifications(WorkspaceProfile? before, IReadOnlyList<object> decided)
    {
        var notifications = new JsonArray();
        foreach (var change in decided.OfType<ConsentStateChanged>())
        {
            var label = change.Regulation == Regulations.Gdpr ? "GDPR" : "CCPA";
            var old = before?.Consent(change.Regulation, change.Purpose);
            notifications.Add(new JsonObject
            {
                ["type"] = change.Regulation == Regulations.Gdpr ? "gdpr_change" : "ccpa_change",
                ["data"] = new JsonObject
                {
                    ["purpose"] = change.Purpose,
                    ["old"] = old is null ? null : Record(old, label),
                    ["current"] = Record(change.Record, label),
                },
            });
        }
        return notifications;
    }
}
