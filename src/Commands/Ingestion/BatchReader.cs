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

    /// <summary>Bulk: the index in the request's array of each of <see cref="Batches"/> (batches that could not be read are not among them).</summary>
    public IReadOnlyList<int>? Positions { get; init; }

    /// <summary>
    /// Bulk: batches refused on their own — by the reader, the validation or the store — while the others are stored
    /// (events-api.md §1: "If some batches fail and others succeed the response is still 202").
    /// </summary>
    public List<RejectedBatch> Rejected { get; init; } = [];

    /// <summary>Bulk: every element of the array as sent, so a rejected batch can be shown on the Live Stream.</summary>
    public IReadOnlyList<JsonElement> Sent { get; init; } = [];

    public int PositionOf(int batch) => Positions?[batch] ?? batch;

    public static IngestRequest Failed(ProblemDetails problem) => new([], problem);
}

/// <summary>
/// A batch of a bulk request that was not stored: its index in the array, the status and field errors the same batch
/// sent alone to <c>/v2/events</c> would have got (fields relative to the batch).
/// </summary>
public sealed record RejectedBatch(int Index, int Status, IReadOnlyList<FieldError> Errors);

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
    // JsonElement values come from the body's own document (BatchElements), not a new document each.
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.General) { Converters = { new BatchElements() } };
    // The same reading rules as the serializer options above (depth 64, no comments, no trailing commas).
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    /// <param name="truncate">Server-to-server data: over-long event names and event attribute names are cut (events-api.md §4).</param>
    public static async Task<IngestRequest> ReadAsync(HttpRequest request, BodyShape shape, CancellationToken ct, bool truncate = false)
    {
        if (request.ContentLength > BatchLimits.MaxRequestBytes)
            return IngestRequest.Failed(RequestTooLarge(request.ContentLength.Value));

        // RequestBodyMiddleware has read and checked the body already: parse those bytes, no second copy.
        if (request.Body is MemoryStream { Position: 0 } checkedBody && checkedBody.TryGetBuffer(out var bytes))
            return Parse(bytes, shape, truncate);

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
        return Parse(buffer.WrittenMemory, shape, truncate);
    }

    public static IngestRequest Parse(ReadOnlyMemory<byte> body, BodyShape shape, bool truncate = false)
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
            var single = ParseBatch(root, "", truncate);
            return single.Problem is not null ? IngestRequest.Failed(single.Problem) : new IngestRequest([single.Batch!], null);
        }

        if (root.ValueKind != JsonValueKind.Array)
            return Invalid("", "the body must be a JSON array of batches.");
        var count = root.GetArrayLength();
        if (count == 0) return Invalid("", "the array holds no batches.");
        if (count > BatchLimits.MaxBatchesPerRequest)
            return Invalid("", $"the request holds {count} batches; at most {BatchLimits.MaxBatchesPerRequest} are allowed per request.");

        // A batch that cannot be read is refused on its own (its errors as if sent alone); the others go on.
        var batches = new List<ParsedBatch>(count);
        var positions = new List<int>(count);
        var rejected = new List<RejectedBatch>();
        var sent = new List<JsonElement>(count);
        var index = 0;
        foreach (var element in root.EnumerateArray())
        {
            var position = index++;
            sent.Add(element);
            if (element.ValueKind != JsonValueKind.Object)
            {
                rejected.Add(new RejectedBatch(position, StatusCodes.Status400BadRequest, [new FieldError("", "each batch must be a JSON object.")]));
                continue;
            }
            var parsed = ParseBatch(element, "", truncate);
            if (parsed.Problem is not null)
                rejected.Add(new RejectedBatch(position, parsed.Problem.Status ?? StatusCodes.Status400BadRequest, ErrorsOf(parsed.Problem).ToList()));
            else
            {
                batches.Add(parsed.Batch!);
                positions.Add(position);
            }
        }
        return new IngestRequest(batches, null, IsBulk: true) { Positions = positions, Rejected = rejected, Sent = sent };
    }

    /// <summary>
    /// The answer when no batch of a bulk request can be stored: one problem with every batch's errors, each field
    /// prefixed with the batch's index (<c>[1].events[0].event_type</c>); 413 when a batch was too large, else 400.
    /// </summary>
    public static ProblemDetails NothingAccepted(IEnumerable<RejectedBatch> rejected)
    {
        var all = rejected.OrderBy(r => r.Index).ToList();
        var errors = all.SelectMany(r => r.Errors.Select(e => e with { Field = Join($"[{r.Index}]", e.Field) })).ToList();
        return all.Any(r => r.Status == StatusCodes.Status413PayloadTooLarge)
            ? ApiProblems.Create(StatusCodes.Status413PayloadTooLarge, "The request is too large", errors)
            : ApiProblems.Invalid(errors, "The batch is invalid");
    }

    private static (ParsedBatch? Batch, ProblemDetails? Problem) ParseBatch(JsonElement element, string prefix, bool truncate)
    {
        // The batch's bytes as sent (JsonBodyCheck has refused invalid UTF-8, so this is the UTF-8 size of its text).
        var raw = JsonMarshal.GetRawUtf8Value(element);
        var size = raw.Length;
        if (size > BatchLimits.MaxBatchBytes)
            return (null, ApiProblems.TooLarge(prefix, $"the batch is {size} bytes; a batch may be at most {BatchLimits.MaxBatchBytes} bytes."));

        IReadOnlyList<BatchWarning> warnings = [];
        if (truncate && BatchTruncation.IsNeeded(element))
        {
            // Rare: the batch is written again with the names cut, and read from that copy, so the typed batch, the
            // stored event data and the Live Stream all hold the same (cut) names.
            var (truncated, cut, collision) = BatchTruncation.Apply(element);
            if (collision is not null) return (null, ApiProblems.Invalid([collision with { Field = Join(prefix, collision.Field) }]));
            element = truncated;
            raw = JsonMarshal.GetRawUtf8Value(element);
            size = raw.Length;
            warnings = cut;
        }

        Batch batch;
        try
        {
            batch = BatchElements.Deserialize<Batch>(element, Json)!;
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

        return (new ParsedBatch(batch, WithoutEvents(element), eventData, size) { Warnings = warnings }, null);
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
