using System.Text.Json;
using System.Text.Json.Nodes;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Consent;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;

namespace EventProfiles.Commands.Profiles;

/// <summary>The Profile API's answer (profile-api.md §4) for one workspace, with only the requested sections.</summary>
public static class ProfileDocument
{
    public const string DeviceIdentities = "device_identities";
    public const string UserIdentities = "user_identities";
    public const string UserAttributes = "user_attributes";
    public const string AudienceMemberships = "audience_memberships";
    public const string Attribution = "attribution";
    /// <summary>EventProfiles extension: the workspace's consent state (not a documented mParticle field).</summary>
    public const string ConsentState = "consent_state";
    /// <summary>EventProfiles extension: the workspace's devices with their details.</summary>
    public const string Devices = "devices";

    public static readonly IReadOnlyList<string> AllFields =
        [DeviceIdentities, UserIdentities, UserAttributes, AudienceMemberships, Attribution, ConsentState, Devices];

    /// <param name="computed">Calculated attributes (shown as user attributes; one wins over a user attribute of the same name, §A7) and audience memberships.</param>
    public static JsonObject Build(Profile profile, int workspaceId, IReadOnlySet<string> fields, ComputedProfile? computed = null)
    {
        var ws = profile.Workspace(workspaceId);
        var json = new JsonObject
        {
            ["mpid"] = profile.Mpid,
            ["created_timestamp_ms"] = profile.CreatedAt.ToUnixTimeMilliseconds(),
            ["last_stored_timestamp_ms"] = profile.LastStoredAt.ToUnixTimeMilliseconds(),
            ["is_opted_out"] = profile.IsOptedOut,
            ["limit_ad_tracking"] = profile.LimitAdTracking,
        };
        if (fields.Contains(DeviceIdentities))
            json[DeviceIdentities] = IdentityArray(profile.Identities.Where(i => IsDevice(i.Type)), t => IdentityTypes.FromName(t)?.ProfileApiName ?? t);
        if (fields.Contains(UserIdentities))
            json[UserIdentities] = IdentityArray(profile.Identities.Where(i => !IsDevice(i.Type)), t => t);
        json["account_userattributes"] = null;
        if (fields.Contains(UserAttributes))
        {
            var attributes = new JsonObject();
            foreach (var (name, value) in ws.CurrentAttributes()) attributes[name] = AttributeValue(value);
            foreach (var (name, value) in computed?.CalculatedAttributes ?? new Dictionary<string, CalculatedValue>())
                attributes[name] = value.List is { } list ? new JsonArray(list.Select(v => (JsonNode?)v).ToArray()) : value.Text;
            json[UserAttributes] = attributes;
        }
        if (fields.Contains(AudienceMemberships))
            json[AudienceMemberships] = new JsonArray((computed?.Audiences ?? []).Select(a => (JsonNode?)new JsonObject
            {
                ["audience_id"] = a.AudienceId, ["audience_name"] = a.AudienceName, ["expiration_timestamp_ms"] = null,
            }).ToArray());
        if (fields.Contains(Attribution)) json[Attribution] = AttributionArray(ws);
        if (fields.Contains(ConsentState)) json[ConsentState] = Consent(ws);
        if (fields.Contains(Devices)) json[Devices] = DeviceArray(ws);
        return json;
    }

    /// <summary>Attribute values come back as strings (numbers as their text), lists as lists of strings, tags as null.</summary>
    private static JsonNode? AttributeValue(JsonElement? value) => value switch
    {
        null => null,
        { ValueKind: JsonValueKind.Null } => null,
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        { ValueKind: JsonValueKind.Array } v => new JsonArray(v.EnumerateArray().Select(e => (JsonNode?)JsonValue.Create(e.ValueKind == JsonValueKind.String ? e.GetString() : e.GetRawText())).ToArray()),
        { ValueKind: JsonValueKind.True } => "true",
        { ValueKind: JsonValueKind.False } => "false",
        { } v => v.GetRawText(),
    };

    private static JsonArray IdentityArray(IEnumerable<ProfileIdentity> identities, Func<string, string> typeName) =>
        new(identities.Select(i => (JsonNode?)new JsonObject
        {
            ["type"] = typeName(i.Type), ["encoding"] = "none", ["value"] = i.Value,
        }).ToArray());

    internal static JsonArray AttributionArray(WorkspaceProfile ws)
    {
        var attribution = new JsonArray();
        if (ws.InstallAttribution is { } a)
            attribution.Add(new JsonObject
            {
                ["type"] = "install", ["publisher"] = a.Publisher, ["campaign"] = a.Campaign, ["timestamp_ms"] = a.At.ToUnixTimeMilliseconds(),
            });
        return attribution;
    }

    internal static JsonObject Consent(WorkspaceProfile ws)
    {
        var gdpr = new JsonObject();
        foreach (var (purpose, record) in ws.Gdpr) gdpr[purpose] = Record(record);
        var ccpa = new JsonObject();
        if (ws.Ccpa is { } c) ccpa[Regulations.CcpaPurpose] = Record(c);
        return new JsonObject { ["gdpr"] = gdpr, ["ccpa"] = ccpa };

        static JsonObject Record(ConsentRecord r) => new()
        {
            ["consented"] = r.Consented,
            ["timestamp_unixtime_ms"] = r.At.ToUnixTimeMilliseconds(),
            ["document"] = r.Document,
            ["location"] = r.Location,
            ["hardware_id"] = r.HardwareId,
        };
    }

    internal static JsonArray DeviceArray(WorkspaceProfile ws) =>
        new(ws.Devices.Values.Select(d => (JsonNode?)new JsonObject
        {
            ["device_application_stamp"] = d.DeviceApplicationStamp,
            ["platform"] = d.Platform,
            ["first_seen_timestamp_ms"] = d.FirstSeenAt.ToUnixTimeMilliseconds(),
            ["last_seen_timestamp_ms"] = d.LastSeenAt.ToUnixTimeMilliseconds(),
            ["identities"] = new JsonArray(d.Identities.Select(i => (JsonNode?)new JsonObject
            {
                ["type"] = IdentityTypes.FromName(i.Key)?.ProfileApiName ?? i.Key, ["encoding"] = "none", ["value"] = i.Value,
            }).ToArray()),
            ["att_authorization_status"] = d.AttAuthorizationStatus,
            ["att_timestamp_ms"] = d.AttStatusAt?.ToUnixTimeMilliseconds(),
            ["install_attribution"] = d.InstallAttribution is { } a
                ? new JsonObject { ["publisher"] = a.Publisher, ["campaign"] = a.Campaign, ["timestamp_ms"] = a.At.ToUnixTimeMilliseconds() }
                : null,
            ["device_info"] = d.DeviceInfo is { } info ? JsonNode.Parse(info.GetRawText()) : null,
        }).ToArray());

    private static bool IsDevice(string type) => IdentityTypes.FromName(type)?.IsDeviceIdentity ?? false;
}
