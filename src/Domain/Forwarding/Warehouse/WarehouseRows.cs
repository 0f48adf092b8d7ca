using System.Globalization;
using System.Text.Json.Nodes;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Privacy;
using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.Forwarding.Warehouse;

/// <summary>A warehouse output's target: a PostgreSQL connection string and the schema our tables live in there.</summary>
public sealed record WarehouseSettings(string ConnectionString, string Schema);

/// <summary>One waiting delivery as the warehouse sync takes it (a row of the delivery table, in the order it was accepted).</summary>
public sealed record WarehouseDelivery(Guid DeliveryId, Guid BatchId, long Mpid, int WorkspaceId, string Input, string Environment, string Payload);

/// <summary>What the warehouse's <c>profiles</c> row holds of a person now: what history rows are the differences from.</summary>
public sealed record WarehousePerson(IReadOnlyDictionary<string, string> Identities, IReadOnlyDictionary<string, string> Attributes)
{
    public static readonly WarehousePerson None = new(new Dictionary<string, string>(), new Dictionary<string, string>());
}

public sealed record ProfileRow(int WorkspaceId, long Mpid, string Identities, string Attributes, string Calculated, string Memberships, string Consent,
    DateTimeOffset? FirstSeenAt, DateTimeOffset? LastSeenAt, DateTimeOffset UpdatedAt);

/// <summary>An identity type set to a value, or removed (<see cref="Value"/> null), by one batch.</summary>
public sealed record IdentityUpdate(Guid BatchId, int WorkspaceId, long Mpid, string IdentityType, string? Value, DateTimeOffset At);

/// <summary>An attribute set (<see cref="Value"/> as JSON), or removed (null), by one batch.</summary>
public sealed record AttributeUpdate(Guid BatchId, int WorkspaceId, long Mpid, string Name, string? Value, bool Calculated, DateTimeOffset At);

public sealed record EventRow(Guid BatchId, int Index, int WorkspaceId, long Mpid, string Input, string Environment, string EventType, string? EventName,
    DateTimeOffset? Timestamp, string Data, string Context, bool IsReplay);

public sealed record MembershipChangeRow(Guid ChangeId, int WorkspaceId, long Mpid, int AudienceId, string? AudienceName, bool Added, DateTimeOffset At);

/// <summary>A split or merge moved these batches of a workspace from one person to another: their rows are re-keyed.</summary>
public sealed record BatchMove(int WorkspaceId, long From, long To, IReadOnlyList<Guid> BatchIds);

/// <summary>A row of <c>identity_changes</c>: one per person of a split, merge or undo (their side of it).</summary>
public sealed record IdentityChangeRow(string ChangeId, int WorkspaceId, long Mpid, long OtherMpid, string Change, bool Gave, string BatchIds, string Identities,
    string? Reason, string? By, DateTimeOffset At);

/// <summary>Everything one micro-batch writes; erasures are applied before the rest.</summary>
public sealed record WarehouseRows(
    IReadOnlyList<(int WorkspaceId, long Mpid)> Erased,
    IReadOnlyList<ProfileRow> Profiles,
    IReadOnlyList<IdentityUpdate> IdentityUpdates,
    IReadOnlyList<AttributeUpdate> AttributeUpdates,
    IReadOnlyList<EventRow> Events,
    IReadOnlyList<MembershipChangeRow> MembershipChanges,
    IReadOnlyList<BatchMove> Moves,
    IReadOnlyList<(int WorkspaceId, long Mpid)> Replaced,
    IReadOnlyList<IdentityChangeRow> IdentityChanges)
{
    public int Count => Erased.Count + Profiles.Count + IdentityUpdates.Count + AttributeUpdates.Count + Events.Count + MembershipChanges.Count
        + Moves.Count + Replaced.Count + IdentityChanges.Count;

    /// <summary>The current memberships after the changes: the last change of each person and audience wins.</summary>
    public IEnumerable<MembershipChangeRow> CurrentMemberships =>
        MembershipChanges.GroupBy(c => (c.WorkspaceId, c.AudienceId, c.Mpid)).Select(g => g.Last());
}

