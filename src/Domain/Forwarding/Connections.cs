using System.Text.Json.Nodes;
using EventProfiles.Domain.Consent;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.Forwarding;

public enum OutputKind { Webhook, Warehouse, RabbitMq, Files }

/// <summary>
/// A destination and its settings (forwarding.md §5). Paused outputs keep their deliveries waiting. An output of a
/// workspace takes only that workspace's inputs and audiences, and its admins see it; one without (org-wide) is for
/// admins of every workspace. Each kind has its settings (<see cref="Webhook"/> for a webhook, <see cref="Warehouse"/> for a
/// warehouse, <see cref="RabbitMq"/> for a RabbitMQ output); the others are null.
/// </summary>
public sealed record Output(string Id, string Name, OutputKind Kind, WebhookSettings? Webhook, bool Paused, DateTimeOffset CreatedAt, int? WorkspaceId = null,
    Warehouse.WarehouseSettings? Warehouse = null, RabbitMqSettings? RabbitMq = null, Files.FilesSettings? Files = null);

/// <summary>HTTP POST of the batch JSON; with a secret, the body is signed (<c>X-EventProfiles-Signature: sha256=&lt;hex HMAC&gt;</c>).</summary>
public sealed record WebhookSettings(string Url, string? Secret);

/// <summary>
/// An input linked to an output, with what may pass (forwarding.md §1, §3, §4). With <see cref="ForwardErasures"/> (on by
/// default: every output is a webhook) the output is told when a person of the input's workspace is erased.
/// </summary>
public sealed record Connection(string Id, string Input, string OutputId, bool Active, DataFilter Filter, IReadOnlyList<ConsentRule> ConsentRules,
    bool ForwardErasures = true);

public sealed record EventNameRef(string EventType, string EventName);

/// <summary>An event attribute to block: of every event of the type, or of the named event only.</summary>
public sealed record EventAttributeRef(string EventType, string? EventName, string Attribute);

/// <summary>
/// What a connection blocks (forwarding.md §3, our model): event types, event names, event attributes, user attributes
/// and identity types. Blocking a type blocks its events and their attributes; blocking a name blocks that event.
/// </summary>
public sealed record DataFilter(
    IReadOnlyList<string> BlockedEventTypes,
    IReadOnlyList<EventNameRef> BlockedEventNames,
    IReadOnlyList<EventAttributeRef> BlockedEventAttributes,
    IReadOnlyList<string> BlockedUserAttributes,
    IReadOnlyList<string> BlockedIdentityTypes)
{
    public static readonly DataFilter None = new([], [], [], [], []);

    public bool BlocksNothing() => BlockedEventTypes.Count == 0 && BlockedEventNames.Count == 0 && BlockedEventAttributes.Count == 0
        && BlockedUserAttributes.Count == 0 && BlockedIdentityTypes.Count == 0;
}

public enum ConsentRuleKind
{
    /// <summary>Forward only when the GDPR purpose is consented.</summary>
    RequireGdprConsent,
    /// <summary>Forward only when the person has not opted out of CCPA data sale (missing or false ⇒ forward).</summary>
    RequireNoCcpaOptOut,
}

public sealed record ConsentRule(ConsentRuleKind Kind, string? Purpose = null)
{
    public bool Allows(WorkspaceProfile workspace) => Kind switch
    {
        ConsentRuleKind.RequireGdprConsent => Purpose is not null && workspace.Gdpr.GetValueOrDefault(Purpose.Trim().ToLowerInvariant()) is { Consented: true },
        ConsentRuleKind.RequireNoCcpaOptOut => workspace.Ccpa is not { Consented: true },
        _ => false,
    };
}

/// <summary>A connection's view of an outbound batch: consent rules first, then the data filter; null when nothing may leave.</summary>
public static class ConnectionFilter
{
    /// <summary>
    /// The batch this connection may receive: <paramref name="outbound"/> itself when its filter blocks nothing (most
    /// connections; not copied, so callers must not change it), a filtered copy otherwise, null when nothing may leave.
    /// </summary>
    public static JsonObject? Apply(JsonObject outbound, Connection connection, WorkspaceProfile workspace)
    {
        if (!connection.Active || !connection.ConsentRules.All(r => r.Allows(workspace))) return null;
        var filter = connection.Filter;
        if (filter.BlocksNothing()) return outbound["events"] is JsonArray { Count: > 0 } ? outbound : null;
        var batch = outbound.DeepClone().AsObject();

        var events = new JsonArray();
        foreach (var node in batch["events"]?.AsArray() ?? [])
        {
            var e = node!.AsObject();
            var type = e["event_type"]?.GetValue<string>() ?? "";
            var data = e["data"] as JsonObject;
            var name = (data?["event_name"] ?? data?["screen_name"])?.GetValue<string>();
            if (filter.BlockedEventTypes.Contains(type)) continue;
            if (name is not null && filter.BlockedEventNames.Contains(new EventNameRef(type, name))) continue;
            if (data?["custom_attributes"] is JsonObject attributes)
                foreach (var blocked in filter.BlockedEventAttributes.Where(b => b.EventType == type && (b.EventName is null || b.EventName == name)))
                    attributes.Remove(blocked.Attribute);
            events.Add(e.DeepClone());
        }
        if (events.Count == 0) return null; // everything was blocked: there is no event to forward
        batch["events"] = events;

        if (batch["user_attributes"] is JsonObject userAttributes)
            foreach (var name in filter.BlockedUserAttributes) userAttributes.Remove(name);

        if (filter.BlockedIdentityTypes.Count > 0)
        {
            if (batch["user_identities"] is JsonArray identities)
                foreach (var blocked in identities.Where(i => filter.BlockedIdentityTypes.Contains(i!["identity_type"]?.GetValue<string>() ?? "")).ToList())
                    identities.Remove(blocked);
            if (batch["device_info"] is JsonObject device)
                foreach (var type in filter.BlockedIdentityTypes.Where(t => IdentityTypes.FromName(t) is { IsDeviceIdentity: true }))
                    device.Remove(type);
            if (filter.BlockedIdentityTypes.Contains(IdentityTypes.DeviceApplicationStamp.Name)) batch.Remove("mp_deviceid");
        }
        return batch;
    }
}
