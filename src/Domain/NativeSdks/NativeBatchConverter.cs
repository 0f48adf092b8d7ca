using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EventProfiles.Domain.NativeSdks;

/// <summary>Which SDK wrote a batch; decides only the readings the two disagree on (native-sdks.md §3, §11).</summary>
public enum NativePlatform { Android, IOS }

/// <summary>Something in an upload we could not take as sent: kept, truncated or set aside, and said where.</summary>
public sealed record NativeIssue(string Field, string Problem);

/// <summary>
/// The Events API batch (events-api.md §5) a native upload stands for, the upload's own identifiers, and what had to be
/// changed on the way. <see cref="Batch"/> is JSON so it enters the pipeline exactly as an Events API body does.
/// </summary>
public sealed record NativeConversion(JsonObject Batch, long? Mpid, string? BatchId, string? DeviceStamp, NativePlatform Platform, IReadOnlyList<NativeIssue> Issues);

/// <summary>
/// Pure conversion of an iOS/Android upload (abbreviated keys, <c>"dt":"h"</c>) into the Events API batch model
/// (native-sdks.md §11). Both platforms' spellings are read (mpid string or number, commerce values as strings or
/// numbers, booleans as strings, tag <c>null</c> or <c>"null"</c>). Nothing is silently dropped: every key we do not
/// map is kept verbatim under <c>native</c> (on the batch and on each event), and every value that breaks one of the
/// Events API's limits is truncated or set aside there and reported as a <see cref="NativeIssue"/>. The SDKs delete a
/// batch on any 4xx (§8.1), so a data problem must never become a refusal.
/// </summary>
public static class NativeBatchConverter
{
    public const int MaxNameLength = 256;
    public const int MaxValueLength = 4096;
    public const int MaxListEntries = 1000;
    public const int MaxListEntryLength = 512;
    public const int MaxUserAttributes = 100;
    public const int MaxEventAttributes = 100;
    public const int MaxIdLength = 256;
    public const int MaxIdentityLength = 4096;
    private const long MaxTimestampMs = 253_402_300_799_999;

