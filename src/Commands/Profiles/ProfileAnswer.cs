using System.Buffers;
using System.Text;
using System.Text.Json;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;
using Marten;
using Microsoft.AspNetCore.Http;

namespace EventProfiles.Commands.Profiles;

/// <summary>
/// The Profile API's answer written straight from the stored profile document (the jsonb as Marten stored it) with a
/// <see cref="Utf8JsonWriter"/>: the same bytes as <see cref="ProfileDocument.Build"/> (same sections, order and escaping),
/// without deserialising the whole <see cref="Profile"/> (its immutable lists and sorted dictionaries, every workspace,
/// device and alias) nor building a <c>JsonObject</c> tree per read. Only the sections that are rarely asked for and
/// shaped in more detail (attribution, consent, devices) still deserialise the one workspace they show.
/// Property names are those of Marten's serializer (default casing), as the stored documents have them.
/// </summary>
public static class ProfileAnswer
{
    /// <summary>Whether the person may be shown in the workspace: known there (<see cref="Profile.IsKnownIn"/>) and live (<see cref="Profile.IsLive"/>).</summary>
    public static bool IsShownIn(JsonElement profile, int workspaceId) =>
        profile.TryGetProperty(nameof(Profile.Workspaces), out var workspaces) && workspaces.ValueKind == JsonValueKind.Object
        && workspaces.TryGetProperty(Key(workspaceId), out _)
        && (!profile.TryGetProperty(nameof(Profile.AgedOutAt), out var agedOut) || agedOut.ValueKind == JsonValueKind.Null);

