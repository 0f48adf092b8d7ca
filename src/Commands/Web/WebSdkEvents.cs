using EventProfiles.Commands.Api;
using EventProfiles.Commands.Ingestion;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Workspaces;
using FluentValidation;
using Microsoft.AspNetCore.Cors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace EventProfiles.Commands.Web;

/// <summary>A web SDK upload: the input named by the key in the path, and its batch.</summary>
public sealed record WebUpload(Input? Input, IngestRequest? Request, ProblemDetails? Problem);

/// <summary>
/// <c>POST /v3/JS/{apiKey}/events</c>: what the web SDK uploads (events-api.md §1.1). The same batch JSON as the Events
/// API, sent as <c>text/plain</c> (no CORS preflight; <c>navigator.sendBeacon</c> works the same), authenticated by the
/// key in the path alone. Attributes change only through <c>user_attribute_change</c> events: the batch's
/// <c>user_attributes</c> is the SDK's snapshot and may be stale.
/// </summary>
public static class WebSdkEventsEndpoint
{
    public static async Task<WebUpload> LoadAsync(string apiKey, HttpRequest request, WorkspaceDirectory directory, TimeProvider clock, CancellationToken ct)
    {
        var input = directory.InputByKey(apiKey);
        if (input is null)
            return new WebUpload(null, null, ApiProblems.Create(StatusCodes.Status401Unauthorized, "Unauthorized",
                [new FieldError("apiKey", "Unknown API key.", "UNAUTHORIZED")]));
        if (!input.AllowKeyOnly)
            return new WebUpload(input, null, ApiProblems.Create(StatusCodes.Status403Forbidden, "Forbidden",
                [new FieldError("apiKey", "This input does not take SDK uploads authenticated by the key alone.", "FORBIDDEN")]));
        return new WebUpload(input, await IngestSteps.ReadAsync(request, BodyShape.Single, clock, ct), null);
    }

    public static ProblemDetails Validate(WebUpload upload, IValidator<Domain.Ingestion.Batch> validator) =>
        upload.Problem ?? IngestSteps.Validate(upload.Request!, validator, historical: false);

    [WolverinePost("/v3/JS/{apiKey}/events", Name = "Web SDK upload"), EnableCors(SdkCors.Policy)]
    public static Task<IResult> Post(string apiKey, [NotBody] WebUpload upload, IngestionPipeline pipeline, HttpResponse response, CancellationToken ct) =>
        IngestSteps.SubmitAsync(upload.Request!, upload.Input!, InputKind.Web, isHistorical: false, pipeline, response, ct);
}
