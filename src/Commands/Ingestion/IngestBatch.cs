using System.Security.Claims;
using System.Text.Json.Nodes;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Forwarding;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Workspaces;
using FluentValidation;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace EventProfiles.Commands.Ingestion;

// The three Events API endpoints (events-api.md §1). Each is its own class because Wolverine applies a class's
// Load/Validate methods to every endpoint in it. All three: authenticate the input (Basic), read and parse the body
// (LoadAsync), check every batch (Validate), then hand the batches to the group-commit pipeline and answer 202 once
// they are committed (Post). A bulk request stores every valid batch and answers 202 with the rejected ones listed
// (events-api.md §1); only what concerns the whole request (auth, size, not an array, more than 100) refuses it all.

public static class IngestBatchEndpoint
{
    public static Task<IngestRequest> LoadAsync(HttpRequest request, TimeProvider clock, CancellationToken ct) =>
        IngestSteps.ReadAsync(request, BodyShape.Single, clock, ct, truncate: true);

    public static ProblemDetails Validate(IngestRequest request, IValidator<Domain.Ingestion.Batch> validator) =>
        IngestSteps.Validate(request, validator, historical: false);

    [WolverinePost("/v2/events", Name = "Upload one batch")]
    [EndpointDescription("202 once the batch is stored: no body, or, when an event name or event attribute name over 256 characters " +
        "was truncated, {\"accepted\": 1, \"rejected\": [], \"warnings\": [{\"code\": \"TRUNCATED\", \"field\", \"message\"}]}. 400/413 name each bad field.")]
    [Authorize(AuthenticationSchemes = AuthSchemes.InputBasic)]
    [ProducesResponseType(StatusCodes.Status202Accepted)]
    public static Task<IResult> Post([NotBody] IngestRequest request, ClaimsPrincipal user, WorkspaceDirectory directory, IngestionPipeline pipeline, HttpResponse response, LiveStream live, CancellationToken ct) =>
        IngestSteps.SubmitAsync(request, user.InputOf(directory), InputKind.Server, isHistorical: false, pipeline, response, ct, live);
}

public static class IngestBulkEndpoint
{
    public static Task<IngestRequest> LoadAsync(HttpRequest request, TimeProvider clock, CancellationToken ct) =>
        IngestSteps.ReadAsync(request, BodyShape.Bulk, clock, ct, truncate: true);

    public static ProblemDetails Validate(IngestRequest request, IValidator<Domain.Ingestion.Batch> validator) =>
        IngestSteps.Validate(request, validator, historical: false);

    [WolverinePost("/v2/bulkevents", Name = "Upload up to 100 batches")]
    [EndpointDescription("Every valid batch is stored, none of the invalid ones. 202 once stored: no body when all were stored unchanged; " +
        "else {\"accepted\": n, \"rejected\": [{\"index\", \"status\", \"errors\": [{\"code\", \"field\", \"message\"}]}], " +
        "\"warnings\": [{\"index\", \"code\": \"TRUNCATED\", \"field\", \"message\"}]}, each rejected batch with the errors it would get alone. " +
        "400/413 for the whole request only when no batch can be stored, or for request-level problems (not an array, more than 100 batches, over 256 KB).")]
    [Authorize(AuthenticationSchemes = AuthSchemes.InputBasic)]
    [ProducesResponseType(StatusCodes.Status202Accepted)]
    public static Task<IResult> Post([NotBody] IngestRequest request, ClaimsPrincipal user, WorkspaceDirectory directory, IngestionPipeline pipeline, HttpResponse response, LiveStream live, CancellationToken ct) =>
        IngestSteps.SubmitAsync(request, user.InputOf(directory), InputKind.Server, isHistorical: false, pipeline, response, ct, live);
}

public static class IngestHistoricalEndpoint
{
    public static Task<IngestRequest> LoadAsync(HttpRequest request, TimeProvider clock, CancellationToken ct) =>
        IngestSteps.ReadAsync(request, BodyShape.Bulk, clock, ct, truncate: true);

    public static ProblemDetails Validate(IngestRequest request, IValidator<Domain.Ingestion.Batch> validator) =>
        IngestSteps.Validate(request, validator, historical: true);