    /// <param name="provenance">Asked for with <c>include=provenance</c> (issue 21 §3): the change that gave each user attribute its value.</param>
    public static void Write(IBufferWriter<byte> output, JsonElement profile, int workspaceId, IReadOnlySet<string> fields, ComputedProfile? computed, ISerializer serializer,
        IReadOnlyDictionary<string, AttributeChange>? provenance = null)
    {
        using var json = new Utf8JsonWriter(output);
        var ws = profile.GetProperty(nameof(Profile.Workspaces)).GetProperty(Key(workspaceId));
        json.WriteStartObject();
        json.WriteNumber("mpid", profile.GetProperty(nameof(Profile.Mpid)).GetInt64());
        json.WriteNumber("created_timestamp_ms", profile.GetProperty(nameof(Profile.CreatedAt)).GetDateTimeOffset().ToUnixTimeMilliseconds());
        json.WriteNumber("last_stored_timestamp_ms", profile.GetProperty(nameof(Profile.LastStoredAt)).GetDateTimeOffset().ToUnixTimeMilliseconds());
        json.WriteBoolean("is_opted_out", profile.TryGetProperty(nameof(Profile.IsOptedOut), out var optedOut) && optedOut.ValueKind == JsonValueKind.True);
        json.WritePropertyName("limit_ad_tracking");
        if (profile.TryGetProperty(nameof(Profile.LimitAdTracking), out var lat) && lat.ValueKind is JsonValueKind.True or JsonValueKind.False) json.WriteBooleanValue(lat.GetBoolean());
        else json.WriteNullValue();
        if (fields.Contains(ProfileDocument.DeviceIdentities)) Identities(json, ProfileDocument.DeviceIdentities, profile, device: true);
        if (fields.Contains(ProfileDocument.UserIdentities)) Identities(json, ProfileDocument.UserIdentities, profile, device: false);
        json.WriteNull("account_userattributes");
        if (fields.Contains(ProfileDocument.UserAttributes)) UserAttributes(json, ws, computed);
        if (fields.Contains(ProfileDocument.AudienceMemberships))
        {
            json.WriteStartArray(ProfileDocument.AudienceMemberships);
            foreach (var a in computed?.Audiences ?? [])
            {
                json.WriteStartObject();
                json.WriteNumber("audience_id", a.AudienceId);
                json.WriteString("audience_name", a.AudienceName);
                json.WriteNull("expiration_timestamp_ms");
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        if (fields.Contains(ProfileDocument.Attribution) || fields.Contains(ProfileDocument.ConsentState) || fields.Contains(ProfileDocument.Devices))
        {
            // Rarely asked for: the one workspace deserialised, and the sections built as ProfileDocument builds them.
            var workspace = serializer.FromJson<WorkspaceProfile>(new MemoryStream(Encoding.UTF8.GetBytes(ws.GetRawText())));
            if (fields.Contains(ProfileDocument.Attribution)) ProfileDocument.AttributionArray(workspace).WriteTo(json.WithName(ProfileDocument.Attribution));
            if (fields.Contains(ProfileDocument.ConsentState)) ProfileDocument.Consent(workspace).WriteTo(json.WithName(ProfileDocument.ConsentState));
            if (fields.Contains(ProfileDocument.Devices)) ProfileDocument.DeviceArray(workspace).WriteTo(json.WithName(ProfileDocument.Devices));
        }
        if (provenance is not null) Provenance(json, ws, computed, provenance);
        json.WriteEndObject();
    }

    /// <summary>
    /// Per attribute shown, where its current value came from: the input, the batch (none for seeds), and when it took
    /// effect and was stored; a calculated attribute says so (its history endpoint names the definition and events).
    /// </summary>
    private static void Provenance(Utf8JsonWriter json, JsonElement ws, ComputedProfile? computed, IReadOnlyDictionary<string, AttributeChange> provenance)
    {
        var calculated = computed?.CalculatedAttributes ?? EmptyValues;
        json.WriteStartObject("attribute_provenance");
        if (ws.TryGetProperty(nameof(WorkspaceProfile.Attributes), out var attributes) && attributes.ValueKind == JsonValueKind.Object)
            foreach (var attribute in attributes.EnumerateObject().OrderBy(a => a.Name, StringComparer.Ordinal))
            {
                if (calculated.ContainsKey(attribute.Name) || !provenance.TryGetValue(attribute.Name, out var change)) continue;
                json.WriteStartObject(attribute.Name);
                json.WriteString("source", "user_attribute");
                json.WriteString("input", change.Input);
                if (change.BatchId is { } batch) json.WriteString("batch_id", batch);
                else json.WriteNull("batch_id");
                json.WriteNumber("effective_timestamp_ms", change.EffectiveAt.ToUnixTimeMilliseconds());
                json.WriteNumber("stored_timestamp_ms", change.StoredAt.ToUnixTimeMilliseconds());
                json.WriteEndObject();
            }
        foreach (var (name, _) in calculated)
        {
            json.WriteStartObject(name);
            json.WriteString("source", "calculated_attribute");
            json.WriteEndObject();
        }
        json.WriteEndObject();
    }

    private static Utf8JsonWriter WithName(this Utf8JsonWriter json, string name)
    {
        json.WritePropertyName(name);
        return json;
    }

    private static void Identities(Utf8JsonWriter json, string name, JsonElement profile, bool device)
    {
        json.WriteStartArray(name);
        if (profile.TryGetProperty(nameof(Profile.Identities), out var identities) && identities.ValueKind == JsonValueKind.Array)
            foreach (var identity in identities.EnumerateArray())
            {
                var type = identity.GetProperty(nameof(ProfileIdentity.Type)).GetString()!;
                var known = IdentityTypes.FromName(type);
                if ((known?.IsDeviceIdentity ?? false) != device) continue;
                json.WriteStartObject();
                json.WriteString("type", device ? known?.ProfileApiName ?? type : type);
                json.WriteString("encoding", "none");
                json.WriteString("value", identity.GetProperty(nameof(ProfileIdentity.Value)).GetString());
                json.WriteEndObject();
            }
        json.WriteEndArray();
    }

    /// <summary>
    /// The workspace's current attributes in the order of the profile's sorted dictionary as deserialised (jsonb keeps keys
    /// in an order of its own; the deserialiser builds the dictionary with the default string comparer), then the calculated attributes: one with the name of a user attribute takes its place (§A7),
    /// the others follow in their own order.
    /// </summary>
    private static void UserAttributes(Utf8JsonWriter json, JsonElement ws, ComputedProfile? computed)
    {
        var current = new List<(string Name, JsonElement Value)>();
        if (ws.TryGetProperty(nameof(WorkspaceProfile.Attributes), out var attributes) && attributes.ValueKind == JsonValueKind.Object)
            foreach (var attribute in attributes.EnumerateObject())
                if (!(attribute.Value.TryGetProperty(nameof(AttributeEntry.Removed), out var removed) && removed.ValueKind == JsonValueKind.True))
                    current.Add((attribute.Name, attribute.Value.TryGetProperty(nameof(AttributeEntry.Value), out var value) ? value : default));
        current.Sort((a, b) => Comparer<string>.Default.Compare(a.Name, b.Name));
        var calculated = computed?.CalculatedAttributes ?? EmptyValues;

        json.WriteStartObject(ProfileDocument.UserAttributes);
        foreach (var (name, value) in current)
        {
            json.WritePropertyName(name);
            if (calculated.TryGetValue(name, out var wins)) Calculated(json, wins);
            else AttributeValue(json, value);
        }
        foreach (var (name, value) in calculated)
        {
            if (current.Exists(c => c.Name == name)) continue;
            json.WritePropertyName(name);
            Calculated(json, value);
        }
        json.WriteEndObject();
    }

    private static readonly IReadOnlyDictionary<string, CalculatedValue> EmptyValues = new Dictionary<string, CalculatedValue>();

    private static void Calculated(Utf8JsonWriter json, CalculatedValue value)
    {
        if (value.List is { } list)
        {
            json.WriteStartArray();
            foreach (var item in list) json.WriteStringValue(item);
            json.WriteEndArray();
        }
        else json.WriteStringValue(value.Text);
    }

    /// <summary>As <see cref="ProfileDocument"/>: strings as they are, numbers as their text, lists as lists of strings, tags as null.</summary>
    private static void AttributeValue(Utf8JsonWriter json, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null: json.WriteNullValue(); break;
            case JsonValueKind.String: json.WriteStringValue(value.GetString()); break;
            case JsonValueKind.Array:
                json.WriteStartArray();
                foreach (var e in value.EnumerateArray()) json.WriteStringValue(e.ValueKind == JsonValueKind.String ? e.GetString() : e.GetRawText());
                json.WriteEndArray();
                break;
            case JsonValueKind.True: json.WriteStringValue("true"); break;
            case JsonValueKind.False: json.WriteStringValue("false"); break;
            default: json.WriteStringValue(value.GetRawText()); break;
        }
    }

    private static string Key(int workspaceId) => workspaceId.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>A JSON answer already written: sent with its length (no chunked framing) in one write.</summary>
public sealed class Utf8JsonResult(ReadOnlyMemory<byte> body) : IResult
{
    public const string ContentType = "application/json; charset=utf-8";

    public Task ExecuteAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = ContentType;
        context.Response.ContentLength = body.Length;
        return context.Response.Body.WriteAsync(body).AsTask();
    }
}
