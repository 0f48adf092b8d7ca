using System.Globalization;
using System.Security.Claims;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Forwarding;
using EventProfiles.Domain.Operations;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace EventProfiles.Commands.Operations;

/// <summary>A request for an operation: <c>{ "kind": "rebuild", "workspace_id": 1, "parameters": { … } }</c>.</summary>
public sealed record JobRequest(
    [property: JsonPropertyName("kind")] string? Kind,
    [property: JsonPropertyName("workspace_id")] int? WorkspaceId,
    [property: JsonPropertyName("parameters")] Dictionary<string, string>? Parameters);

/// <summary>A job as the admin API and the command line show it, with its rate and the time left.</summary>
public sealed record JobView(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("workspace_id")] int WorkspaceId,
    [property: JsonPropertyName("parameters")] IReadOnlyDictionary<string, string> Parameters,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("requested_by")] string RequestedBy,
    [property: JsonPropertyName("created_at")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("started_at")] DateTimeOffset? StartedAt,
    [property: JsonPropertyName("finished_at")] DateTimeOffset? FinishedAt,
    [property: JsonPropertyName("done")] long Done,
    [property: JsonPropertyName("total")] long? Total,
    [property: JsonPropertyName("percent")] double? Percent,
    [property: JsonPropertyName("events")] long Events,
    [property: JsonPropertyName("events_per_second")] double? EventsPerSecond,
    [property: JsonPropertyName("seconds_left")] double? SecondsLeft,
    [property: JsonPropertyName("cursor")] string? Cursor,
    [property: JsonPropertyName("error")] string? Error,
    [property: JsonPropertyName("result")] string? Result)
{
    public static JobView From(OperationJob job)
    {
        var rate = job.ElapsedSeconds > 0 ? Math.Round(job.Events / job.ElapsedSeconds, 1) : (double?)null;
        var unitRate = job.ElapsedSeconds > 0 ? job.Done / job.ElapsedSeconds : 0;
        var left = job.Total is { } total && unitRate > 0 && job.Status == OperationStatuses.Running ? Math.Round((total - job.Done) / unitRate, 1) : (double?)null;
        return new JobView(job.Id, job.Kind, job.WorkspaceId, job.Parameters, job.Status, job.RequestedBy, job.CreatedAt, job.StartedAt, job.FinishedAt,
            job.Done, job.Total, job.Percent, job.Events, rate, left, job.Cursor, job.Error, job.Result);
    }
}