    [WolverinePost("/v2/bulkevents/historical", Name = "Upload historical batches (older than 72 hours)")]
    [EndpointDescription("As /v2/bulkevents: valid batches are stored, rejected ones listed in the 202's body.")]
    [Authorize(AuthenticationSchemes = AuthSchemes.InputBasic)]
    [ProducesResponseType(StatusCodes.Status202Accepted)]
    public static Task<IResult> Post([NotBody] IngestRequest request, ClaimsPrincipal user, WorkspaceDirectory directory, IngestionPipeline pipeline, HttpResponse response, LiveStream live, CancellationToken ct) =>
        IngestSteps.SubmitAsync(request, user.InputOf(directory), InputKind.Server, isHistorical: true, pipeline, response, ct, live);
}

/// <summary>The steps the three endpoints share.</summary>
public static class IngestSteps
{
    public static async Task<IngestRequest> ReadAsync(HttpRequest request, BodyShape shape, TimeProvider clock, CancellationToken ct, bool truncate = false)
    {
        var receivedAt = clock.GetUtcNow();
        var read = await BatchReader.ReadAsync(request, shape, ct, truncate);
        return read with { ReceivedAt = receivedAt };
    }

    public static ProblemDetails Validate(IngestRequest request, IValidator<Domain.Ingestion.Batch> validator, bool historical)
    {
        if (request.Problem is not null) return request.Problem;
        var errors = new List<FieldError>();
        // Nearly every batch is valid: a plain check of the same rules skips FluentValidation's cost for those; any
        // batch it is unsure of is validated as before, so errors and their fields come from the validator alone.
        var plain = !historical && validator is BatchValidator;
        for (var i = 0; i < request.Batches.Count; i++)
        {
            if (plain && BatchValidator.IsPlainlyValid(request.Batches[i].Batch)) continue;
            var context = new ValidationContext<Domain.Ingestion.Batch>(request.Batches[i].Batch);
            if (historical) context.RootContextData[BatchValidator.HistoricalAsOf] = request.ReceivedAt;
            var result = validator.Validate(context);
            if (result.IsValid) continue;
            var found = result.Errors.Select(f => new FieldError(f.PropertyName, f.ErrorMessage));
            // Bulk: this batch is refused on its own, with the errors it would get if sent alone; the others go on.
            if (request.IsBulk) request.Rejected.Add(new RejectedBatch(request.PositionOf(i), StatusCodes.Status400BadRequest, found.ToList()));
            else errors.AddRange(found);
        }
        if (!request.IsBulk)
            return errors.Count == 0 ? Wolverine.Http.WolverineContinue.NoProblems : ApiProblems.Invalid(errors, "The batch is invalid");
        // Nothing left to store: the request as a whole is refused, every batch's errors named by its index.
        return request.Rejected.Count == request.Sent.Count ? BatchReader.NothingAccepted(request.Rejected) : Wolverine.Http.WolverineContinue.NoProblems;
    }