/// <summary>
/// Turns a micro-batch of deliveries (enriched batches, audience membership changes, erasure notices) into the
/// warehouse's rows (pure): the latest profile per person, history rows for what each batch changed compared with the
/// state before it (the warehouse's current row, then the batches before it in this micro-batch), one row per event.
/// Replayed batches add their events and the current profile but no history: they carry today's profile, not the
/// one of their time. An erasure drops the person's rows gathered so far and deletes theirs in the warehouse.
/// </summary>
public static class WarehouseSync
{
    public const string ReplayedBatch = "replay";
    public const string Resync = "resync";

    /// <summary>
    /// A person as a resync writes them (no events): the profile now, shaped like an enriched batch, through the
    /// connection's filter and consent rules (null when they forbid it). Its history rows are the differences from
    /// what the warehouse holds, dated <paramref name="at"/>.
    /// </summary>
    public static JsonObject? Baseline(Profile profile, int workspaceId, Connection connection, IReadOnlyDictionary<string, CalculatedValue> calculated,
        IEnumerable<(int Id, string Name)> memberships, DateTimeOffset at)
    {
        var workspace = profile.Workspace(workspaceId);
        if (!connection.ConsentRules.All(r => r.Allows(workspace))) return null;
        var blocked = connection.Filter;
        var attributes = new JsonObject();
        foreach (var (name, value) in workspace.CurrentAttributes().Where(a => !blocked.BlockedUserAttributes.Contains(a.Key)))
            attributes[name] = value is { } v ? JsonNode.Parse(v.GetRawText()) : null;
        foreach (var (name, value) in calculated.Where(c => !blocked.BlockedUserAttributes.Contains(c.Key)))
            attributes[name] = value.List is { } list ? new JsonArray(list.Select(v => (JsonNode?)v).ToArray()) : value.Text;
        return new JsonObject
        {
            ["mpid"] = profile.Mpid,
            ["timestamp_unixtime_ms"] = at.ToUnixTimeMilliseconds(),
            ["user_identities"] = new JsonArray(profile.Identities
                .Where(i => IdentityTypes.FromName(i.Type) is { IsDeviceIdentity: false } && !blocked.BlockedIdentityTypes.Contains(i.Type))
                .Select(i => (JsonNode?)new JsonObject { ["identity_type"] = i.Type, ["identity"] = i.Value }).ToArray()),
            ["user_attributes"] = attributes,
            ["consent_state"] = OutboundBatch.Consent(workspace),
            ["audience_memberships"] = new JsonArray(memberships.Select(m => (JsonNode?)new JsonObject { ["audience_id"] = m.Id, ["audience_name"] = m.Name }).ToArray()),
            [Resync] = new JsonObject
            {
                ["first_seen_unixtime_ms"] = workspace.FirstSeenAt?.ToUnixTimeMilliseconds(),
                ["last_seen_unixtime_ms"] = workspace.LastSeenAt?.ToUnixTimeMilliseconds(),
            },
            ["events"] = new JsonArray(),
        };
    }

