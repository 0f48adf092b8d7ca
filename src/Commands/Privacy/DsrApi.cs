using System.Globalization;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Privacy;
using EventProfiles.Domain.Security;
using EventProfiles.Domain.Workspaces;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using Wolverine;
using Wolverine.Http;

namespace EventProfiles.Commands.Privacy;

public sealed record DsrExtension(
    [property: JsonPropertyName("skip_waiting_period")] bool? SkipWaitingPeriod,
    [property: JsonPropertyName("subject_identities")] Dictionary<string, DsrIdentity?>? SubjectIdentities);

/// <summary>The OpenDSR v3 request body (§4.2).</summary>
public sealed record DsrBody(
    [property: JsonPropertyName("regulation")] string? Regulation,
    [property: JsonPropertyName("subject_request_id")] string? SubjectRequestId,
    [property: JsonPropertyName("subject_request_type")] string? SubjectRequestType,
    [property: JsonPropertyName("submitted_time")] string? SubmittedTime,
    [property: JsonPropertyName("subject_identities")] Dictionary<string, DsrIdentity?>? SubjectIdentities,
    [property: JsonPropertyName("api_version")] string? ApiVersion,
    [property: JsonPropertyName("status_callback_urls")] List<string>? StatusCallbackUrls,
    [property: JsonPropertyName("group_id")] string? GroupId,
    [property: JsonPropertyName("extensions")] Dictionary<string, DsrExtension?>? Extensions)
{
    public const string ExtensionKey = "opendsr.mparticle.com";
    public const int MaxIdentities = 50;
    public const int MaxCallbackUrls = 5;

    public DsrExtension? Extension => Extensions?.GetValueOrDefault(ExtensionKey);

    /// <summary>Checks the request (§4.2); on success, the identities mapped to our types and the MPID if one was given.</summary>
    public List<FieldError> Check(out Dictionary<string, string> identities, out long? mpid)
    {
        var errors = new List<FieldError>();
        identities = [];
        mpid = null;
        if (Regulation is null || !DsrTypes.Regulations.Contains(Regulation)) errors.Add(new FieldError("regulation", "must be gdpr or ccpa."));
        if (!Guid.TryParse(SubjectRequestId, out _)) errors.Add(new FieldError("subject_request_id", "must be a UUID."));
        if (SubjectRequestType is null || !DsrTypes.All.Contains(SubjectRequestType)) errors.Add(new FieldError("subject_request_type", "must be access, portability or erasure."));
        if (!DateTimeOffset.TryParse(SubmittedTime, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out _)) errors.Add(new FieldError("submitted_time", "must be an ISO 8601 time."));
        if (ApiVersion is not (null or "3.0")) errors.Add(new FieldError("api_version", "must be 3.0."));
        // Each URL is called on every status change: a bound keeps one request from becoming many calls.
        if (StatusCallbackUrls?.Count > MaxCallbackUrls) errors.Add(new FieldError("status_callback_urls", $"At most {MaxCallbackUrls} callback URLs."));
        else
            for (var i = 0; i < (StatusCallbackUrls?.Count ?? 0); i++)
                if (OutboundUrls.Parse(StatusCallbackUrls![i], out var problem) is null) errors.Add(new FieldError($"status_callback_urls[{i}]", problem!));

        var given = new List<(string Field, string Name, DsrIdentity? Identity, bool Extension)>();
        given.AddRange((SubjectIdentities ?? []).Select(kv => ($"subject_identities.{kv.Key}", kv.Key, kv.Value, false)));
        given.AddRange((Extension?.SubjectIdentities ?? []).Select(kv => ($"extensions.{ExtensionKey}.subject_identities.{kv.Key}", kv.Key, kv.Value, true)));
        if (given.Count == 0) errors.Add(new FieldError("subject_identities", "Name at least one identity of the subject."));
        if (given.Count > MaxIdentities) errors.Add(new FieldError("subject_identities", $"At most {MaxIdentities} identities."));
        foreach (var (field, name, identity, extension) in given)
        {
            var type = extension ? DsrIdentityTypes.FromExtension(name) : DsrIdentityTypes.FromStandard(name);
            if (type is null && !(extension && name == DsrIdentityTypes.Mpid))
            {
                errors.Add(new FieldError(field, $"\"{name}\" is not a supported identity type (see /v3/discovery)."));
                continue;
            }
            if (string.IsNullOrWhiteSpace(identity?.Value)) { errors.Add(new FieldError($"{field}.value", "is required.")); continue; }
            if (identity.Encoding is not (null or "raw")) { errors.Add(new FieldError($"{field}.encoding", "only raw is accepted.")); continue; }
            if (type is null)
            {
                if (long.TryParse(identity.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var m) && m != 0) mpid = m;
                else errors.Add(new FieldError($"{field}.value", "must be a 64-bit MPID."));
            }
            else if (!identities.TryAdd(type, identity.Value)) errors.Add(new FieldError(field, "one identity per type."));
        }
        if (mpid is not null && given.Count > 1) errors.Add(new FieldError($"extensions.{ExtensionKey}.subject_identities.mpid", "When an mpid is given it must be the only identity."));
        return errors;
    }
}

