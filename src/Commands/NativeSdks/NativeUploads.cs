using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Ingestion;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.NativeSdks;
using EventProfiles.Domain.Workspaces;
using FluentValidation;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;
using Wolverine.Http;

namespace EventProfiles.Commands.NativeSdks;

/// <summary>A native upload: its input, the batch it converted to (ready for the pipeline), and what the conversion reported.</summary>
/// <param name="Repairs">Values of the body PostgreSQL cannot store, made storable before conversion (NUL removed, …).</param>
public sealed record NativeUpload(Input? Input, ParsedBatch? Batch, NativeConversion? Conversion, InputKind Channel, DateTimeOffset ReceivedAt, ProblemDetails? Problem,
    IReadOnlyList<NativeIssue>? Repairs = null);

/// <summary>
/// <c>POST /v2/{apiKey}/events</c> and the <c>customBaseURL</c> form <c>/nativeevents/v2/{apiKey}/events</c>: what the
/// iOS and Android SDKs upload (native-sdks.md §3). The body arrives gzipped (RequestBodyMiddleware inflates it), is
/// signed (§2.2), and is converted by the pure <see cref="NativeBatchConverter"/> into the Events API batch, then
/// committed by the same pipeline as <c>/v2/events</c>, so identity, profile, consent, forwarding and retention work
/// unchanged. Answers (§8): both SDKs delete a batch on any 4xx but 429, so only bad credentials and a body that is not
/// JSON are refused; data problems are kept, truncated or set aside, written on the batch (<c>native_issues</c>, which
/// the Live Stream shows) and counted per input (<see cref="NativeUploadCounters"/>).
/// </summary>
public static class NativeUploadEndpoint
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    public static NativeUpload Load(string apiKey, HttpRequest request, WorkspaceDirectory directory, TimeProvider clock, NativeUploadCounters counters)
    {
        var receivedAt = clock.GetUtcNow();
        var input = directory.InputByKey(apiKey);
        // RequestBodyMiddleware has inflated, capped and checked the body (UTF-8, JSON syntax): these are its bytes.
        ReadOnlyMemory<byte> body = request.Body is MemoryStream memory && memory.TryGetBuffer(out var buffer) ? buffer.AsMemory() : default;
        if (NativeSignature.Check(input, request, [$"/v2/{apiKey}/events"], body.Span) is { } refused)
        {
            if (input is not null) counters.Refused(input.Name);
            return new(input, null, null, default, receivedAt, refused);
        }

        // The body check left what PostgreSQL cannot store (NUL, unpaired surrogates, huge numbers) to us: a 4xx would
        // make the SDK delete the batch, so the value is made storable and the change reported like any data problem.
        var (repaired, changes) = JsonBodyCheck.Repair(body.Span);
        var repairs = changes.Select(c => new NativeIssue(c.Field, c.Problem)).ToList();

        JsonElement root;
        try
        {
            root = JsonDocument.Parse(repaired ?? body, DocumentOptions).RootElement;
        }
        catch (JsonException ex)
        {
            counters.Refused(input!.Name);
            return new(input, null, null, default, receivedAt, ApiProblems.Invalid([new FieldError("", $"the body is not valid JSON ({ex.Message.Split(" Path:")[0]})")]));
        }

        var platform = input!.Kind == InputKind.IOS ? NativePlatform.IOS : NativePlatform.Android;
        var conversion = NativeBatchConverter.Convert(root, platform);
        // A server input's key and secret work from an app too; the batch then counts as the platform it came from.
        var channel = input.Kind.IsNative() ? input.Kind : conversion.Platform == NativePlatform.IOS ? InputKind.IOS : InputKind.Android;
        return new(input, null, conversion, channel, receivedAt, null, repairs);
    }

    public static ProblemDetails Validate(NativeUpload upload) => upload.Problem ?? WolverineContinue.NoProblems;

    [WolverinePost("/v2/{apiKey}/events", Name = "Native SDK upload")]
    [AllowAnonymous, ProducesResponseType(StatusCodes.Status202Accepted)]
    public static Task<IResult> Post(string apiKey, [NotBody] NativeUpload upload, IValidator<Batch> validator, IngestionPipeline pipeline,
        NativeUploadCounters counters, HttpResponse response, ILogger<NativeUpload> logger, CancellationToken ct) =>
        SubmitAsync(upload, validator, pipeline, counters, response, logger, ct);

    [WolverinePost("/nativeevents/v2/{apiKey}/events", Name = "Native SDK upload (customBaseURL)")]
    [AllowAnonymous, ProducesResponseType(StatusCodes.Status202Accepted)]
    public static Task<IResult> PostCustomBase(string apiKey, [NotBody] NativeUpload upload, IValidator<Batch> validator, IngestionPipeline pipeline,
        NativeUploadCounters counters, HttpResponse response, ILogger<NativeUpload> logger, CancellationToken ct) =>
        SubmitAsync(upload, validator, pipeline, counters, response, logger, ct);

    private static async Task<IResult> SubmitAsync(NativeUpload upload, IValidator<Batch> validator, IngestionPipeline pipeline,
        NativeUploadCounters counters, HttpResponse response, ILogger logger, CancellationToken ct)
    {
        var input = upload.Input!;
        var conversion = upload.Conversion!;
        var issues = (upload.Repairs ?? []).Concat(conversion.Issues).ToList();
        var parsed = Checked(conversion.Batch, validator, issues);
        if (issues.Count > 0)
        {
            logger.LogWarning("Native upload {BatchId} of input {Input} kept with {Count} data problem(s), first: {Field} {Problem}",
                conversion.BatchId, input.Name, issues.Count, issues[0].Field, issues[0].Problem);
            counters.Issues(input.Name, issues.Count);
        }
        if (parsed is null)
        {
            // Nothing the SDK can fix (a 4xx would make it delete the batch anyway): answered, counted and logged.
            counters.Unstored(input.Name);
            return Accepted(conversion, upload.ReceivedAt);
        }

        var outcomes = await pipeline.SubmitAsync([new PendingBatch(parsed, input, upload.Channel, upload.ReceivedAt, isHistorical: false)], ct);
        var outcome = outcomes[0];
        if (outcome.Kind != IngestOutcomeKind.Failed)
        {
            counters.Stored(input.Name);
            return Accepted(conversion, upload.ReceivedAt, outcome.Mpid);
        }
        if (IngestionPipeline.UnstorableValue(outcome.Error) is { } unstorable)
        {
            logger.LogWarning("Native upload {BatchId} of input {Input} holds a value that cannot be stored: {Value}", conversion.BatchId, input.Name, unstorable);
            counters.Unstored(input.Name);
            return Accepted(conversion, upload.ReceivedAt);
        }
        if (outcome.Error is OverCapacityException)
        {
            // 429 is the one 4xx both SDKs keep the batch for (iOS also pauses its uploads for Retry-After).
            response.Headers.RetryAfter = pipeline.RetryAfter;
            return Results.Problem(ApiProblems.Create(StatusCodes.Status429TooManyRequests, "Too many requests",
                [new FieldError("", "EventProfiles is over capacity and stored nothing of this batch; send it again after the Retry-After delay.", "TOO_MANY_REQUESTS")]));
        }
        // Nothing is acknowledged that is not stored; both SDKs keep a batch answered 503 and send it again.
        response.Headers.RetryAfter = "1";
        return Results.Problem(ApiProblems.Create(StatusCodes.Status503ServiceUnavailable, "Service unavailable",
            [new FieldError("", "The batch could not be stored right now; send it again.", "SERVICE_UNAVAILABLE")]));
    }

    /// <summary>
    /// The converted batch as the pipeline takes it, checked by the Events API's validator as a last line: an event
    /// it still refuses is stored as an <c>unknown</c> event holding what was sent, so no message is lost.
    /// </summary>
    private static ParsedBatch? Checked(JsonObject batch, IValidator<Batch> validator, List<NativeIssue> issues)
    {
        for (var attempt = 0; attempt < 2; attempt++)
        {
            if (issues.Count > 0) batch["native_issues"] = new JsonArray(issues.Select(i => (JsonNode)new JsonObject { ["field"] = i.Field, ["problem"] = i.Problem }).ToArray());
            var parsed = Parse(batch);
            var errors = validator.Validate(parsed.Batch).Errors;
            if (errors.Count == 0) return parsed;
            var events = batch["events"]!.AsArray();
            var refusedEvents = errors.Select(e => EventIndex(e.PropertyName)).Where(i => i is not null && i < events.Count).Select(i => i!.Value).Distinct().ToList();
            if (refusedEvents.Count == 0 || errors.Any(e => EventIndex(e.PropertyName) is null))
            {
                issues.AddRange(errors.Select(e => new NativeIssue(e.PropertyName, e.ErrorMessage + " (the batch was not stored)")));
                return null;
            }
            foreach (var index in refusedEvents)
            {
                var refused = events[index]!.AsObject();
                issues.AddRange(errors.Where(e => EventIndex(e.PropertyName) == index).Select(e => new NativeIssue(e.PropertyName, e.ErrorMessage + " (stored as an unknown event)")));
                var data = refused["data"]?.AsObject();
                events[index] = new JsonObject
                {
                    ["event_type"] = "unknown",
                    ["data"] = new JsonObject
                    {
                        ["source_message_id"] = data?["source_message_id"]?.DeepClone() is { } id && id.GetValueKind() == JsonValueKind.String ? id : null,
                        ["native_refused"] = refused.DeepClone(),
                    },
                };
            }
        }
        return null;
    }

    private static int? EventIndex(string field) =>
        field.StartsWith("events[", StringComparison.Ordinal) && field.IndexOf(']') is > 7 and var end &&
        int.TryParse(field.AsSpan(7, end - 7), out var index) ? index : null;

    /// <summary>The batch as <see cref="BatchReader"/> would have parsed it from an Events API body.</summary>
    private static ParsedBatch Parse(JsonObject batch)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(batch);
        var root = JsonDocument.Parse(bytes).RootElement;
        var typed = root.Deserialize<Batch>()!;
        var eventData = new List<JsonElement>();
        foreach (var e in root.GetProperty("events").EnumerateArray())
            eventData.Add(e.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object ? d : EmptyObject);
        var envelope = new ArrayBufferWriter<byte>(bytes.Length);
        using (var writer = new Utf8JsonWriter(envelope))
        {
            writer.WriteStartObject();
            foreach (var property in root.EnumerateObject())
                if (property.Name != "events") property.WriteTo(writer);
            writer.WriteEndObject();
        }
        return new ParsedBatch(typed, JsonDocument.Parse(envelope.WrittenMemory).RootElement, eventData, bytes.Length);
    }

    private static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement;

    /// <summary>
    /// The "response header" both SDKs read (§8.1): 202 with a JSON object (an empty body makes Android re-send
    /// forever), and the <c>uid</c> cookie the SDKs keep and echo as the batch's <c>ck</c>.
    /// </summary>
    private static IResult Accepted(NativeConversion conversion, DateTimeOffset receivedAt, long? mpid = null)
    {
        var ci = new JsonObject();
        if ((mpid ?? conversion.Mpid) is { } id) ci["mpid"] = id;
        if (conversion.DeviceStamp is { Length: > 0 } das)
        {
            ci["ck"] = new JsonObject { ["uid"] = new JsonObject { ["c"] = $"g={das}", ["e"] = receivedAt.AddYears(10).UtcDateTime.ToString("O") } };
            ci["das"] = das;
        }
        else ci["ck"] = new JsonObject();
        var body = new JsonObject
        {
            ["dt"] = "rh", ["id"] = Guid.CreateVersion7(receivedAt).ToString(), ["ct"] = receivedAt.ToUnixTimeMilliseconds(),
            ["msgs"] = new JsonArray(), ["ci"] = ci,
        };
        return Results.Content(body.ToJsonString(), "application/json", statusCode: StatusCodes.Status202Accepted);
    }
}

