using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using EventProfiles.Commands.Api;
using EventProfiles.Domain.Ingestion;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace EventProfiles.Commands.Ingestion;

/// <summary>A request body turned into batches, or the reasons it cannot be.</summary>
public sealed record IngestRequest(IReadOnlyList<ParsedBatch> Batches, ProblemDetails? Problem, bool IsBulk = false)
{
    public DateTimeOffset ReceivedAt { get; init; }

    public static IngestRequest Failed(ProblemDetails problem) => new([], problem);
}

public enum BodyShape
{
    /// <summary><c>POST /v2/events</c>: one batch object.</summary>
    Single,
    /// <summary><c>POST /v2/bulkevents</c>: an array of at most 100 batches.</summary>
    Bulk,
}

/// <summary>
/// Reads and parses an Events API body: size limits first, then JSON syntax, then field types, keeping the
/// original JSON of the batch envelope and of every event's <c>data</c>.
/// </summary>
public static partial class BatchReader
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.General);
    // The same reading rules as the serializer options above (depth 64, no comments, no trailing commas).
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    public static async Task<IngestRequest> ReadAsync(HttpRequest request, BodyShape shape, CancellationToken ct)
    {
        if (request.ContentLength > BatchLimits.MaxRequestBytes)
            return IngestRequest.Failed(RequestTooLarge(request.ContentLength.Value));

        // RequestBodyMiddleware has read and checked the body already: parse those bytes, no second copy.
        if (request.Body is MemoryStream { Position: 0 } checkedBody && checkedBody.TryGetBuffer(out var bytes))
            return Parse(bytes, shape);

        var buffer = new ArrayBufferWriter<byte>(request.ContentLength is > 0 and <= BatchLimits.MaxRequestBytes ? (int)request.ContentLength.Value + 1 : 4096);
        while (true)
        {
            var memory = buffer.GetMemory(1);
            var read = await request.Body.ReadAsync(memory, ct);
            if (read == 0) break;
            buffer.Advance(read);
            if (buffer.WrittenCount > BatchLimits.MaxRequestBytes)
                return IngestRequest.Failed(RequestTooLarge(buffer.WrittenCount));
        }
        return Parse(buffer.WrittenMemory, shape);
    }

    public static IngestRequest Parse(ReadOnlyMemory<byte> body, BodyShape shape)
    {
        if (body.Length > BatchLimits.MaxRequestBytes) return IngestRequest.Failed(RequestTooLarge(body.Length));
        if (body.Length == 0) return Invalid("", "the request body is empty; send a batch as JSON.");

        JsonElement root;
        try
        {
            // The document reads the body in place (no copy). It is never disposed: the batches' elements outlive the
            // request (the pipeline and the Live Stream read them after the answer), so its index is left to the GC.
            root = JsonDocument.Parse(body, DocumentOptions).RootElement;
        }
        catch (JsonException ex)
        {
            return Invalid("", $"the body is not valid JSON (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1}).");
        }

        if (shape == BodyShape.Single)
        {
            if (root.ValueKind != JsonValueKind.Object)
                return Invalid("", "the body must be one batch: a JSON object.");
            var single = ParseBatch(root, "");
            return single.Problem is not null ? IngestRequest.Failed(single.Problem) : new IngestRequest([single.Batch!], null);
        }

        if (root.ValueKind != JsonValueKind.Array)
            return Invalid("", "the body must be a JSON array of batches.");
        var count = root.GetArrayLength();
        if (count == 0) return Invalid("", "the array holds no batches.");
        if (count > BatchLimits.MaxBatchesPerRequest)
            return Invalid("", $"the request holds {count} batches; at most {BatchLimits.MaxBatchesPerRequest} are allowed per request.");

        var batches = new List<ParsedBatch>(count);
        var errors = new List<FieldError>();
        var index = 0;
        foreach (var element in root.EnumerateArray())
        {
            var prefix = $"[{index++}]";
            if (element.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new FieldError(prefix, "each batch must be a JSON object."));
                continue;
            }
            var parsed = ParseBatch(element, prefix);
            if (parsed.Problem is not null)
            {
                if (parsed.Problem.Status == StatusCodes.Status413PayloadTooLarge) return IngestRequest.Failed(parsed.Problem);
                errors.AddRange(ErrorsOf(parsed.Problem));
            }
            else batches.Add(parsed.Batch!);
        }
        return errors.Count > 0 ? IngestRequest.Failed(ApiProblems.Invalid(errors)) : new IngestRequest(batches, null, IsBulk: true);
    }

    private static (ParsedBatch? Batch, ProblemDetails? Problem) ParseBatch(JsonElement element, string prefix)
    {
        // The batch's bytes as sent (JsonBodyCheck has refused invalid UTF-8, so this is the UTF-8 size of its text).
        var raw = JsonMarshal.GetRawUtf8Value(element);
        var size = raw.Length;
        if (size > BatchLimits.MaxBatchBytes)
            return (null, ApiProblems.TooLarge(prefix, $"the batch is {size} bytes; a batch may be at most {BatchLimits.MaxBatchBytes} bytes."));

        Batch batch;
        try
        {
            batch = JsonSerializer.Deserialize<Batch>(raw, Json)!;
        }
        catch (JsonException ex)
        {
            return (null, ApiProblems.Invalid([new FieldError(Join(prefix, FieldOf(ex.Path)), ReasonOf(ex))]));
        }

        var eventData = new List<JsonElement>();
        if (element.TryGetProperty("events", out var events) && events.ValueKind == JsonValueKind.Array)
            foreach (var e in events.EnumerateArray())
                eventData.Add(e.ValueKind == JsonValueKind.Object && e.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object
                    ? d
                    : EmptyObject);

        return (new ParsedBatch(batch, WithoutEvents(element), eventData, size), null);
    }

    /// <summary>The batch object without its <c>events</c> member, property order and values as sent.</summary>
    private static JsonElement WithoutEvents(JsonElement batch)
    {
        var output = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(output))
        {
            writer.WriteStartObject();
            foreach (var property in batch.EnumerateObject())
                if (property.Name != "events") property.WriteTo(writer);
            writer.WriteEndObject();
        }
        return JsonDocument.Parse(output.WrittenMemory).RootElement; // in place: the writer's buffer is ours alone
    }

    private static readonly JsonElement EmptyObject = JsonSerializer.Deserialize<JsonElement>("{}");

    private static IEnumerable<FieldError> ErrorsOf(ProblemDetails problem) =>
        problem.Extensions.TryGetValue("errors", out var e) && e is List<Dictionary<string, string>> list
            ? list.Select(x => new FieldError(x["field"], x["message"], x["code"]))
            : [new FieldError("", problem.Detail ?? "invalid")];

    private static IngestRequest Invalid(string field, string message) =>
        IngestRequest.Failed(ApiProblems.Invalid([new FieldError(field, message)]));

    private static ProblemDetails RequestTooLarge(long bytes) =>
        ApiProblems.TooLarge("", $"the request is {bytes} bytes; a request may be at most {BatchLimits.MaxRequestBytes} bytes.");

    internal static string Join(string prefix, string field) =>
        prefix.Length == 0 ? field : field.Length == 0 ? prefix : field.StartsWith('[') ? prefix + field : $"{prefix}.{field}";

    /// <summary><c>$.events[0].data.timestamp_unixtime_ms</c> → <c>events[0].data.timestamp_unixtime_ms</c>.</summary>
    private static string FieldOf(string? jsonPath) =>
        string.IsNullOrEmpty(jsonPath) ? "" : jsonPath.TrimStart('$').TrimStart('.').Replace("['", ".").Replace("']", "");

    private static string ReasonOf(JsonException ex)
    {
        var match = ConvertedTo().Match(ex.Message);
        if (!match.Success) return ex.Message.Split(" Path:")[0];
        return match.Groups["type"].Value switch
        {
            var t when t.Contains("Int64") || t.Contains("Int32") => "must be an integer.",
            var t when t.Contains("Boolean") => "must be true or false.",
            var t when t.Contains("String") && t.Contains("Dictionary") => "must be an object of strings.",
            var t when t.Contains("Dictionary") => "must be a JSON object.",
            var t when t.Contains("List") => "must be a JSON array.",
            var t when t.Contains("String") => "must be a string.",
            _ => "must be a JSON object.",
        };
    }

    [GeneratedRegex(@"could not be converted to (?<type>\S+)")]
    private static partial Regex ConvertedTo();
}
