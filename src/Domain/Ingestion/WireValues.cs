using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EventProfiles.Domain.Ingestion;

/// <summary>An MPID as clients send it: a JSON number (S2S SDKs) or a decimal string (web SDK).</summary>
[JsonConverter(typeof(MpidValueConverter))]
public readonly record struct MpidValue(long Value)
{
    public static implicit operator long(MpidValue v) => v.Value;
}

public sealed class MpidValueConverter : JsonConverter<MpidValue>
{
    public override MpidValue Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var n)) return new MpidValue(n);
        if (reader.TokenType == JsonTokenType.String &&
            long.TryParse(reader.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var s))
            return new MpidValue(s);
        throw new JsonException("must be a signed 64-bit integer, as a number or a decimal string");
    }

    public override void Write(Utf8JsonWriter writer, MpidValue value, JsonSerializerOptions options) =>
        writer.WriteNumberValue(value.Value);
}

/// <summary>
/// An identity value. The inbound schema allows string, number and boolean; we store their text
/// (events-api.md §6.1: "treat non-strings by string conversion").
/// </summary>
[JsonConverter(typeof(IdentityValueConverter))]
public readonly record struct IdentityValue(string Text);

public sealed class IdentityValueConverter : JsonConverter<IdentityValue>
{
    public override IdentityValue Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType switch
        {
            JsonTokenType.String => new IdentityValue(reader.GetString()!),
            JsonTokenType.Number => new IdentityValue(JsonDocument.ParseValue(ref reader).RootElement.GetRawText()),
            JsonTokenType.True => new IdentityValue("true"),
            JsonTokenType.False => new IdentityValue("false"),
            _ => throw new JsonException("must be a string"),
        };

    public override void Write(Utf8JsonWriter writer, IdentityValue value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.Text);
}