    public static WarehouseRows Decide(IReadOnlyList<WarehouseDelivery> deliveries, IReadOnlyDictionary<(int WorkspaceId, long Mpid), WarehousePerson> current,
        Func<int, string, bool> isCalculated)
    {
        var erased = new List<(int, long)>();
        var state = new Dictionary<(int, long), WarehousePerson>();
        var profiles = new Dictionary<(int, long), ProfileRow>();
        var identities = new List<IdentityUpdate>();
        var attributes = new List<AttributeUpdate>();
        var events = new List<EventRow>();
        var memberships = new List<MembershipChangeRow>();
        var moves = new List<BatchMove>();
        var replaced = new List<(int, long)>();
        var changes = new List<IdentityChangeRow>();

        foreach (var delivery in deliveries)
        {
            if (ErasureNotice.IsNotice(delivery.Input))
            {
                var key = (delivery.WorkspaceId, delivery.Mpid);
                erased.Add(key);
                state[key] = WarehousePerson.None;
                profiles.Remove(key);
                identities.RemoveAll(r => (r.WorkspaceId, r.Mpid) == key);
                attributes.RemoveAll(r => (r.WorkspaceId, r.Mpid) == key);
                events.RemoveAll(r => (r.WorkspaceId, r.Mpid) == key);
                memberships.RemoveAll(r => (r.WorkspaceId, r.Mpid) == key);
                changes.RemoveAll(r => (r.WorkspaceId, r.Mpid) == key);
                continue;
            }
            if (JsonNode.Parse(delivery.Payload) is not JsonObject payload) continue;
            if (payload["type"]?.GetValue<string>() == "audience_membership_change_request")
            {
                memberships.AddRange(MembershipChanges(delivery, payload));
                continue;
            }
            if (IdentityChangeNotice.IsNotice(delivery.Input))
            {
                if (IdentityChangeNotice.Parse(payload) is { } notice) IdentityChange(delivery, notice);
                continue;
            }
            AddBatch(delivery, payload);
        }
        return new WarehouseRows(erased.Distinct().ToList(), profiles.Values.ToList(), identities, attributes, events, memberships, moves, replaced.Distinct().ToList(), changes);

        void IdentityChange(WarehouseDelivery delivery, IdentityChangeNotice.Parsed notice)
        {
            var workspace = delivery.WorkspaceId;
            if (notice.Gave && notice.BatchIds.Count > 0)
            {
                var moved = notice.BatchIds.ToHashSet();
                bool Moves(Guid batch, int w, long m) => w == workspace && m == notice.Giver && moved.Contains(batch);
                for (var i = 0; i < events.Count; i++) if (Moves(events[i].BatchId, events[i].WorkspaceId, events[i].Mpid)) events[i] = events[i] with { Mpid = notice.Receiver };
                for (var i = 0; i < identities.Count; i++)
                    if (Moves(identities[i].BatchId, identities[i].WorkspaceId, identities[i].Mpid)) identities[i] = identities[i] with { Mpid = notice.Receiver };
                for (var i = 0; i < attributes.Count; i++)
                    if (Moves(attributes[i].BatchId, attributes[i].WorkspaceId, attributes[i].Mpid)) attributes[i] = attributes[i] with { Mpid = notice.Receiver };
                moves.Add(new BatchMove(workspace, notice.Giver, notice.Receiver, notice.BatchIds));
            }
            changes.Add(new IdentityChangeRow(notice.Id, workspace, notice.Mpid, notice.OtherMpid, notice.Change, notice.Gave,
                new JsonArray(notice.BatchIds.Select(b => (JsonNode?)b.ToString("D")).ToArray()).ToJsonString(), notice.Identities, notice.Reason, notice.By, notice.At));
            if (!notice.HasProfile) return;
            // The person's row is replaced by what they are now; none when they have no data left in the workspace.
            var key = (workspace, notice.Mpid);
            replaced.Add(key);
            profiles.Remove(key);
            state[key] = WarehousePerson.None;
            if (notice.Profile is { } profile) AddBatch(delivery, profile, history: false);
        }

        void AddBatch(WarehouseDelivery delivery, JsonObject batch, bool history = true)
        {
            var mpid = batch["mpid"]?.GetValue<long>() ?? delivery.Mpid;
            var key = (delivery.WorkspaceId, mpid);
            var at = Time(batch["timestamp_unixtime_ms"]) ?? DateTimeOffset.UnixEpoch;
            var replayed = batch[ReplayedBatch] is not null || !history;
            var before = state.GetValueOrDefault(key) ?? current.GetValueOrDefault(key) ?? WarehousePerson.None;

            var ids = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var identity in batch["user_identities"] as JsonArray ?? [])
                if (identity?["identity_type"]?.GetValue<string>() is { } type && identity["identity"]?.GetValue<string>() is { } value) ids[type] = value;
            var attrs = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var (name, value) in batch["user_attributes"] as JsonObject ?? []) attrs[name] = value?.ToJsonString() ?? "null";