/// <summary>What each kind of job needs, checked before it is queued (each problem names its field).</summary>
public static class JobRequests
{
    /// <param name="confineFiles">
    /// For requests over HTTP: files stay in the operations folder (an export's file is chosen there, an import names an
    /// upload), so the admin API can never read or write elsewhere on the server. Null for the command line, whose user
    /// already holds the database credentials and names files on their own machine.
    /// </param>
    public static async Task<(string Kind, int WorkspaceId, Dictionary<string, string> Parameters, List<FieldError> Problems)> CheckAsync(
        JobRequest request, WorkspaceDirectory directory, IQuerySession session, OperationFiles? confineFiles, CancellationToken ct)
    {
        var problems = new List<FieldError>();
        var kind = request.Kind ?? "";
        var parameters = request.Parameters ?? [];
        var workspace = request.WorkspaceId ?? 0;
        string Parameter(string name) => parameters.GetValueOrDefault(name) ?? "";
        void Require(bool ok, string field, string message) { if (!ok) problems.Add(new FieldError(field, message)); }

        if (!OperationKinds.All.Contains(kind))
        {
            problems.Add(new FieldError("kind", $"must be one of {string.Join(", ", OperationKinds.All)}."));
            return (kind, workspace, parameters, problems);
        }
        if (kind == OperationKinds.Rebuild)
        {
            Require(workspace == 0, "workspace_id", "must be left out: a rebuild covers every workspace (people are org-wide).");
            Require(Parameter("projection") is "" || RebuildTargets.Names.Contains(Parameter("projection")), "parameters.projection",
                $"must be one of {string.Join(", ", RebuildTargets.Names)}.");
            Require(Parameter("mpid") is "" || StreamKey.TryParse(Parameter("mpid"), out _), "parameters.mpid", "is not an MPID (a 64-bit integer).");
            return (kind, 0, parameters, problems);
        }

        if (directory.WorkspaceById(workspace) is null)
        {
            problems.Add(new FieldError("workspace_id", request.WorkspaceId is null ? "is required." : $"there is no workspace {workspace}."));
            return (kind, workspace, parameters, problems);
        }
        switch (kind)
        {
            case OperationKinds.Replay:
                var input = directory.InputByName(Parameter("input"));
                Require(input is not null && input.Workspace.Id == workspace, "parameters.input", $"must name an input of workspace {workspace}.");
                var connection = Parameter("connection") is { Length: > 0 } id ? await session.LoadAsync<Connection>(id, ct) : null;
                Require(connection is not null, "parameters.connection", "must name an existing connection (its output receives the replay).");
                Require(connection is null || input is null || connection.Input == input.Name, "parameters.connection", "must be a connection of that input.");
                var from = TryTime(Parameter("from"));
                var to = TryTime(Parameter("to"));
                Require(from is not null, "parameters.from", "must be an ISO 8601 time (e.g. 2026-11-01T00:00:00Z).");
                Require(to is not null, "parameters.to", "must be an ISO 8601 time (e.g. 2026-11-02T00:00:00Z).");
                Require(from is null || to is null || from < to, "parameters.to", "must be after from.");
                break;
            case OperationKinds.WarehouseResync:
                var output = Parameter("output") is { Length: > 0 } outputId ? await session.LoadAsync<Output>(outputId, ct) : null;
                Require(output is { Kind: OutputKind.Warehouse } && (output.WorkspaceId ?? workspace) == workspace, "parameters.output",
                    $"must name a warehouse output that takes workspace {workspace}'s data.");
                break;
            case OperationKinds.Export:
                Require(confineFiles is null || Parameter("file") is "", "parameters.file",
                    "must be left out: the export is written on the server and downloaded from /api/admin/jobs/{id}/download.");
                break;
            case OperationKinds.Import when confineFiles is not null:
                var upload = confineFiles.Upload(Parameter("file"));
                Require(upload is not null && File.Exists(upload), "parameters.file", "must name a file uploaded with POST /api/admin/jobs/files.");
                if (upload is not null) parameters["file"] = upload;
                break;
            case OperationKinds.Import:
                Require(File.Exists(Parameter("file")), "parameters.file", "must name a readable JSON Lines file (an export).");
                break;
        }
        return (kind, workspace, parameters, problems);
    }

    public static DateTimeOffset? TryTime(string text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at) ? at : null;
}