/// <summary>Per-input counts of native uploads: stored, kept with data problems, not storable, refused (bad credentials or body).</summary>
public sealed class NativeUploadCounters
{
    private readonly ConcurrentDictionary<string, long[]> _counts = new(StringComparer.Ordinal);

    private long[] Of(string input) => _counts.GetOrAdd(input, _ => new long[4]);
    public void Stored(string input) => Interlocked.Increment(ref Of(input)[0]);
    public void Issues(string input, int count) => Interlocked.Add(ref Of(input)[1], count);
    public void Unstored(string input) => Interlocked.Increment(ref Of(input)[2]);
    public void Refused(string input) => Interlocked.Increment(ref Of(input)[3]);

    public JsonObject Snapshot()
    {
        var result = new JsonObject();
        foreach (var (input, c) in _counts.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            result[input] = new JsonObject
            {
                ["stored"] = Interlocked.Read(ref c[0]), ["data_problems"] = Interlocked.Read(ref c[1]),
                ["not_stored"] = Interlocked.Read(ref c[2]), ["refused"] = Interlocked.Read(ref c[3]),
            };
        return result;
    }
}

/// <summary><c>GET /api/admin/native-sdks/counters</c>: the input error counters of native uploads since start.</summary>
public static class NativeUploadCountersEndpoint
{
    [WolverineGet("/api/admin/native-sdks/counters", Name = "Native SDK upload counters")]
    [Authorize(AuthenticationSchemes = AuthSchemes.Admin)]
    public static IResult Get(NativeUploadCounters counters) => Results.Content(counters.Snapshot().ToJsonString(), "application/json");
}
