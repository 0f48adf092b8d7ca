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

    public static FieldError? Find(ReadOnlySpan<byte> body) => Find(body, repairable: false);

    /// <summary>
    /// With <paramref name="repairable"/>, only what no repair can fix is reported (invalid UTF-8): a NUL character, an
    /// unpaired surrogate escape or an unstorable number is left to <see cref="Repair"/> (native SDK uploads, whose
    /// SDKs delete a batch answered 4xx).
    /// </summary>
    public static FieldError? Find(ReadOnlySpan<byte> body, bool repairable) => Scan(body, repairable, null);

    /// <summary>One value to replace: the bytes at [Start, Start+Length) become Replacement.</summary>
    private sealed record Patch(int Start, int Length, byte[] Replacement, string Field, string Problem);

    /// <summary>
    /// The body with every value PostgreSQL cannot store made storable: NUL characters removed from strings and names,
    /// unpaired surrogate escapes replaced by U+FFFD, unstorable numbers replaced by <c>null</c>; each change named by
    /// its JSON path. Null when there is nothing to change, or the body has invalid UTF-8 or broken syntax (its parser refuses it).
    /// </summary>
    public static (byte[]? Body, IReadOnlyList<(string Field, string Problem)> Changes) Repair(ReadOnlySpan<byte> body)
    {
        var patches = new List<Patch>();
        if (Scan(body, repairable: true, patches) is not null || patches.Count == 0) return (null, []);
        var output = new ArrayBufferWriter<byte>(body.Length);
        var at = 0;
        foreach (var patch in patches)
        {
            output.Write(body[at..patch.Start]);
            output.Write(patch.Replacement);
            at = patch.Start + patch.Length;
        }
        output.Write(body[at..]);
        return (output.WrittenSpan.ToArray(), patches.Select(p => (p.Field, p.Problem)).ToList());
    }

    private static FieldError? Scan(ReadOnlySpan<byte> body, bool repairable, List<Patch>? patches)
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
                        if (StringProblem(ref reader) is { } nameProblem)
                        {
                            if (!repairable || nameProblem == InvalidUtf8) return new FieldError(PathOf(frames, body), $"the property name {nameProblem}");
                            patches?.Add(StringPatch(ref reader, PathOf(frames, body), "the property name " + nameProblem));
                        }
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
                        if (StringProblem(ref reader) is { } problem)
                        {
                            if (!repairable || problem == InvalidUtf8) return new FieldError(PathOf(frames, body), problem);
                            patches?.Add(StringPatch(ref reader, PathOf(frames, body), problem));
                        }
                        break;
                    case JsonTokenType.Number:
                        if (reader.ValueSpan.Length > MaxNumberLength || !reader.TryGetDouble(out var number) || !double.IsFinite(number))
                        {
                            const string tooLarge = "is a number too large (or too long) to store.";
                            if (!repairable) return new FieldError(PathOf(frames, body), tooLarge);
                            patches?.Add(new Patch((int)reader.TokenStartIndex, reader.ValueSpan.Length, "null"u8.ToArray(), PathOf(frames, body),
                                tooLarge[..^1] + "; stored as null."));
                        }
                        break;
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON (or nested deeper than any parser here accepts): the endpoint's parser reports it.
            patches?.Clear();
        }
        return null;
    }

    /// <summary>A string (escaped, valid UTF-8) rewritten without NUL escapes and with unpaired surrogate escapes as U+FFFD.</summary>
    private static Patch StringPatch(ref Utf8JsonReader reader, string field, string problem)
    {
        var raw = reader.ValueSpan;
        var clean = new ArrayBufferWriter<byte>(raw.Length);
        for (var i = 0; i < raw.Length;)
        {
            if (raw[i] != (byte)'\\' || i + 1 >= raw.Length)
            {
                clean.Write(raw.Slice(i, 1));
                i++;
                continue;
            }
            if (raw[i + 1] != (byte)'u' || CodeUnit(raw, i) is not { } unit)
            {
                clean.Write(raw.Slice(i, 2));
                i += 2;
                continue;
            }
            if (unit == 0) { }
            else if (unit is >= 0xD800 and <= 0xDBFF && CodeUnit(raw, i + 6) is >= 0xDC00 and <= 0xDFFF)
            {
                clean.Write(raw.Slice(i, 12));
                i += 12;
                continue;
            }
            else if (unit is >= 0xD800 and <= 0xDFFF) clean.Write("\\ufffd"u8);
            else clean.Write(raw.Slice(i, 6));
            i += 6;
        }
        var what = problem.Contains("NUL", StringComparison.Ordinal) ? "; the NUL characters were removed." : "; replaced by U+FFFD.";
        return new Patch((int)reader.TokenStartIndex + 1, raw.Length, clean.WrittenSpan.ToArray(), field, problem[..^1] + what);
    }

    /// <summary>The code unit of the <c>\uXXXX</c> escape at <paramref name="at"/>, or null when there is none.</summary>
    private static int? CodeUnit(ReadOnlySpan<byte> raw, int at) =>
        at + 6 <= raw.Length && raw[at] == (byte)'\\' && raw[at + 1] == (byte)'u'
        && int.TryParse(System.Text.Encoding.ASCII.GetString(raw.Slice(at + 2, 4)), System.Globalization.NumberStyles.AllowHexSpecifier, null, out var unit)
            ? unit : null;

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
