using System.Text.Json;
using System.Text.Json.Serialization;

namespace EventProfiles.Domain.Ingestion;

/// <summary>
/// One mParticle batch (events-api.md §5) as it arrives: one user, their identities, attributes, consent,
/// device and events. Only the fields our logic reads are typed; every other field lands in
/// <see cref="Unmodelled"/> so nothing a client sends is lost.
/// </summary>
public sealed class Batch
{
    [JsonPropertyName("events")] public List<EventEnvelope?>? Events { get; init; }
    [JsonPropertyName("environment")] public string? Environment { get; init; }
    [JsonPropertyName("source_request_id")] public string? SourceRequestId { get; init; }
    [JsonPropertyName("mpid")] public MpidValue? Mpid { get; init; }
    [JsonPropertyName("mp_deviceid")] public string? MpDeviceId { get; init; }
    [JsonPropertyName("user_identities")] public Dictionary<string, IdentityValue?>? UserIdentities { get; init; }
    [JsonPropertyName("user_attributes")] public Dictionary<string, JsonElement>? UserAttributes { get; init; }
    [JsonPropertyName("deleted_user_attributes")] public List<string?>? DeletedUserAttributes { get; init; }
    [JsonPropertyName("device_info")] public DeviceInfo? DeviceInfo { get; init; }
    [JsonPropertyName("application_info")] public JsonElement? ApplicationInfo { get; init; }
    [JsonPropertyName("consent_state")] public ConsentState? ConsentState { get; init; }
    [JsonPropertyName("context")] public JsonElement? Context { get; init; }
    [JsonPropertyName("ip")] public string? Ip { get; init; }
    [JsonPropertyName("schema_version")] public JsonElement? SchemaVersion { get; init; }
    [JsonPropertyName("timestamp_unixtime_ms")] public JsonElement? TimestampUnixtimeMs { get; init; }

    [JsonExtensionData] public Dictionary<string, JsonElement>? Unmodelled { get; init; }
}

public sealed class EventEnvelope
{
    [JsonPropertyName("event_type")] public string? EventType { get; init; }
    [JsonPropertyName("data")] public EventData? Data { get; init; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Unmodelled { get; init; }
}

/// <summary>
/// The <c>data</c> of an event: the common fields (events-api.md §7) and the type-specific fields our logic
/// reads. The whole object is also kept verbatim on the captured event.
/// </summary>
public sealed class EventData
{
    [JsonPropertyName("timestamp_unixtime_ms")] public long? TimestampUnixtimeMs { get; init; }
    [JsonPropertyName("source_message_id")] public string? SourceMessageId { get; init; }
    [JsonPropertyName("session_uuid")] public string? SessionUuid { get; init; }
    [JsonPropertyName("session_start_unixtime_ms")] public long? SessionStartUnixtimeMs { get; init; }
    [JsonPropertyName("event_name")] public string? EventName { get; init; }
    [JsonPropertyName("custom_event_type")] public string? CustomEventType { get; init; }
    [JsonPropertyName("screen_name")] public string? ScreenName { get; init; }
    [JsonPropertyName("custom_attributes")] public Dictionary<string, JsonElement>? CustomAttributes { get; init; }
    [JsonPropertyName("custom_flags")] public Dictionary<string, JsonElement>? CustomFlags { get; init; }

    // opt_out
    [JsonPropertyName("is_opted_out")] public bool? IsOptedOut { get; init; }

    // user_attribute_change
    [JsonPropertyName("user_attribute_name")] public string? UserAttributeName { get; init; }
    [JsonPropertyName("new")] public JsonElement? New { get; init; }
    [JsonPropertyName("old")] public JsonElement? Old { get; init; }
    [JsonPropertyName("deleted")] public bool? Deleted { get; init; }
    [JsonPropertyName("is_new_attribute")] public bool? IsNewAttribute { get; init; }

    // commerce_event
    [JsonPropertyName("product_action")] public JsonElement? ProductAction { get; init; }
    [JsonPropertyName("promotion_action")] public JsonElement? PromotionAction { get; init; }
    [JsonPropertyName("product_impressions")] public JsonElement? ProductImpressions { get; init; }

    // application_state_transition
    [JsonPropertyName("application_transition_type")] public string? ApplicationTransitionType { get; init; }

    // push_registration, push_message
    [JsonPropertyName("register")] public bool? Register { get; init; }
    [JsonPropertyName("registration_token")] public string? RegistrationToken { get; init; }
    [JsonPropertyName("push_message_type")] public string? PushMessageType { get; init; }

    // breadcrumb
    [JsonPropertyName("label")] public string? Label { get; init; }

    // session_end
    [JsonPropertyName("session_duration_ms")] public long? SessionDurationMs { get; init; }

    [JsonExtensionData] public Dictionary<string, JsonElement>? Unmodelled { get; init; }
}

/// <summary><c>device_info</c> (events-api.md §10.3): the identity-bearing fields are typed, the rest kept.</summary>
public sealed class DeviceInfo
{
    [JsonPropertyName("ios_advertising_id")] public string? IosAdvertisingId { get; init; }
    [JsonPropertyName("ios_idfv")] public string? IosIdfv { get; init; }
    [JsonPropertyName("android_advertising_id")] public string? AndroidAdvertisingId { get; init; }
    [JsonPropertyName("android_uuid")] public string? AndroidUuid { get; init; }
    [JsonPropertyName("push_token")] public string? PushToken { get; init; }
    [JsonPropertyName("roku_advertising_id")] public string? RokuAdvertisingId { get; init; }
    [JsonPropertyName("roku_publisher_id")] public string? RokuPublisherId { get; init; }
    [JsonPropertyName("fire_advertising_id")] public string? FireAdvertisingId { get; init; }
    [JsonPropertyName("microsoft_advertising_id")] public string? MicrosoftAdvertisingId { get; init; }
    [JsonPropertyName("microsoft_publisher_id")] public string? MicrosoftPublisherId { get; init; }
    [JsonPropertyName("amp_id")] public string? AmpId { get; init; }
    [JsonPropertyName("platform")] public string? Platform { get; init; }
    [JsonPropertyName("limit_ad_tracking")] public bool? LimitAdTracking { get; init; }
    [JsonPropertyName("att_authorization_status")] public string? AttAuthorizationStatus { get; init; }
    [JsonPropertyName("att_timestamp_unixtime_ms")] public long? AttTimestampUnixtimeMs { get; init; }

    [JsonExtensionData] public Dictionary<string, JsonElement>? Unmodelled { get; init; }
}

/// <summary><c>consent_state</c> (consent.md §1): GDPR purpose map and the single CCPA purpose.</summary>
public sealed class ConsentState
{
    [JsonPropertyName("gdpr")] public Dictionary<string, ConsentRecordInput?>? Gdpr { get; init; }
    [JsonPropertyName("ccpa")] public Dictionary<string, ConsentRecordInput?>? Ccpa { get; init; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Unmodelled { get; init; }
}

public sealed class ConsentRecordInput
{
    [JsonPropertyName("consented")] public bool? Consented { get; init; }
    [JsonPropertyName("timestamp_unixtime_ms")] public long? TimestampUnixtimeMs { get; init; }
    [JsonPropertyName("document")] public string? Document { get; init; }
    [JsonPropertyName("location")] public string? Location { get; init; }
    [JsonPropertyName("hardware_id")] public string? HardwareId { get; init; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Unmodelled { get; init; }
}
