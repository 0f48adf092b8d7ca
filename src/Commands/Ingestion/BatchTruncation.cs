using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using EventProfiles.Commands.Api;
using EventProfiles.Domain.Ingestion;

namespace EventProfiles.Commands.Ingestion;

/// <summary>
/// events-api.md §4: for server-to-server data an event name (<c>event_name</c>, <c>screen_name</c>) or an event attribute
/// name longer than 256 characters is truncated, not refused. Nothing else is cut: over-long values, user attribute names
/// and identities are still refused (the spec gives them no such rule), and SDK uploads keep the strict limits.
/// </summary>
public static class BatchTruncation
{
    public const string Code = "TRUNCATED";

    /// <summary>Cheap check on the raw bytes: a string of at most 256 UTF-8 bytes cannot hold more than 256 characters.</summary>
    public static bool IsNeeded(JsonElement batch)
    {
        if (!batch.TryGetProperty("events"u8, out var events) || events.ValueKind != JsonValueKind.Array) return false;
        foreach (var e in events.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("data"u8, out var data) || data.ValueKind != JsonValueKind.Object) continue;
            foreach (var property in data.EnumerateObject())
            {
                if ((property.NameEquals("event_name"u8) || property.NameEquals("screen_name"u8)) && LongString(property.Value)) return true;
                if (property.NameEquals("custom_attributes"u8) && property.Value.ValueKind == JsonValueKind.Object)
                    foreach (var attribute in property.Value.EnumerateObject())
                        if (LongName(attribute)) return true;
            }
        }
        return false;
    }

    /// <summary>
    /// The batch written again with the over-long names cut, and a warning per cut; or the error when two attribute names
    /// of one event become the same once cut (keeping either would drop the other's value).
    /// </summary>
    public static (JsonElement Batch, IReadOnlyList<BatchWarning> Warnings, FieldError? Collision) Apply(JsonElement batch)
    {
        var warnings = new List<BatchWarning>();
        FieldError? collision = null;
        var output = new ArrayBufferWriter<byte>(JsonMarshal.GetRawUtf8Value(batch).Length);
        using (var writer = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            foreach (var property in batch.EnumerateObject())
            {
                if (!property.NameEquals("events"u8) || property.Value.ValueKind != JsonValueKind.Array)
                {
                    property.WriteTo(writer);
                    continue;
                }
                writer.WritePropertyName(property.Name);
                writer.WriteStartArray();
                var index = 0;
                foreach (var e in property.Value.EnumerateArray())
                {
                    var path = $"events[{index++}].data";
                    if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("data"u8, out var data) || data.ValueKind != JsonValueKind.Object)
                    {
                        e.WriteTo(writer);
                        continue;
                    }
                    writer.WriteStartObject();
                    foreach (var member in e.EnumerateObject())
                        if (member.NameEquals("data"u8) && member.Value.ValueKind == JsonValueKind.Object)
                        {
                            writer.WritePropertyName(member.Name);
                            WriteData(writer, member.Value, path, warnings, ref collision);
                        }
                        else member.WriteTo(writer);
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
            }
            writer.WriteEndObject();
        }
        return (JsonDocument.Parse(output.WrittenMemory).RootElement, warnings, collision);
    }

    private static void WriteData(Utf8JsonWriter writer, JsonElement data, string path, List<BatchWarning> warnings, ref FieldError? collision)
    {
        writer.WriteStartObject();
        foreach (var property in data.EnumerateObject())
        {
            if ((property.NameEquals("event_name"u8) || property.NameEquals("screen_name"u8)) && LongString(property.Value))
            {
                var name = property.Value.GetString()!;
                writer.WriteString(property.Name, Cut(name));
                warnings.Add(new BatchWarning($"{path}.{property.Name}",
                    $"the name was {name.Length} characters long; it was truncated to the first {BatchLimits.MaxNameLength}."));
            }
            else if (property.NameEquals("custom_attributes"u8) && property.Value.ValueKind == JsonValueKind.Object)
            {
                writer.WritePropertyName(property.Name);
                writer.WriteStartObject();
                var names = new HashSet<string>(StringComparer.Ordinal);
                foreach (var attribute in property.Value.EnumerateObject())
                {
                    var name = attribute.Name;
                    if (LongName(attribute))
                    {
                        name = Cut(name);
                        warnings.Add(new BatchWarning($"{path}.custom_attributes.{name}",
                            $"the attribute name was {attribute.Name.Length} characters long; it was truncated to the first {BatchLimits.MaxNameLength}."));
                    }
                    if (!names.Add(name))
                        collision ??= new FieldError($"{path}.custom_attributes.{name}",
                            $"two attribute names of this event are the same once truncated to {BatchLimits.MaxNameLength} characters; make them differ within their first {BatchLimits.MaxNameLength}.");
                    writer.WritePropertyName(name);
                    attribute.Value.WriteTo(writer);
                }
                writer.WriteEndObject();
            }
            else property.WriteTo(writer);
        }
        writer.WriteEndObject();
    }

    private static bool LongString(JsonElement value) =>
        value.ValueKind == JsonValueKind.String && JsonMarshal.GetRawUtf8Value(value).Length - 2 > BatchLimits.MaxNameLength
        && value.GetString()!.Length > BatchLimits.MaxNameLength;

    private static bool LongName(JsonProperty property) =>
        JsonMarshal.GetRawUtf8PropertyName(property).Length > BatchLimits.MaxNameLength && property.Name.Length > BatchLimits.MaxNameLength;

    /// <summary>The first 256 characters, never half of a surrogate pair.</summary>
    internal static string Cut(string name)
    {
        var length = BatchLimits.MaxNameLength;
        if (char.IsHighSurrogate(name[length - 1])) length--;
        return name[..length];
    }
}
