using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace EventProfiles.Commands.Api;

/// <summary>
/// What every JSON body must satisfy before any endpoint parses it, whatever the endpoint: every string (names and
/// values) valid UTF-8, no NUL character (PostgreSQL's text and jsonb cannot hold U+0000, so such a value could never be
/// stored and a retry could never succeed), no unpaired surrogate escape (jsonb refuses those too), and numbers a
/// database can hold. Reports the first offence with the JSON path of its field. Syntax errors are left to the
/// endpoint's own parser, which names them in its own words.
/// </summary>
public static class JsonBodyCheck
{
    public const int MaxDepth = 64;
    /// <summary>Longer number tokens are refused: no client sends them, and PostgreSQL's numeric has digit limits.</summary>
    public const int MaxNumberLength = 64;

    /// <summary>Where the reader is: an array and its index, or an object and the current property (decoded only for an error).</summary>
    private sealed class Frame(bool isArray)
    {
        public bool IsArray { get; } = isArray;
        public int Index { get; set; } = -1;
        public int NameStart { get; set; } = -1;
        public int NameLength { get; set; }
        public bool NameEscaped { get; set; }
    }

    public static FieldError? Find(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = MaxDepth });
        var frames = new List<Frame>();
        try
        {
            while (reader.Read())
            {
                if (frames.Count == 0 && reader.TokenType == JsonTokenType.Null)
                    return new FieldError("", "the body is null; send a JSON object.");
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        var frame = frames[^1];
                        frame.NameStart = (int)reader.TokenStartIndex + 1; // after the opening quote
                        frame.NameLength = reader.ValueSpan.Length;
                        frame.NameEscaped = reader.ValueIsEscaped;
                        if (StringProblem(ref reader) is { } nameProblem) return new FieldError(PathOf(frames, body), $"the property name {nameProblem}");
                        continue;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        frames.RemoveAt(frames.Count - 1);
                        continue;
                }
                if (frames.Count > 0 && frames[^1].IsArray) frames[^1].Index++;
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject: frames.Add(new Frame(false)); break;
                    case JsonTokenType.StartArray: frames.Add(new Frame(true)); break;
                    case JsonTokenType.String:
                        if (StringProblem(ref reader) is { } problem) return new FieldError(PathOf(frames, body), problem);
                        break;
                    case JsonTokenType.Number:
                        if (reader.ValueSpan.Length > MaxNumberLength || !reader.TryGetDouble(out var number) || !double.IsFinite(number))
                            return new FieldError(PathOf(frames, body), "is a number too large (or too long) to store.");
                        break;
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON (or nested deeper than any parser here accepts): the endpoint's parser reports it.
        }
        return null;
    }

    private static string? StringProblem(ref Utf8JsonReader reader)
    {
        var raw = reader.ValueSpan;
        if (!reader.ValueIsEscaped)
            return Utf8.IsValid(raw) ? null : InvalidUtf8;

        var rented = ArrayPool<byte>.Shared.Rent(raw.Length);
        try
        {
            int length;
            try { length = reader.CopyString(rented); }
            catch (InvalidOperationException)
            {
                return Utf8.IsValid(raw) ? "holds an invalid \\u escape (an unpaired surrogate)." : InvalidUtf8;
            }
            var value = rented.AsSpan(0, length);
            if (value.IndexOf((byte)0) >= 0) return "must not contain the NUL character (\\u0000).";
            return Utf8.IsValid(value) ? null : InvalidUtf8;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private const string InvalidUtf8 = "is not valid UTF-8.";

    /// <summary>A property name for the path: invalid bytes shown as U+FFFD, escapes as written, control characters escaped.</summary>
    private static string Display(ReadOnlySpan<byte> raw, bool escaped)
    {
        var text = Encoding.UTF8.GetString(raw);
        if (!escaped && !text.Any(char.IsControl)) return text;
        var builder = new StringBuilder(text.Length);
        foreach (var c in text) builder.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString());
        return builder.ToString();
    }

    /// <summary><c>events[0].data.custom_attributes.name</c>, as the endpoints' own errors name fields.</summary>
    private static string PathOf(List<Frame> frames, ReadOnlySpan<byte> body)
    {
        var path = new StringBuilder();
        foreach (var frame in frames)
        {
            if (frame.IsArray)
            {
                if (frame.Index >= 0) path.Append('[').Append(frame.Index).Append(']');
            }
            else if (frame.NameStart >= 0)
            {
                if (path.Length > 0) path.Append('.');
                path.Append(Display(body.Slice(frame.NameStart, frame.NameLength), frame.NameEscaped));
            }
        }
        return path.ToString();
    }
}
