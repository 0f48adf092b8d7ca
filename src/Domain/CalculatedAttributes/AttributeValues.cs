using System.Globalization;
using System.Text.Json;

namespace EventProfiles.Domain.CalculatedAttributes;

/// <summary>How attribute values read as numbers, strings, booleans and dates (§C1, §C5).</summary>
public static class AttributeValues
{
    /// <summary>A JSON number, or a string holding one (<c>"34.32"</c> → 34.32). Anything else is not a number.</summary>
    public static decimal? AsNumber(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Number => value.TryGetDecimal(out var d) ? d : null,
        JsonValueKind.String => ParseNumber(value.GetString()),
        _ => null,
    };

    public static decimal? ParseNumber(string? text) =>
        decimal.TryParse(text?.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null;

    /// <summary>The value as the string a calculated attribute stores: strings as they are, numbers and booleans as JSON writes them.</summary>
    public static string? AsText(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => value.GetRawText(),
    };

    public static bool? AsBoolean(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String when bool.TryParse(value.GetString(), out var b) => b,
        _ => null,
    };

    /// <summary>An ISO 8601 date or date-time (UTC unless an offset is given), or Unix epoch milliseconds.</summary>
    public static DateTimeOffset? AsDate(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Number when value.TryGetInt64(out var ms) => FromEpochMs(ms),
        JsonValueKind.String => ParseDate(value.GetString()),
        _ => null,
    };

    public static DateTimeOffset? ParseDate(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms)) return FromEpochMs(ms);
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at)
            ? at
            : null;
    }

    /// <summary>A date without a time of day (<c>2024-05-01</c>): compared by whole UTC days.</summary>
    public static bool IsDateOnly(string? text) =>
        DateOnly.TryParseExact(text?.Trim(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _);

    private static DateTimeOffset? FromEpochMs(long ms) =>
        ms is >= -62135596800000 and <= 253402300799999 ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

    /// <summary>Numbers as the shortest exact decimal text, invariant culture (<c>12.5</c>, not <c>12.50</c>).</summary>
    public static string FormatNumber(decimal value) =>
        value.ToString("0.############################", CultureInfo.InvariantCulture);

    /// <summary>Timestamps as ISO 8601 in UTC with seven fractional digits, as mParticle shows them (§C1).</summary>
    public static string FormatTimestamp(DateTimeOffset at) =>
        at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
}