    /// <summary>Message <c>dt</c> → Events API <c>event_type</c> (§5).</summary>
    public static readonly IReadOnlyDictionary<string, string> MessageTypes = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["ss"] = "session_start", ["se"] = "session_end", ["e"] = "custom_event", ["v"] = "screen_view", ["cm"] = "commerce_event",
        ["ast"] = "application_state_transition", ["fr"] = "first_run", ["o"] = "opt_out", ["x"] = "crash_report", ["bc"] = "breadcrumb",
        ["pr"] = "push_registration", ["pm"] = "push_message", ["npe"] = "network_performance", ["uac"] = "user_attribute_change",
        ["uic"] = "user_identity_change", ["pro"] = "profile", ["pre"] = "push_reaction", ["unknown"] = "unknown", ["pa"] = "pre_attribution",
    };

    /// <summary>Identity type numbers 0–21 (§6.2) → <c>user_identities</c> keys.</summary>
    private static readonly string[] IdentityNames =
    [
        "other", "customer_id", "facebook", "twitter", "google", "microsoft", "yahoo", "email", "alias", "facebook_custom_audience_id",
        "other_id_2", "other_id_3", "other_id_4", "other_id_5", "other_id_6", "other_id_7", "other_id_8", "other_id_9", "other_id_10",
        "mobile_number", "phone_number_2", "phone_number_3",
    ];

    private static readonly string[] EventTypeNames =
        ["Unknown", "Navigation", "Location", "Search", "Transaction", "UserContent", "UserPreference", "Social", "Other", "Media"];
    private static readonly string[] EventTypeWire =
        ["unknown", "navigation", "location", "search", "transaction", "user_content", "user_preference", "social", "other", "media"];

    private static readonly Dictionary<string, string> Transitions = new(StringComparer.Ordinal)
    {
        ["app_init"] = "application_initialized", ["app_fore"] = "application_foreground",
        ["app_back"] = "application_background", ["app_exit"] = "application_exit",
    };

    private static readonly HashSet<string> ProductActions = new(StringComparer.Ordinal)
    {
        "add_to_cart", "remove_from_cart", "add_to_wishlist", "remove_from_wishlist", "checkout", "checkout_option", "click",
        "view_detail", "purchase", "refund",
    };

    /// <param name="root">The parsed upload (a JSON object).</param>
    /// <param name="platform">The input's platform; a batch that says otherwise (<c>di.dp</c>) is read as what it says.</param>
    public static NativeConversion Convert(JsonElement root, NativePlatform platform)
    {
        var issues = new List<NativeIssue>();
        var batch = new JsonObject();
        var native = new JsonObject();
        if (root.ValueKind != JsonValueKind.Object)
        {
            issues.Add(new("", "the upload is not a JSON object."));
            native["body"] = JsonNode.Parse(root.GetRawText());
            batch["native"] = native;
            return new(batch, null, null, null, platform, issues);
        }

        if (Get(root, "di") is { ValueKind: JsonValueKind.Object } diForPlatform && Str(Get(diForPlatform, "dp")) is { } dp)
            platform = dp is "iOS" or "tvOS" ? NativePlatform.IOS : dp is "Android" or "FireTV" ? NativePlatform.Android : platform;

        var consumed = new HashSet<string>(StringComparer.Ordinal) { "dt", "msgs" };

        var mpid = Int64(Get(root, "mpid"));
        if (mpid is not null) { batch["mpid"] = mpid; consumed.Add("mpid"); }
        else if (Get(root, "mpid") is not null) issues.Add(new("mpid", "is not a 64-bit integer; the batch is resolved by its identities."));

        var das = Str(Get(root, "das"));
        if (das is { Length: > 0 } && das.Length <= MaxIdentityLength) { batch["mp_deviceid"] = das; consumed.Add("das"); }

        var batchId = Str(Get(root, "id"));
        if (batchId is { Length: > 0 and <= MaxIdLength }) { batch["source_request_id"] = batchId; consumed.Add("id"); }
        else if (batchId is not null) issues.Add(new("id", $"is not a batch id of 1–{MaxIdLength} characters; the batch is not deduplicated."));

        batch["environment"] = Environment(root);
        batch["source_info"] = new JsonObject { ["channel"] = "native", ["sdk_version"] = Str(Get(root, "sdk")) };

        if (Get(root, "ui") is { ValueKind: JsonValueKind.Array } ui)
        {
            var identities = new JsonObject();
            var index = 0;
            foreach (var entry in ui.EnumerateArray())
            {
                var field = $"ui[{index++}]";
                var type = Int64(Get(entry, "n"));
                var value = Str(Get(entry, "i"));
                if (type is null || type < 0 || type >= IdentityNames.Length || value is null)
                    issues.Add(new(field, "is not an identity of type 0–21 with a string value; kept under native.ui."));
                else if (value.Length == 0 || value.Length > MaxIdentityLength)
                    issues.Add(new(field, $"the identity must be 1–{MaxIdentityLength} characters; kept under native.ui."));
                else identities[IdentityNames[type.Value]] = value;
            }
            if (identities.Count > 0) batch["user_identities"] = identities;
            // ui stays under native as well: dfs/f (first seen, created this batch) have no place in user_identities.
        }

        if (Get(root, "ua") is { ValueKind: JsonValueKind.Object } ua)
        {
            consumed.Add("ua");
            var tags = TaggedNames(root);
            var attributes = new JsonObject();
            var overflow = new JsonObject();
            foreach (var property in ua.EnumerateObject())
            {
                var name = Truncated(property.Name, MaxNameLength, $"ua.{property.Name}", "name", issues);
                if (name.Length == 0) { overflow[property.Name] = Clone(property.Value); issues.Add(new("ua", "an attribute name is empty; kept under native.ua.")); continue; }
                if (attributes.Count >= MaxUserAttributes)
                {
                    overflow[property.Name] = Clone(property.Value);
                    continue;
                }
                // Android writes a valueless tag as the text "null"; only a uac that set it to null tells the two apart.
                if (property.Value.ValueKind == JsonValueKind.String && property.Value.GetString() == "null" &&
                    platform == NativePlatform.Android && tags.Contains(property.Name))
                {
                    attributes[name] = null;
                    continue;
                }
                if (AttributeValue(property.Value, $"ua.{name}", issues) is var (ok, value) && ok) attributes[name] = value;
                else overflow[property.Name] = Clone(property.Value);
            }
            if (overflow.Count > 0)
            {
                native["ua"] = overflow;
                if (attributes.Count >= MaxUserAttributes) issues.Add(new("ua", $"more than {MaxUserAttributes} attributes; the rest are kept under native.ua."));
            }
            batch["user_attributes"] = attributes;
        }

        if (Get(root, "uad") is { ValueKind: JsonValueKind.Array } uad)
        {
            consumed.Add("uad");
            var deleted = new JsonArray();
            foreach (var name in uad.EnumerateArray())
                if (Str(name) is { Length: > 0 } n) deleted.Add(Truncated(n, MaxNameLength, "uad", "name", issues));
            batch["deleted_user_attributes"] = deleted;
        }

        if (Get(root, "ai") is { ValueKind: JsonValueKind.Object } ai) { consumed.Add("ai"); batch["application_info"] = ApplicationInfo(ai, Get(root, "di")); }
        if (Get(root, "di") is { ValueKind: JsonValueKind.Object } di) { consumed.Add("di"); batch["device_info"] = DeviceInfo(di, issues); }
        if (Get(root, "con") is { ValueKind: JsonValueKind.Object } con)
        {
            consumed.Add("con");
            if (Consent(con, issues, native) is { } consent) batch["consent_state"] = consent;
        }
        if (Get(root, "ctx") is { ValueKind: JsonValueKind.Object } ctx && Get(ctx, "dpln") is { ValueKind: JsonValueKind.Object } plan)
        {
            consumed.Add("ctx");
            batch["context"] = new JsonObject
            {
                ["data_plan"] = new JsonObject { ["plan_id"] = Clone(Get(plan, "id")), ["plan_version"] = Clone(Get(plan, "v")) },
            };
        }
        if (Get(root, "ia") is { ValueKind: JsonValueKind.Object } ia) { consumed.Add("ia"); batch["integration_attributes"] = Clone(ia); }

        var events = new JsonArray();
        if (Get(root, "msgs") is { ValueKind: JsonValueKind.Array } msgs)
        {
            var index = 0;
            foreach (var message in msgs.EnumerateArray())
                events.Add(Message(message, $"msgs[{index++}]", platform, issues));
        }
        else if (Get(root, "msgs") is { } notArray)
        {
            issues.Add(new("msgs", "is not an array; kept under native.msgs."));
            native["msgs"] = Clone(notArray);
        }
        batch["events"] = events;

        foreach (var property in root.EnumerateObject())
            if (!consumed.Contains(property.Name)) native[property.Name] = Clone(property.Value);
        if (native.Count > 0) batch["native"] = native;

        return new(batch, mpid, batchId is { Length: > 0 and <= MaxIdLength } ? batchId : null, das, platform, issues);
    }

    /// <summary>Android: <c>dbg</c> true → development; else <c>ai.env</c> 1/2; default production (§11).</summary>
    private static string Environment(JsonElement root)
    {
        if (Bool(Get(root, "dbg")) == true) return "development";
        var env = Get(root, "ai") is { ValueKind: JsonValueKind.Object } ai ? Int64(Get(ai, "env")) : null;
        return env == 1 ? "development" : "production";
    }

    /// <summary>Names a <c>uac</c> of this batch made a valueless tag (<c>nv: null</c>, not deleted).</summary>
    private static HashSet<string> TaggedNames(JsonElement root)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        if (Get(root, "msgs") is not { ValueKind: JsonValueKind.Array } msgs) return names;
        foreach (var m in msgs.EnumerateArray())
            if (Str(Get(m, "dt")) == "uac" && Str(Get(m, "n")) is { } n && Get(m, "nv") is null or { ValueKind: JsonValueKind.Null } && Bool(Get(m, "d")) != true)
                names.Add(n);
        return names;
    }

    private static JsonObject ApplicationInfo(JsonElement ai, JsonElement? di)
    {
        var result = new JsonObject();
        var map = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["an"] = "application_name", ["av"] = "application_version", ["abn"] = "application_build_number", ["apn"] = "package",
            ["ir"] = "install_referrer", ["sideloaded_kits_count"] = "sideloaded_kits_count", ["asaa"] = "apple_search_ads_attributes",
        };
        foreach (var property in ai.EnumerateObject())
            result[map.GetValueOrDefault(property.Name, property.Name)] = Clone(property.Value);
        if (di is { ValueKind: JsonValueKind.Object } d && Str(Get(d, "dp")) is { } dp)
            result["os"] = dp switch { "Android" => "Android", "FireTV" => "FireTV", "iOS" => "IOS", "tvOS" => "TVOS", _ => "Unknown" };
        return result;
    }

    private static readonly Dictionary<string, string> DeviceKeys = new(StringComparer.Ordinal)
    {
        ["b"] = "brand", ["p"] = "product", ["dn"] = "device", ["dma"] = "device_manufacturer", ["dmdl"] = "device_model",
        ["dosv"] = "os_version", ["vr"] = "build_version_release", ["bid"] = "build_identifier", ["dpi"] = "screen_dpi",
        ["dc"] = "device_country", ["dlc"] = "locale_country", ["dll"] = "locale_language", ["idst"] = "is_dst", ["it"] = "is_tablet",
        ["nca"] = "network_carrier", ["nc"] = "network_country", ["mcc"] = "network_mobile_country_code", ["mnc"] = "network_code",
        ["dst"] = "supports_telephony", ["dsnfc"] = "has_nfc", ["dbe"] = "bluetooth_enabled", ["dbv"] = "bluetooth_version",
        ["arc"] = "cpu_architecture", ["lat"] = "limit_ad_tracking", ["gaid"] = "android_advertising_id", ["faid"] = "fire_advertising_id",
        ["anid"] = "android_uuid", ["aid"] = "ios_advertising_id", ["vid"] = "ios_idfv", ["atts"] = "att_authorization_status",
        ["attt"] = "att_timestamp_unixtime_ms", ["to"] = "push_token",
    };

    private static readonly HashSet<string> AttStatuses = new(StringComparer.Ordinal) { "authorized", "denied", "not_determined", "restricted" };

    private static JsonObject DeviceInfo(JsonElement di, List<NativeIssue> issues)
    {
        var result = new JsonObject();
        foreach (var property in di.EnumerateObject())
        {
            var value = property.Value;
            switch (property.Name)
            {
                case "dp":
                    var platform = Str(value) switch { "Android" => "Android", "FireTV" => "fire_tv", "iOS" => "iOS", "tvOS" => "tvOS", _ => null };
                    if (platform is not null) result["platform"] = platform;
                    result["dp"] = Clone(value);
                    break;
                case "dsh" or "dsw":
                    result[property.Name == "dsh" ? "screen_height" : "screen_width"] = Int64(value) is { } px ? px : Clone(value);
                    break;
                case "tz":
                    // Android: whole hours as a number; iOS: "+2"/"-4" as text.
                    if (Decimal(value) is { } tz) result["timezone_offset"] = tz; else result["tz"] = Clone(value);
                    break;
                case "duid" when !di.TryGetProperty("anid", out _):
                    result["android_uuid"] = Clone(value);
                    break;
                case "atts" when Str(value) is not { } s || !AttStatuses.Contains(s):
                    issues.Add(new("di.atts", "is not an ATT status; kept as di.atts."));
                    result["atts"] = Clone(value);
                    break;
                case "attt" when Int64(value) is not (>= 0 and <= MaxTimestampMs):
                    result["attt"] = Clone(value);
                    break;
                case "lat" when Bool(value) is { } lat:
                    result["limit_ad_tracking"] = lat;
                    break;
                case "gaid" or "faid" or "anid" or "aid" or "vid" or "to" when Str(value) is not { Length: > 0 and <= MaxIdentityLength }:
                    result[property.Name] = Clone(value); // not an identity we could match on: kept as sent
                    break;
                default:
                    result[DeviceKeys.GetValueOrDefault(property.Name, property.Name)] = Clone(value);
                    break;
            }
        }
        return result;
    }

    /// <summary><c>con</c> (§7.5) → <c>consent_state</c>; what the Events API would refuse is kept under <c>native.con</c>.</summary>
    private static JsonObject? Consent(JsonElement con, List<NativeIssue> issues, JsonObject native)
    {
        var result = new JsonObject();
        var rejected = new JsonObject();
        foreach (var regulation in con.EnumerateObject())
        {
            if (regulation.Name is not ("gdpr" or "ccpa") || regulation.Value.ValueKind != JsonValueKind.Object)
            {
                rejected[regulation.Name] = Clone(regulation.Value);
                issues.Add(new($"con.{regulation.Name}", "is not a known consent regulation; kept under native.con."));
                continue;
            }
            var purposes = new JsonObject();
            var rejectedPurposes = new JsonObject();
            foreach (var purpose in regulation.Value.EnumerateObject())
            {
                var field = $"con.{regulation.Name}.{purpose.Name}";
                var consented = Bool(Get(purpose.Value, "c"));
                if (purpose.Name.Trim().Length == 0 || (regulation.Name == "ccpa" && purpose.Name != "data_sale_opt_out") || consented is null)
                {
                    rejectedPurposes[purpose.Name] = Clone(purpose.Value);
                    issues.Add(new(field, consented is null ? "has no consented value (c); kept under native.con." : "is not a purpose we accept; kept under native.con."));
                    continue;
                }
                var record = new JsonObject { ["consented"] = consented };
                if (Int64(Get(purpose.Value, "ts")) is >= 0 and <= MaxTimestampMs and var ts) record["timestamp_unixtime_ms"] = ts;
                if (Str(Get(purpose.Value, "d")) is { } d) record["document"] = d;
                if (Str(Get(purpose.Value, "l")) is { } l) record["location"] = l;
                if (Str(Get(purpose.Value, "h")) is { } h) record["hardware_id"] = h;
                purposes[purpose.Name] = record;
            }
            // An empty gdpr map is "no GDPR state" (Android always sends it), never "withdraw everything".
            if (purposes.Count > 0) result[regulation.Name] = purposes;
            if (rejectedPurposes.Count > 0) rejected[regulation.Name] = rejectedPurposes;
        }
        if (rejected.Count > 0) native["con"] = rejected;
        return result.Count > 0 ? result : null;
    }

    private static JsonObject Message(JsonElement message, string path, NativePlatform platform, List<NativeIssue> issues)
    {
        if (message.ValueKind != JsonValueKind.Object)
        {
            issues.Add(new(path, "is not a JSON object; stored as an unknown event."));
            return new JsonObject { ["event_type"] = "unknown", ["data"] = new JsonObject { ["native"] = new JsonObject { ["message"] = Clone(message) } } };
        }
        var dt = Str(Get(message, "dt")) ?? "";
        var data = new JsonObject();
        var eventType = MessageTypes.GetValueOrDefault(dt);
        // An unknown dt stays under native with the rest of the message.
        var consumed = new HashSet<string>(StringComparer.Ordinal);
        if (eventType is not null) consumed.Add("dt");
        if (eventType is null) issues.Add(new($"{path}.dt", $"\"{dt}\" is not a message type; stored as an unknown event."));

        void Map(string key, string to, Func<JsonElement, JsonNode?>? convert = null)
        {
            if (Get(message, key) is not { } value) return;
            var converted = convert is null ? Clone(value) : convert(value);
            if (converted is null && value.ValueKind != JsonValueKind.Null) return; // not convertible: stays under native
            data[to] = converted;
            consumed.Add(key);
        }
        JsonNode? Timestamp(JsonElement v) => Int64(v) is >= 0 and <= MaxTimestampMs and var t ? JsonValue.Create(t) : null;
        JsonNode? Text(JsonElement v) => Str(v) is { } s ? JsonValue.Create(s) : null;
        JsonNode? Flag(JsonElement v) => Bool(v) is { } b ? JsonValue.Create(b) : null;
        JsonNode? Name(JsonElement v) => Str(v) is { } s ? JsonValue.Create(Truncated(s, MaxNameLength, $"{path}.n", "name", issues)) : null;

        Map("id", "source_message_id", v => Str(v) is { Length: > 0 and <= MaxIdLength } s ? JsonValue.Create(s) : null);
        Map("ct", "timestamp_unixtime_ms", Timestamp);
        if (dt == "ss")
        {
            if (Str(Get(message, "id")) is { Length: > 0 and <= MaxIdLength } sessionId) data["session_uuid"] = sessionId;
            if (Int64(Get(message, "ct")) is >= 0 and <= MaxTimestampMs and var start) data["session_start_unixtime_ms"] = start;
        }
        else
        {
            if (Str(Get(message, "sid")) is { Length: > 0 and <= MaxIdLength } sid && sid != "NO-SESSION") { data["session_uuid"] = sid; consumed.Add("sid"); }
            Map("sct", "session_start_unixtime_ms", Timestamp);
        }
        Map("est", "event_start_unixtime_ms", Timestamp);
        Map("en", "event_num");
        Map("lc", "location", v => v.ValueKind == JsonValueKind.Object
            ? new JsonObject { ["latitude"] = Clone(Get(v, "lat")), ["longitude"] = Clone(Get(v, "lng")), ["accuracy"] = Clone(Get(v, "acc")) }
            : null);
        Map("cs", "device_current_state", v => v.ValueKind == JsonValueKind.Object ? DeviceState(v) : null);
        Map("vc", "view_controller");
        Map("mt", "is_main_thread", Flag);
        Map("flags", "custom_flags", v => v.ValueKind == JsonValueKind.Object ? Clone(v) : null);
        if (Get(message, "attrs") is { ValueKind: JsonValueKind.Object } attrs)
        {
            consumed.Add("attrs");
            var (kept, setAside) = EventAttributes(attrs, $"{path}.attrs", issues);
            data["custom_attributes"] = kept;
            if (setAside.Count > 0) data["native_attrs"] = setAside;
        }

        switch (dt)
        {
            case "e":
                Map("n", "event_name", Name);
                Map("et", "custom_event_type", v => EventType(v) is { } t ? JsonValue.Create(t) : null);
                if (data["custom_event_type"] is null && Get(message, "et") is not null) issues.Add(new($"{path}.et", "is not an event type; kept under native.et."));
                break;
            case "v":
                Map("n", "screen_name", Name);
                Map("t", "activity_type");
                break;
            case "cm":
                eventType = Commerce(message, data, consumed, path, issues) ?? "unknown";
                break;
            case "se":
                if (Int64(Get(message, "sl")) is { } sl) { data["session_duration_ms"] = sl; consumed.Add("sl"); }
                else if (Int64(Get(message, "slx")) is { } slx) { data["session_duration_ms"] = slx; consumed.Add("slx"); }
                break;
            case "ast":
                if (Str(Get(message, "t")) is { } t && Transitions.TryGetValue(t, out var transition)) { data["application_transition_type"] = transition; consumed.Add("t"); }
                else { issues.Add(new($"{path}.t", "is not an app state transition; stored as an unknown event."));eventType = "unknown"; }
                data["is_first_run"] = Bool(Get(message, "ifr")) ?? false; consumed.Add("ifr");
                data["is_upgrade"] = Bool(Get(message, "iu")) ?? false; consumed.Add("iu");
                Map("sc", "successfully_closed", Flag);
                Map("lr", "launch_referral");
                break;
            case "o":
                Map("s", "is_opted_out", Flag);
                break;
            case "x":
                Map("m", "message"); Map("c", "class_name"); Map("s", "severity"); Map("st", "stack_trace");
                Map("eh", "exception_handled", Flag); Map("sn", "session_number"); Map("tc", "topmost_context");
                Map("plc", "pl_crash_report_file_base64"); Map("iba", "ios_image_base_address"); Map("is", "ios_image_size");
                if (Get(message, "bc") is { ValueKind: JsonValueKind.Array } crumbs)
                {
                    var labels = new JsonArray();
                    foreach (var crumb in crumbs.EnumerateArray())
                        labels.Add(Str(Get(crumb, "l")) is { } l ? JsonValue.Create(l) : Clone(crumb));
                    data["breadcrumbs"] = labels;
                    // the whole breadcrumb messages stay under native (their times and session numbers)
                }
                break;
            case "bc":
                Map("l", "label", Text);
                Map("sn", "session_number");
                if (data["label"] is null || Str(Get(message, "l")) is not { Length: > 0 }) { issues.Add(new($"{path}.l", "a breadcrumb needs a label; stored as an unknown event.")); eventType = "unknown"; }
                break;
            case "pr":
                Map("to", "registration_token", Text);
                Map("r", "register", Flag);
                if (Str(Get(message, "to")) is not { Length: > 0 }) { issues.Add(new($"{path}.to", "a push registration needs a token; stored as an unknown event.")); eventType = "unknown"; }
                break;
            case "pm":
                Map("t", "push_message_type"); Map("pay", "push_notification_payload"); Map("to", "push_message_token");
                Map("as", "application_state"); Map("n", "network"); Map("aid", "action_identifier"); Map("bhv", "push_message_behavior");
                break;
            case "npe":
                Map("url", "url"); Map("v", "http_verb"); Map("te", "time_elapsed"); Map("bi", "bytes_in"); Map("bo", "bytes_out");
                Map("rc", "response_code"); Map("d", "data");
                break;
            case "uac":
                if (Str(Get(message, "n")) is not { Length: > 0 } attribute)
                {
                    issues.Add(new($"{path}.n", "a user attribute change needs a name; stored as an unknown event."));
                    eventType = "unknown";
                    break;
                }
                data["user_attribute_name"] = Truncated(attribute, MaxNameLength, $"{path}.n", "name", issues);
                consumed.Add("n");
                if (Get(message, "nv") is { } nv)
                {
                    if (AttributeValue(nv, $"{path}.nv", issues) is var (ok, value) && ok) { data["new"] = value; consumed.Add("nv"); }
                    else { issues.Add(new($"{path}.nv", "is not an attribute value; the change is stored as an unknown event.")); eventType = "unknown"; }
                }
                else data["new"] = null;
                // An old numeric value (iOS keeps the stored NSNumber) is text in the Events API.
                Map("ov", "old", v => v.ValueKind == JsonValueKind.Number ? JsonValue.Create(v.GetRawText()) : Clone(v));
                Map("d", "deleted", Flag);
                Map("na", "is_new_attribute", Flag);
                break;
            case "uic":
                Map("ni", "new", Identity);
                Map("oi", "old", Identity);
                break;
            case "pro":
                Map("t", "profile_event_type");
                break;
        }

        var rest = new JsonObject();
        foreach (var property in message.EnumerateObject())
            if (!consumed.Contains(property.Name)) rest[property.Name] = Clone(property.Value);
        if (rest.Count > 0) data["native"] = rest;
        return new JsonObject { ["event_type"] = eventType ?? "unknown", ["data"] = data };
    }

    private static JsonNode? Identity(JsonElement identity)
    {
        if (identity.ValueKind == JsonValueKind.Null) return null;
        if (identity.ValueKind != JsonValueKind.Object) return Clone(identity);
        var type = Int64(Get(identity, "n"));
        var result = new JsonObject
        {
            ["identity_type"] = type is >= 0 and < 22 ? IdentityNames[type.Value] : Clone(Get(identity, "n")),
            ["identity"] = Clone(Get(identity, "i")),
        };
        if (Int64(Get(identity, "dfs")) is { } dfs) result["timestamp_unixtime_ms"] = dfs;
        if (Bool(Get(identity, "f")) is { } f) result["created_this_batch"] = f;
        return result;
    }

    private static readonly Dictionary<string, string> StateKeys = new(StringComparer.Ordinal)
    {
        ["fds"] = "disk_space_free_bytes", ["efds"] = "external_disk_space_free_bytes", ["amt"] = "application_memory_total_bytes",
        ["ama"] = "application_memory_available_bytes", ["amm"] = "application_memory_max_bytes", ["sma"] = "system_memory_available_bytes",
        ["tsm"] = "total_system_memory_usage_bytes", ["bl"] = "battery_level", ["tss"] = "time_since_start_ms", ["gps"] = "gps_state",
        ["dct"] = "data_connection_type", ["so"] = "device_orientation", ["sbo"] = "status_bar_orientation", ["sml"] = "system_memory_low",
        ["smt"] = "system_memory_threshold_bytes", ["ant"] = "data_connection_type_detail",
    };

    private static JsonObject DeviceState(JsonElement cs)
    {
        var result = new JsonObject();
        foreach (var property in cs.EnumerateObject())
            result[StateKeys.GetValueOrDefault(property.Name, property.Name)] = Clone(property.Value);
        return result;
    }

    /// <summary><c>cm</c> (§7.6): product action, promotion action, impressions; the <c>custom_event_type</c> from the action.</summary>
    private static string? Commerce(JsonElement message, JsonObject data, HashSet<string> consumed, string path, List<NativeIssue> issues)
    {
        string? eventType = null;
        if (Get(message, "pd") is { ValueKind: JsonValueKind.Object } pd)
        {
            consumed.Add("pd");
            var action = Str(Get(pd, "an"));
            var known = action is not null && ProductActions.Contains(action);
            if (!known) issues.Add(new($"{path}.pd.an", $"\"{action}\" is not a product action; stored as \"unknown\" with the action under native."));
            var wire = known ? action == "remove_from_wishlist" ? "remove_from_wish_list" : action! : "unknown";
            var productAction = new JsonObject { ["action"] = wire };
            foreach (var property in pd.EnumerateObject())
            {
                switch (property.Name)
                {
                    case "an": if (!known) productAction["native_action"] = Clone(property.Value); break;
                    case "cs": productAction["checkout_step"] = Int64(property.Value) is { } step ? step : Clone(property.Value); break;
                    case "co": productAction["checkout_options"] = Clone(property.Value); break;
                    case "pal": productAction["product_action_list"] = Clone(property.Value); break;
                    case "pls": productAction["product_list_source"] = Clone(property.Value); break;
                    case "ti": productAction["transaction_id"] = Clone(property.Value); break;
                    case "ta": productAction["affiliation"] = Clone(property.Value); break;
                    case "tr": productAction["total_amount"] = Amount(property.Value); break;
                    case "tt": productAction["tax_amount"] = Amount(property.Value); break;
                    case "ts": productAction["shipping_amount"] = Amount(property.Value); break;
                    case "tcc": productAction["coupon_code"] = Clone(property.Value); break;
                    case "pl": productAction["products"] = Products(property.Value); break;
                    default: productAction[property.Name] = Clone(property.Value); break;
                }
            }
            data["product_action"] = productAction;
            eventType = "commerce_event";
            data["custom_event_type"] = wire;
        }
        if (Get(message, "pm") is { ValueKind: JsonValueKind.Object } pm)
        {
            consumed.Add("pm");
            var promotions = new JsonArray();
            if (Get(pm, "pl") is { ValueKind: JsonValueKind.Array } list)
                foreach (var promotion in list.EnumerateArray())
                    promotions.Add(Renamed(promotion, new() { ["nm"] = "name", ["cr"] = "creative", ["ps"] = "position" }));
            var action = Str(Get(pm, "an"));
            data["promotion_action"] = new JsonObject { ["action"] = action, ["promotions"] = promotions };
            eventType = "commerce_event";
            data["custom_event_type"] ??= action is "view" or "click" ? $"promotion_{action}" : "unknown";
        }
        if (Get(message, "pi") is { ValueKind: JsonValueKind.Array } pi)
        {
            consumed.Add("pi");
            var impressions = new JsonArray();
            foreach (var impression in pi.EnumerateArray())
                impressions.Add(new JsonObject
                {
                    ["product_impression_list"] = Clone(Get(impression, "pil")),
                    ["products"] = Products(Get(impression, "pl") ?? default),
                });
            data["product_impressions"] = impressions;
            eventType = "commerce_event";
            data["custom_event_type"] ??= "product_impression";
        }
        if (eventType is null) issues.Add(new(path, "a commerce message needs pd, pm or pi; stored as an unknown event."));
        if (Get(message, "sn") is { } sn) { data["screen_name"] = Clone(sn); consumed.Add("sn"); }
        if (Bool(Get(message, "ni")) is { } ni) { data["is_non_interactive"] = ni; consumed.Add("ni"); }
        if (Str(Get(message, "cu")) is { } cu) { data["currency_code"] = cu; consumed.Add("cu"); }
        return eventType;
    }

    private static JsonArray Products(JsonElement list)
    {
        var result = new JsonArray();
        if (list.ValueKind != JsonValueKind.Array) return result;
        foreach (var product in list.EnumerateArray())
        {
            if (product.ValueKind != JsonValueKind.Object) { result.Add(Clone(product)); continue; }
            var p = new JsonObject();
            foreach (var property in product.EnumerateObject())
            {
                var value = property.Value;
                switch (property.Name)
                {
                    case "id": p["id"] = Clone(value); break;
                    case "nm": p["name"] = Clone(value); break;
                    case "br": p["brand"] = Clone(value); break;
                    case "ca": p["category"] = Clone(value); break;
                    case "va": p["variant"] = Clone(value); break;
                    case "cc": p["coupon_code"] = Clone(value); break;
                    case "ps": p["position"] = Int64(value) is { } ps ? ps : Clone(value); break;
                    case "pr": p["price"] = Amount(value); break;
                    case "qt": p["quantity"] = Amount(value); break;
                    case "tpa": p["total_product_amount"] = Amount(value); break;
                    case "act": p["added_to_cart_time_ms"] = Int64(value) is { } act ? act : Clone(value); break;
                    case "attrs": p["custom_attributes"] = Clone(value); break;
                    default: p[property.Name] = Clone(value); break;
                }
            }
            result.Add(p);
        }
        return result;
    }

    /// <summary>An amount from a number (Android) or its text (iOS), as a decimal; anything else as sent.</summary>
    private static JsonNode? Amount(JsonElement value) => Decimal(value) is { } d ? JsonValue.Create(d) : Clone(value);

    private static JsonObject Renamed(JsonElement value, Dictionary<string, string> names)
    {
        var result = new JsonObject();
        if (value.ValueKind != JsonValueKind.Object) return result;
        foreach (var property in value.EnumerateObject())
            result[names.GetValueOrDefault(property.Name, property.Name)] = Clone(property.Value);
        return result;
    }

    private static string? EventType(JsonElement et)
    {
        if (Str(et) is { } name)
        {
            var i = Array.IndexOf(EventTypeNames, name);
            return i >= 0 ? EventTypeWire[i] : null;
        }
        return Int64(et) is >= 0 and < 10 and var n ? EventTypeWire[n] : null;
    }

    /// <summary>Event attributes within the Events API's limits; the rest (objects, the 101st…) set aside and reported.</summary>
    private static (JsonObject Kept, JsonObject SetAside) EventAttributes(JsonElement attrs, string path, List<NativeIssue> issues)
    {
        var kept = new JsonObject();
        var setAside = new JsonObject();
        foreach (var property in attrs.EnumerateObject())
        {
            var value = property.Value;
            if (kept.Count >= MaxEventAttributes || value.ValueKind is JsonValueKind.Object or JsonValueKind.Array || property.Name.Length == 0)
            {
                setAside[property.Name] = Clone(value);
                issues.Add(new($"{path}.{property.Name}", kept.Count >= MaxEventAttributes
                    ? $"more than {MaxEventAttributes} attributes; kept under native_attrs." : "not a scalar attribute; kept under native_attrs."));
                continue;
            }
            var name = Truncated(property.Name, MaxNameLength, $"{path}.{property.Name}", "name", issues);
            kept[name] = value.ValueKind == JsonValueKind.String
                ? Truncated(value.GetString()!, MaxValueLength, $"{path}.{name}", "value", issues)
                : Clone(value);
        }
        return (kept, setAside);
    }

    /// <summary>A user attribute value the Events API takes (string, number, bool, null, list of strings), truncated to its limits.</summary>
    private static (bool Ok, JsonNode? Value) AttributeValue(JsonElement value, string path, List<NativeIssue> issues)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                return (true, Truncated(value.GetString()!, MaxValueLength, path, "value", issues));
            case JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False:
                return (true, Clone(value));
            case JsonValueKind.Null:
                return (true, null);
            case JsonValueKind.Array:
                var list = new JsonArray();
                foreach (var entry in value.EnumerateArray())
                {
                    if (list.Count >= MaxListEntries) { issues.Add(new(path, $"more than {MaxListEntries} entries; the rest were dropped from the attribute (the upload keeps them).")); break; }
                    list.Add(entry.ValueKind == JsonValueKind.String
                        ? Truncated(entry.GetString()!, MaxListEntryLength, path, "list entry", issues)
                        : entry.GetRawText());
                }
                return (true, list);
            default:
                issues.Add(new(path, "an attribute value may not be an object; kept under native."));
                return (false, null);
        }
    }

    private static string Truncated(string text, int max, string field, string what, List<NativeIssue> issues)
    {
        if (text.Length <= max) return text;
        issues.Add(new(field, $"the {what} is {text.Length} characters long; truncated to {max}."));
        // Never split a surrogate pair: the cut would be unstorable text.
        var cut = char.IsHighSurrogate(text[max - 1]) ? max - 1 : max;
        return text[..cut];
    }

    private static JsonElement? Get(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) ? value : null;

    private static string? Str(JsonElement? element) => element is { ValueKind: JsonValueKind.String } e ? e.GetString() : null;

    private static bool? Bool(JsonElement? element) => element switch
    {
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        { ValueKind: JsonValueKind.String } e when e.GetString() is "true" or "True" or "TRUE" => true,
        { ValueKind: JsonValueKind.String } e when e.GetString() is "false" or "False" or "FALSE" => false,
        _ => null,
    };

    private static long? Int64(JsonElement? element) => element switch
    {
        { ValueKind: JsonValueKind.Number } e when e.TryGetInt64(out var n) => n,
        // iOS consent times are doubles with a fraction: truncated to whole milliseconds.
        { ValueKind: JsonValueKind.Number } e when e.TryGetDouble(out var d) && d is >= long.MinValue and <= long.MaxValue && !double.IsNaN(d) => (long)Math.Truncate(d),
        { ValueKind: JsonValueKind.String } e when long.TryParse(e.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var s) => s,
        _ => null,
    };

    private static decimal? Decimal(JsonElement? element) => element switch
    {
        { ValueKind: JsonValueKind.Number } e when e.TryGetDecimal(out var d) => d,
        { ValueKind: JsonValueKind.String } e when decimal.TryParse(e.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) => s,
        _ => null,
    };

    private static JsonNode? Clone(JsonElement? element) => element is { } e ? JsonNode.Parse(e.GetRawText()) : null;
}