            if (!replayed)
            {
                foreach (var (type, value) in ids.Where(i => before.Identities.GetValueOrDefault(i.Key) != i.Value))
                    identities.Add(new IdentityUpdate(delivery.BatchId, key.WorkspaceId, mpid, type, value, at));
                foreach (var type in before.Identities.Keys.Where(t => !ids.ContainsKey(t)))
                    identities.Add(new IdentityUpdate(delivery.BatchId, key.WorkspaceId, mpid, type, null, at));
                foreach (var (name, value) in attrs.Where(a => before.Attributes.GetValueOrDefault(a.Key) != a.Value))
                    attributes.Add(new AttributeUpdate(delivery.BatchId, key.WorkspaceId, mpid, name, value, isCalculated(key.WorkspaceId, name), at));
                foreach (var name in before.Attributes.Keys.Where(n => !attrs.ContainsKey(n)))
                    attributes.Add(new AttributeUpdate(delivery.BatchId, key.WorkspaceId, mpid, name, null, isCalculated(key.WorkspaceId, name), at));
            }
            state[key] = new WarehousePerson(ids, attrs);

            var context = batch.DeepClone().AsObject();
            context.Remove("events");
            var contextJson = context.ToJsonString();
            DateTimeOffset? first = null, last = null;
            var index = 0;
            foreach (var node in batch["events"] as JsonArray ?? [])
            {
                if (node is not JsonObject e) continue;
                var data = e["data"] as JsonObject;
                var time = Time(data?["timestamp_unixtime_ms"]);
                if (time is { } t) { first = first is { } f && f <= t ? f : t; last = last is { } l && l >= t ? l : t; }
                events.Add(new EventRow(delivery.BatchId, index++, key.WorkspaceId, mpid, delivery.Input, delivery.Environment,
                    e["event_type"]?.GetValue<string>() ?? "", (data?["event_name"] ?? data?["screen_name"])?.GetValue<string>(), time,
                    data?.ToJsonString() ?? "{}", contextJson, replayed));
            }

            if (batch[Resync] is JsonObject resync) { first = Time(resync["first_seen_unixtime_ms"]); last = Time(resync["last_seen_unixtime_ms"]); }
            var previous = profiles.GetValueOrDefault(key);
            var user = new JsonObject();
            var calculated = new JsonObject();
            foreach (var (name, value) in attrs) (isCalculated(key.WorkspaceId, name) ? calculated : user)[name] = JsonNode.Parse(value);
            profiles[key] = new ProfileRow(key.WorkspaceId, mpid,
                new JsonArray(ids.Select(i => (JsonNode?)new JsonObject { ["identity_type"] = i.Key, ["identity"] = i.Value }).ToArray()).ToJsonString(),
                user.ToJsonString(), calculated.ToJsonString(),
                batch["audience_memberships"]?.ToJsonString() ?? "[]", batch["consent_state"]?.ToJsonString() ?? "{}",
                Earliest(previous?.FirstSeenAt, first), Latest(previous?.LastSeenAt, last), Latest(previous?.UpdatedAt, at)!.Value);
        }
    }

    private static IEnumerable<MembershipChangeRow> MembershipChanges(WarehouseDelivery delivery, JsonObject message)
    {
        var at = Time(message["timestamp_ms"]) ?? DateTimeOffset.UnixEpoch;
        foreach (var profile in message["user_profiles"] as JsonArray ?? [])
        {
            var mpid = long.TryParse(profile?["mpid"]?.GetValue<string>(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var m) ? m : delivery.Mpid;
            foreach (var audience in profile?["audiences"] as JsonArray ?? [])
                if (audience?["audience_id"]?.GetValue<int>() is { } id)
                    yield return new MembershipChangeRow(delivery.DeliveryId, delivery.WorkspaceId, mpid, id, audience["audience_name"]?.GetValue<string>(),
                        audience["action"]?.GetValue<string>() == "add", at);
        }
    }

    private static DateTimeOffset? Time(JsonNode? node) =>
        node is JsonValue v && v.TryGetValue<long>(out var ms) ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

    private static DateTimeOffset? Earliest(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a < b ? a : b;
    private static DateTimeOffset? Latest(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;
}