/// <summary>The status object (§4.3), also the body of callbacks.</summary>
public sealed record DsrStatusView(
    [property: JsonPropertyName("controller_id")] string ControllerId,
    [property: JsonPropertyName("expected_completion_time")] DateTimeOffset? ExpectedCompletionTime,
    [property: JsonPropertyName("subject_request_id")] string SubjectRequestId,
    [property: JsonPropertyName("group_id")] string? GroupId,
    [property: JsonPropertyName("request_status")] string RequestStatus,
    [property: JsonPropertyName("api_version")] string ApiVersion,
    [property: JsonPropertyName("results_url")] string? ResultsUrl,
    [property: JsonPropertyName("extensions")] object? Extensions)
{
    public static DsrStatusView Of(DataSubjectRequest r) => new(r.WorkspaceId.ToString(CultureInfo.InvariantCulture), r.ExpectedCompletion,
        r.Id.ToString(), r.GroupId, r.Status, "3.0",
        r.Status == DsrStatuses.Completed && r.Type != DsrTypes.Erasure ? $"/v3/requests/{r.Id}/results" : null, null);
}

/// <summary>OpenDSR error bodies: ProblemDetails that also carry <c>code</c>, <c>message</c> and <c>errors[{domain, reason, message}]</c>.</summary>
public static class DsrProblems
{
    public const string ProcessorDomain = "opendsr.mparticle.com";

    public static ProblemDetails Create(int status, string title, IReadOnlyCollection<FieldError> errors)
    {
        var problem = ApiProblems.Create(status, title, errors);
        problem.Extensions["code"] = status;
        problem.Extensions["message"] = problem.Detail;
        problem.Extensions["errors"] = errors.Select(e => new Dictionary<string, string>
        {
            ["domain"] = "Validation", ["reason"] = e.Code, ["field"] = e.Field, ["message"] = e.Message,
        }).ToList();
        return problem;
    }

    public static IResult NotFound(string id) =>
        Results.Problem(Create(StatusCodes.Status404NotFound, "Not found", [new FieldError("subject_request_id", $"There is no request {id} in this workspace.", "NOT_FOUND")]));
}

/// <summary><c>POST /v3/requests</c>: a data-subject request of the input's workspace (§4.1–§4.3).</summary>
/// <summary>Accepting a request, wherever it comes from (OpenDSR, the web UI): one open request per type and subject.</summary>
public static class DataSubjectRequests
{
    /// <summary>Stores the request and schedules its processing and callbacks; false when the same request is already open.</summary>
    public static async Task<bool> SubmitAsync(IDocumentSession session, DataSubjectRequest request, OutgoingMessages messages, CancellationToken ct)
    {
        var open = await session.Query<DataSubjectRequest>()
            .Where(r => r.WorkspaceId == request.WorkspaceId && (r.Status == DsrStatuses.Pending || r.Status == DsrStatuses.InProgress)).ToListAsync(ct);
        if (open.Any(request.SameAs)) return false;
        session.Store(request);
        messages.Add(new ProcessDataSubjectRequest(request.Id).ScheduledAt(request.ProcessAt));
        messages.AddRange(DsrCallbacks.For(request));
        return true;
    }
}

public static class CreateDsrEndpoint
{
    public static async Task<ProblemDetails> ValidateAsync(DsrBody body, OutboundAddresses outbound, CancellationToken ct)
    {
        var errors = body.Check(out _, out _);
        // Where the callbacks lead needs a lookup, so it comes after the shape is right.
        if (errors.Count == 0)
            for (var i = 0; i < (body.StatusCallbackUrls?.Count ?? 0); i++)
                if (await outbound.ProblemAsync(body.StatusCallbackUrls![i], ct) is { } reason) errors.Add(new FieldError($"status_callback_urls[{i}]", reason));
        return errors.Count > 0 ? DsrProblems.Create(StatusCodes.Status400BadRequest, "The request is invalid", errors) : WolverineContinue.NoProblems;
    }

