using System.Security.Claims;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
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
// they are committed (Post).

public static class IngestBatchEndpoint
{
    public static Task<IngestRequest> LoadAsync(HttpRequest request, TimeProvider clock, CancellationToken ct) =>
        IngestSteps.ReadAsync(request, BodyShape.Single, clock, ct);

    public static ProblemDetails Validate(IngestRequest request, IValidator<Domain.Ingestion.Batch> validator) =>
        IngestSteps.Validate(request, validator, historical: false);

    [WolverinePost("/v2/events", Name = "Upload one batch")]
    [Authorize(AuthenticationSchemes = AuthSchemes.InputBasic)]
    [ProducesResponseType(StatusCodes.Status202Accepted)]
    public static Task<IResult> Post([NotBody] IngestRequest request, ClaimsPrincipal user, WorkspaceDirectory directory, IngestionPipeline pipeline, HttpResponse response, CancellationToken ct) =>
        IngestSteps.SubmitAsync(request, user.InputOf(directory), InputKind.Server, isHistorical: false, pipeline, response, ct);
}

public static class IngestBulkEndpoint
{
    public static Task<IngestRequest> LoadAsync(HttpRequest request, TimeProvider clock, CancellationToken ct) =>
        IngestSteps.ReadAsync(request, BodyShape.Bulk, clock, ct);

    public static ProblemDetails Validate(IngestRequest request, IValidator<Domain.Ingestion.Batch> validator) =>
        IngestSteps.Validate(request, validator, historical: false);

    [WolverinePost("/v2/bulkevents", Name = "Upload up to 100 batches")]
    [Authorize(AuthenticationSchemes = AuthSchemes.InputBasic)]
    [ProducesResponseType(StatusCodes.Status202Accepted)]
    public static Task<IResult> Post([NotBody] IngestRequest request, ClaimsPrincipal user, WorkspaceDirectory directory, IngestionPipeline pipeline, HttpResponse response, CancellationToken ct) =>
        IngestSteps.SubmitAsync(request, user.InputOf(directory), InputKind.Server, isHistorical: false, pipeline, response, ct);
}

public static class IngestHistoricalEndpoint
{
    public static Task<IngestRequest> LoadAsync(HttpRequest request, TimeProvider clock, CancellationToken ct) =>
        IngestSteps.ReadAsync(request, BodyShape.Bulk, clock, ct);

    public static ProblemDetails Validate(IngestRequest request, IValidator<Domain.Ingestion.Batch> validator) =>
        IngestSteps.Validate(request, validator, historical: true);

    [WolverinePost("/v2/bulkevents/historical", Name = "Upload historical batches (older than 72 hours)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.InputBasic)]
    [ProducesResponseType(StatusCodes.Status202Accepted)]
    public static Task<IResult> Post([NotBody] IngestRequest request, ClaimsPrincipal user, WorkspaceDirectory directory, IngestionPipeline pipeline, HttpResponse response, CancellationToken ct) =>
        IngestSteps.SubmitAsync(request, user.InputOf(directory), InputKind.Server, isHistorical: true, pipeline, response, ct);
}

/// <summary>The steps the three endpoints share.</summary>
public static class IngestSteps
{
    public static async Task<IngestRequest> ReadAsync(HttpRequest request, BodyShape shape, TimeProvider clock, CancellationToken ct)
    {
        var receivedAt = clock.GetUtcNow();
        var read = await BatchReader.ReadAsync(request, shape, ct);
        return read with { ReceivedAt = receivedAt };
    }

    public static ProblemDetails Validate(IngestRequest request, IValidator<Domain.Ingestion.Batch> validator, bool historical)
    {
        if (request.Problem is not null) return request.Problem;
        var errors = new List<FieldError>();
        for (var i = 0; i < request.Batches.Count; i++)
        {
            var context = new ValidationContext<Domain.Ingestion.Batch>(request.Batches[i].Batch);
            if (historical) context.RootContextData[BatchValidator.HistoricalAsOf] = request.ReceivedAt;
            var prefix = request.Batches.Count > 1 || request.IsBulk ? $"[{i}]" : "";
            foreach (var failure in validator.Validate(context).Errors)
                errors.Add(new FieldError(BatchReader.Join(prefix, failure.PropertyName), failure.ErrorMessage));
        }
        return errors.Count == 0 ? Wolverine.Http.WolverineContinue.NoProblems : ApiProblems.Invalid(errors, "The batch is invalid");
    }

    public static async Task<IResult> SubmitAsync(IngestRequest request, Input input, InputKind channel, bool isHistorical,
        IngestionPipeline pipeline, HttpResponse response, CancellationToken ct)
    {
        var pending = request.Batches.Select(b => new PendingBatch(b, input, channel, request.ReceivedAt, isHistorical)).ToList();
        var outcomes = await pipeline.SubmitAsync(pending, ct);
        var failed = outcomes.FirstOrDefault(o => o.Kind == IngestOutcomeKind.Failed);
        if (failed is null) return Results.StatusCode(StatusCodes.Status202Accepted);
        if (IngestionPipeline.UnstorableValue(failed.Error) is { } unstorable)
        {
            // Retrying cannot help: a 400 naming the batch (in bulk, the others were stored, each in its own transaction).
            var index = outcomes.ToList().IndexOf(failed);
            return Results.Problem(ApiProblems.Invalid([new FieldError(request.IsBulk ? $"[{index}]" : "",
                $"the batch holds a value that cannot be stored: {unstorable}.")]));
        }

        // Nothing is acknowledged that is not stored: tell the client to send it again.
        response.Headers.RetryAfter = "1";
        var reason = failed.Error is ShuttingDownException
            ? "EventProfiles is shutting down; send the request again."
            : "The batch could not be stored right now; send the request again.";
        return Results.Problem(ApiProblems.Create(StatusCodes.Status503ServiceUnavailable, "Service unavailable",
            [new FieldError("", reason, "SERVICE_UNAVAILABLE")]));
    }
}