public static class CreateJobEndpoint
{
    [WolverinePost("/api/admin/jobs", Name = "Start an operation (rebuild, replay, export, import)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.Admin)]
    public static async Task<IResult> Post(JobRequest request, IDocumentStore store, WorkspaceDirectory directory, OperationFiles files, ClaimsPrincipal user,
        TimeProvider clock, CancellationToken ct)
    {
        await using var session = store.QuerySession();
        var (kind, workspace, parameters, problems) = await JobRequests.CheckAsync(request, directory, session, files, ct);
        if (problems.Count > 0) return Results.Problem(ApiProblems.Invalid(problems));
        var access = AdminAccess.Of(user);
        if (access.MayChange(JobAccess.WorkspaceOf(workspace), "workspace_id") is { } forbidden) return Results.Problem(forbidden);
        // A limited user imports only what was uploaded for that workspace (an upload or export of another stays out of reach).
        if (kind == OperationKinds.Import && !access.SeesAll && Path.GetFileName(parameters.GetValueOrDefault("file") ?? "") is var name
            && !name.StartsWith(OperationFiles.UploadPrefix(workspace), StringComparison.Ordinal))
            return Results.Problem(ApiProblems.Invalid([new FieldError("parameters.file",
                $"must name a file uploaded for workspace {workspace} (POST /api/admin/jobs/files?workspace_id={workspace}).")]));
        try
        {
            var job = await OperationJobs.QueueAsync(store, kind, workspace, parameters, user.Identity?.Name ?? "", clock.GetUtcNow(), ct);
            return Results.Json(JobView.From(job), statusCode: StatusCodes.Status202Accepted);
        }
        catch (OperationConflictException conflict)
        {
            return Results.Problem(ApiProblems.Create(StatusCodes.Status409Conflict, "An operation of this kind is already open",
                [new FieldError("kind", conflict.Message, "CONFLICT")]));
        }
    }
}

public static class ListJobsEndpoint
{
    [WolverineGet("/api/admin/jobs", Name = "List operations, newest first")]
    [Authorize(AuthenticationSchemes = AuthSchemes.Admin)]
    public static async Task<IResult> Get(string? kind, string? status, IQuerySession session, ClaimsPrincipal user, CancellationToken ct)
    {
        IQueryable<OperationJob> query = session.Query<OperationJob>();
        if (kind is { Length: > 0 }) query = query.Where(j => j.Kind == kind);
        if (status is { Length: > 0 }) query = query.Where(j => j.Status == status);
        if (AdminAccess.Of(user).Workspaces is { } mine)
        {
            var ids = mine.ToArray();
            query = query.Where(j => ids.Contains(j.WorkspaceId));
        }
        var jobs = await query.OrderByDescending(j => j.CreatedAt).Take(100).ToListAsync(ct);
        return Results.Json(jobs.Select(JobView.From));
    }
}

public static class GetJobEndpoint
{
    [WolverineGet("/api/admin/jobs/{id}", Name = "An operation's status and progress")]
    [Authorize(AuthenticationSchemes = AuthSchemes.Admin)]
    public static async Task<IResult> Get(Guid id, IQuerySession session, ClaimsPrincipal user, CancellationToken ct) =>
        await JobAccess.LoadVisibleAsync(session, id, user, ct) is { } job ? Results.Json(JobView.From(job)) : JobNotFound(id);

    public static IResult JobNotFound(Guid id) =>
        Results.Problem(ApiProblems.Create(StatusCodes.Status404NotFound, "Not found", [new FieldError("id", $"There is no job {id}.", "NOT_FOUND")]));
}

public static class StopJobEndpoints
{
    [WolverinePost("/api/admin/jobs/{id}/pause", Name = "Pause an operation (resumable at its cursor)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.Admin)]
    public static Task<IResult> Pause(Guid id, IDocumentStore store, TimeProvider clock, ClaimsPrincipal user, CancellationToken ct) =>
        StopAsync(id, OperationStatuses.Paused, store, clock, user, ct);

    [WolverinePost("/api/admin/jobs/{id}/cancel", Name = "Cancel an operation")]
    [Authorize(AuthenticationSchemes = AuthSchemes.Admin)]
    public static Task<IResult> Cancel(Guid id, IDocumentStore store, TimeProvider clock, ClaimsPrincipal user, CancellationToken ct) =>
        StopAsync(id, OperationStatuses.Cancelled, store, clock, user, ct);

    private static async Task<IResult> StopAsync(Guid id, string stopAs, IDocumentStore store, TimeProvider clock, ClaimsPrincipal user, CancellationToken ct)
    {
        if (!await JobAccess.IsVisibleAsync(store, id, user, ct)) return GetJobEndpoint.JobNotFound(id);
        var job = await OperationJobs.StopAsync(store, id, stopAs, clock.GetUtcNow(), ct);
        if (job is null) return GetJobEndpoint.JobNotFound(id);
        if (!OperationStatuses.IsOpen(job.Status) && job.Status != stopAs)
            return Results.Problem(ApiProblems.Create(StatusCodes.Status409Conflict, "The operation has ended",
                [new FieldError("id", $"Job {id} is {job.Status}.", "CONFLICT")]));
        return Results.Json(JobView.From(job), statusCode: StatusCodes.Status202Accepted);
    }
}

public static class ResumeJobEndpoint
{
    [WolverinePost("/api/admin/jobs/{id}/resume", Name = "Resume a paused or failed operation at its cursor")]
    [Authorize(AuthenticationSchemes = AuthSchemes.Admin)]
    public static async Task<IResult> Post(Guid id, IDocumentStore store, ClaimsPrincipal user, CancellationToken ct)
    {
        if (!await JobAccess.IsVisibleAsync(store, id, user, ct)) return GetJobEndpoint.JobNotFound(id);
        var job = await OperationJobs.ResumeAsync(store, id, ct);
        if (job is null) return GetJobEndpoint.JobNotFound(id);
        if (job.Status != OperationStatuses.Queued)
            return Results.Problem(ApiProblems.Create(StatusCodes.Status409Conflict, "Only a paused or failed operation can be resumed",
                [new FieldError("id", $"Job {id} is {job.Status}.", "CONFLICT")]));
        return Results.Json(JobView.From(job), statusCode: StatusCodes.Status202Accepted);
    }
}

public static class DownloadExportEndpoint
{
    [WolverineGet("/api/admin/jobs/{id}/download", Name = "Download an export's JSON Lines")]
    [Authorize(AuthenticationSchemes = AuthSchemes.Admin)]
    public static async Task<IResult> Get(Guid id, IQuerySession session, ClaimsPrincipal user, CancellationToken ct)
    {
        var job = await JobAccess.LoadVisibleAsync(session, id, user, ct);
        if (job is null) return GetJobEndpoint.JobNotFound(id);
        if (job.Kind != OperationKinds.Export || job.Status != OperationStatuses.Completed || job.Result is not { } path || !File.Exists(path))
            return Results.Problem(ApiProblems.Create(StatusCodes.Status409Conflict, "Nothing to download",
                [new FieldError("id", $"Job {id} is not a completed export whose file is still on the server.", "CONFLICT")]));
        return Results.File(path, "application/x-ndjson", Path.GetFileName(path));
    }
}

/// <summary>
/// <c>POST /api/admin/jobs/files[?workspace_id=]</c>: the body (an export's JSON Lines) saved in the operations folder, to
/// import by its name. An upload for a workspace can be imported by that workspace's admins; one without, by admins of
/// every workspace only.
/// </summary>
public static class UploadFileEndpoint
{
    [WolverinePost("/api/admin/jobs/files", Name = "Upload a file for an import")]
    [Authorize(AuthenticationSchemes = AuthSchemes.Admin)]
    public static async Task<IResult> Post(HttpRequest request, OperationFiles files, WorkspaceDirectory directory, ClaimsPrincipal user, [FromQuery(Name = "workspace_id")] int? workspaceId,
        CancellationToken ct)
    {
        if (workspaceId is { } ws && directory.WorkspaceById(ws) is null)
            return Results.Problem(ApiProblems.Invalid([new FieldError("workspace_id", $"there is no workspace {ws}.")]));
        if (AdminAccess.Of(user).MayChange(workspaceId, "workspace_id") is { } forbidden) return Results.Problem(forbidden);
        var name = $"{OperationFiles.UploadPrefix(workspaceId)}{Guid.CreateVersion7()}.jsonl";
        Directory.CreateDirectory(files.Folder);
        var path = Path.Combine(files.Folder, name);
        try
        {
            await using var file = File.Create(path);
            await request.Body.CopyToAsync(file, ct);
        }
        catch
        {
            // Over the upload limit (413), not what its encoding says (400) or cut off: no half file is left behind.
            File.Delete(path);
            throw;
        }
        return Results.Json(new Dictionary<string, string> { ["file"] = name }, statusCode: StatusCodes.Status201Created);
    }
}

/// <summary>Jobs as admin users see them: a job of a workspace is its admins'; a rebuild (workspace 0) is org-wide.</summary>
public static class JobAccess
{
    public static int? WorkspaceOf(int jobWorkspace) => jobWorkspace == 0 ? null : jobWorkspace;

    public static async Task<OperationJob?> LoadVisibleAsync(IQuerySession session, Guid id, ClaimsPrincipal user, CancellationToken ct) =>
        await session.LoadAsync<OperationJob>(id, ct) is { } job && AdminAccess.Of(user).Sees(WorkspaceOf(job.WorkspaceId)) ? job : null;

    public static async Task<bool> IsVisibleAsync(IDocumentStore store, Guid id, ClaimsPrincipal user, CancellationToken ct)
    {
        await using var session = store.QuerySession();
        return await LoadVisibleAsync(session, id, user, ct) is not null;
    }
}