    [WolverinePost("/v3/requests", Name = "Submit a data subject request (OpenDSR v3)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.InputBasic)]
    [EnableRateLimiting(DsrRateLimits.Policy)]
    public static async Task<(IResult, OutgoingMessages)> Post(DsrBody body, ClaimsPrincipal user, WorkspaceDirectory directory, IDocumentSession session,
        DsrSigner signer, HttpResponse response, TimeProvider clock, CancellationToken ct)
    {
        var messages = new OutgoingMessages();
        body.Check(out var identities, out var mpid);
        var workspace = user.InputOf(directory).Workspace.Id;
        var id = Guid.Parse(body.SubjectRequestId!);
        if (await session.LoadAsync<DataSubjectRequest>(id, ct) is not null)
            return (Results.Problem(DsrProblems.Create(StatusCodes.Status400BadRequest, "The request is invalid",
                [new FieldError("subject_request_id", "A request with this subject_request_id already exists.", "DUPLICATE")])), messages);
        var now = clock.GetUtcNow();
        var skip = body.Extension?.SkipWaitingPeriod == true;
        var request = new DataSubjectRequest
        {
            Id = id, WorkspaceId = workspace, Regulation = body.Regulation!, Type = body.SubjectRequestType!,
            SubmittedTime = DateTimeOffset.Parse(body.SubmittedTime!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal),
            ReceivedTime = now, Identities = identities, Mpid = mpid, GroupId = body.GroupId, CallbackUrls = body.StatusCallbackUrls ?? [],
            SkipWaitingPeriod = skip,
            // Erasures wait 7 days (cancellable) unless told not to; access and portability run at once.
            ProcessAt = body.SubjectRequestType == DsrTypes.Erasure && !skip ? now + DataSubjectRequest.WaitingPeriod : now,
            EncodedRequest = Convert.ToBase64String(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(body))),
        };
        if (!await DataSubjectRequests.SubmitAsync(session, request, messages, ct))
            return (Results.Problem(DsrProblems.Create(StatusCodes.Status409Conflict, "Conflict",
                [new FieldError("subject_identities", "An open request of this type for these identities exists.", "CONFLICT")])), messages);
        response.Headers["X-OpenDSR-Processor-Domain"] = DsrProblems.ProcessorDomain;
        var answer = JsonSerializer.Serialize(new
        {
            expected_completion_time = request.ExpectedCompletion,
            received_time = request.ReceivedTime,
            encoded_request = request.EncodedRequest,
            subject_request_id = request.Id.ToString(),
            controller_id = workspace.ToString(CultureInfo.InvariantCulture),
        });
        response.Headers["X-OpenDSR-Signature"] = signer.Sign(answer);
        return (Results.Content(answer, "application/json", Encoding.UTF8, StatusCodes.Status201Created), messages);
    }
}

public static class GetDsrEndpoint
{
    [WolverineGet("/v3/requests/{id}", Name = "Status of a data subject request")]
    [Authorize(AuthenticationSchemes = AuthSchemes.InputBasic)]
    [EnableRateLimiting(DsrRateLimits.Policy)]
    public static async Task<IResult> Get(string id, ClaimsPrincipal user, WorkspaceDirectory directory, IQuerySession session, CancellationToken ct) =>
        Guid.TryParse(id, out var guid) && await session.LoadAsync<DataSubjectRequest>(guid, ct) is { } r && r.WorkspaceId == user.InputOf(directory).Workspace.Id
            ? Results.Ok(DsrStatusView.Of(r))
            : DsrProblems.NotFound(id);
}

public static class ListDsrEndpoint
{
    [WolverineGet("/v3/requests", Name = "Statuses of a group of data subject requests")]
    [Authorize(AuthenticationSchemes = AuthSchemes.InputBasic)]
    [EnableRateLimiting(DsrRateLimits.Policy)]
    public static async Task<IResult> Get([FromQuery(Name = "group_id")] string? groupId, ClaimsPrincipal user, WorkspaceDirectory directory, IQuerySession session, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(groupId))
            return Results.Problem(DsrProblems.Create(StatusCodes.Status400BadRequest, "The request is invalid", [new FieldError("group_id", "is required.")]));
        var workspace = user.InputOf(directory).Workspace.Id;
        var requests = await session.Query<DataSubjectRequest>().Where(r => r.WorkspaceId == workspace && r.GroupId == groupId).ToListAsync(ct);
        return Results.Ok(requests.Select(DsrStatusView.Of));
    }
}