    public static async Task<IResult> SubmitAsync(IngestRequest request, Input input, InputKind channel, bool isHistorical,
        IngestionPipeline pipeline, HttpResponse response, CancellationToken ct, LiveStream? live = null)
    {
        // The batches to store (their index in Batches): all of them, unless some of a bulk request were set aside.
        var submitted = new List<int>(request.Batches.Count);
        var refused = request.Rejected.Count == 0 ? null : request.Rejected.Select(r => r.Index).ToHashSet();
        for (var i = 0; i < request.Batches.Count; i++)
            if (refused is null || !refused.Contains(request.PositionOf(i))) submitted.Add(i);
        var pending = new List<PendingBatch>(submitted.Count);
        foreach (var i in submitted) pending.Add(new PendingBatch(request.Batches[i], input, channel, request.ReceivedAt, isHistorical));
        var outcomes = await pipeline.SubmitAsync(pending, ct);

        if (outcomes.Any(o => o.Error is OverCapacityException))
        {
            response.Headers.RetryAfter = pipeline.RetryAfter;
            return Results.Problem(ApiProblems.Create(StatusCodes.Status429TooManyRequests, "Too many requests",
                [new FieldError("", "EventProfiles is over capacity and stored nothing of this request; send it again after the Retry-After delay.", "TOO_MANY_REQUESTS")]));
        }
        // A transient failure: nothing is acknowledged that is not stored, so the client sends the request again (the
        // stored batches are not stored twice when they carry a source_request_id).
        if (outcomes.FirstOrDefault(o => o.Kind == IngestOutcomeKind.Failed && IngestionPipeline.UnstorableValue(o.Error) is null) is { } failed)
        {
            response.Headers.RetryAfter = "1";
            var reason = failed.Error is ShuttingDownException
                ? "EventProfiles is shutting down; send the request again."
                : "The batch could not be stored right now; send the request again.";
            return Results.Problem(ApiProblems.Create(StatusCodes.Status503ServiceUnavailable, "Service unavailable",
                [new FieldError("", reason, "SERVICE_UNAVAILABLE")]));
        }
        for (var k = 0; k < outcomes.Count; k++)
            if (outcomes[k].Kind == IngestOutcomeKind.Failed && IngestionPipeline.UnstorableValue(outcomes[k].Error) is { } unstorable)
            {
                // Retrying cannot help: the batch is refused (each batch is committed in its own transaction then).
                var error = new FieldError("", $"the batch holds a value that cannot be stored: {unstorable}.");
                if (!request.IsBulk) return Results.Problem(ApiProblems.Invalid([error]));
                request.Rejected.Add(new RejectedBatch(request.PositionOf(submitted[k]), StatusCodes.Status400BadRequest, [error]));
            }

        var stored = 0;
        List<(int Position, BatchWarning Warning)>? warnings = null;
        for (var k = 0; k < outcomes.Count; k++)
        {
            if (outcomes[k].Kind == IngestOutcomeKind.Failed) continue;
            stored++;
            foreach (var warning in request.Batches[submitted[k]].Warnings) (warnings ??= []).Add((request.PositionOf(submitted[k]), warning));
        }
        // SDKs ignore the body: a request with nothing to report keeps the empty 202 they were recorded with.
        if (request.Rejected.Count == 0 && warnings is null) return Results.StatusCode(StatusCodes.Status202Accepted);

        if (live is not null)
            foreach (var rejected in request.Rejected) live.Rejected(input, request.Sent[rejected.Index], rejected.Errors.Select(Describe).ToList());
        if (stored == 0 && request.Rejected.Count > 0) return Results.Problem(BatchReader.NothingAccepted(request.Rejected));
        return Results.Json(IngestAnswer.Build(request.IsBulk, stored, request.Rejected, warnings ?? []), statusCode: StatusCodes.Status202Accepted);
    }

    private static string Describe(FieldError error) => error.Field.Length > 0 ? $"{error.Field}: {error.Message}" : error.Message;
}

/// <summary>
/// The body of a 202 that has something to report (bulk with rejected batches, or names that were truncated). It is not
/// a ProblemDetails: the request succeeded, and what was stored is stored. Each rejected batch carries the status and
/// the errors (<c>{code, field, message}</c>, as in a problem's <c>errors</c>) it would get sent alone; each warning the
/// batch's index (bulk), the field and what was done.
/// </summary>
public static class IngestAnswer
{
    public static JsonObject Build(bool bulk, int accepted, IEnumerable<RejectedBatch> rejected, IEnumerable<(int Position, BatchWarning Warning)> warnings)
    {
        static JsonObject Error(string code, string field, string message) => new() { ["code"] = code, ["field"] = field, ["message"] = message };
        return new JsonObject
        {
            ["accepted"] = accepted,
            ["rejected"] = new JsonArray(rejected.OrderBy(r => r.Index).Select(r => (JsonNode?)new JsonObject
            {
                ["index"] = r.Index, ["status"] = r.Status,
                ["errors"] = new JsonArray(r.Errors.Select(e => (JsonNode?)Error(e.Code, e.Field, e.Message)).ToArray()),
            }).ToArray()),
            ["warnings"] = new JsonArray(warnings.Select(w =>
            {
                var warning = Error(BatchTruncation.Code, w.Warning.Field, w.Warning.Message);
                if (bulk) warning["index"] = w.Position;
                return (JsonNode?)warning;
            }).ToArray()),
        };
    }
}