public static class CancelDsrEndpoint
{
    /// <summary>Cancels a request still in its waiting period (§4.1).</summary>
    [WolverineDelete("/v3/requests/{id}", Name = "Cancel a pending data subject request")]
    [Authorize(AuthenticationSchemes = AuthSchemes.InputBasic)]
    [EnableRateLimiting(DsrRateLimits.Policy)]
    public static async Task<(IResult, OutgoingMessages)> Delete(string id, ClaimsPrincipal user, WorkspaceDirectory directory, IDocumentSession session, CancellationToken ct)
    {
        var messages = new OutgoingMessages();
        if (!Guid.TryParse(id, out var guid) || await session.LoadAsync<DataSubjectRequest>(guid, ct) is not { } r || r.WorkspaceId != user.InputOf(directory).Workspace.Id)
            return (DsrProblems.NotFound(id), messages);
        if (r.Status != DsrStatuses.Pending)
            return (Results.Problem(DsrProblems.Create(StatusCodes.Status400BadRequest, "The request is invalid",
                [new FieldError("subject_request_id", $"Only a pending request can be cancelled; this one is {r.Status}.", "NOT_PENDING")])), messages);
        r.Status = DsrStatuses.Cancelled;
        r.Redact();
        session.Store(r);
        messages.AddRange(DsrCallbacks.For(r));
        return (Results.Ok(new { expected_completion_time = (DateTimeOffset?)null, received_time = r.ReceivedTime, subject_request_id = r.Id.ToString(),
            controller_id = r.WorkspaceId.ToString(CultureInfo.InvariantCulture) }), messages);
    }
}

public static class DsrDiscoveryEndpoint
{
    /// <summary>What this processor supports (§4.1), and where its callback-signing certificate is.</summary>
    [WolverineGet("/v3/discovery", Name = "OpenDSR discovery")]
    [AllowAnonymous]
    public static IResult Get(PublicBaseUrl baseUrl) => Results.Ok(new
    {
        api_version = "3.0",
        supported_identities = DsrIdentityTypes.StandardNames.Select(n => new { identity_type = n, identity_format = "raw" }),
        supported_extensions = new { domain = DsrProblems.ProcessorDomain, supported_identities = DsrIdentityTypes.ExtensionNames, skip_waiting_period = true },
        supported_subject_request_types = DsrTypes.All,
        processor_certificate = $"{baseUrl.Value}/v3/certificate.pem", // configured, never the request's Host header
    });
}

public static class DsrCertificateEndpoint
{
    [WolverineGet("/v3/certificate.pem", Name = "OpenDSR callback signing certificate")]
    [AllowAnonymous]
    public static IResult Get(DsrSigner signer) => Results.Text(signer.CertificatePem, "application/x-pem-file");
}

public static class DsrResultsEndpoint
{
    /// <summary>The access/portability export (a ZIP of JSON Lines), for the requesting workspace's credentials, for 7 days (§1).</summary>
    [WolverineGet("/v3/requests/{id}/results", Name = "Download the results of an access or portability request")]
    [Authorize(AuthenticationSchemes = AuthSchemes.InputBasic)]
    [EnableRateLimiting(DsrRateLimits.Policy)]
    public static async Task<IResult> Get(string id, ClaimsPrincipal user, WorkspaceDirectory directory, IQuerySession session, TimeProvider clock, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var guid) || await session.LoadAsync<DsrExport>(guid, ct) is not { } export || export.WorkspaceId != user.InputOf(directory).Workspace.Id)
            return Results.Problem(DsrProblems.Create(StatusCodes.Status404NotFound, "Not found", [new FieldError("subject_request_id", "No results: unknown request, or nothing matched.", "NOT_FOUND")]));
        if (clock.GetUtcNow() > export.ExpiresAt)
            return Results.Problem(DsrProblems.Create(StatusCodes.Status410Gone, "Gone", [new FieldError("subject_request_id", "The download expired (7 days).", "GONE")]));
        return Results.File(export.Zip, "application/zip", $"{guid}.zip");
    }
}
