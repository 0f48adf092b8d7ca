using System.Security.Claims;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Privacy;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Wolverine.Http;

namespace EventProfiles.Commands.Privacy;

/// <summary>A data-subject request as the console lists it: never the identities' values (only their types).</summary>
public sealed record RequestListItem(
    [property: JsonPropertyName("subject_request_id")] Guid Id,
    [property: JsonPropertyName("workspace_id")] int WorkspaceId,
    [property: JsonPropertyName("regulation")] string Regulation,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("identity_types")] IReadOnlyList<string> IdentityTypes,
    [property: JsonPropertyName("mpid")] string? Mpid,
    [property: JsonPropertyName("received_time")] DateTimeOffset ReceivedTime,
    [property: JsonPropertyName("process_at")] DateTimeOffset ProcessAt,
    [property: JsonPropertyName("expected_completion_time")] DateTimeOffset? ExpectedCompletion,
    [property: JsonPropertyName("completed_at")] DateTimeOffset? CompletedAt,
    [property: JsonPropertyName("profiles_matched")] int ProfilesMatched,
    [property: JsonPropertyName("results_until")] DateTimeOffset? ResultsUntil);

public sealed record RequestListPage(
    [property: JsonPropertyName("page")] int Page,
    [property: JsonPropertyName("size")] int Size,
    [property: JsonPropertyName("total")] int Total,
    [property: JsonPropertyName("requests")] IReadOnlyList<RequestListItem> Requests);

/// <summary>
/// <c>GET /api/admin/privacy/requests</c>: the data-subject requests of the workspaces this user may see, newest first,
/// filtered by status, type, workspace and received date (inclusive, UTC days) — the console's Privacy page.
/// </summary>
public static class ListRequestsEndpoint
{
    private static readonly string[] Statuses = [DsrStatuses.Pending, DsrStatuses.InProgress, DsrStatuses.Completed, DsrStatuses.Cancelled];

    [WolverineGet("/api/admin/privacy/requests", Name = "Data-subject requests of the user's workspaces")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Get(string? status, string? type, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "workspace_id")] int? workspaceId, string? from, string? to, string? mpid, int? page, int? size,
        ClaimsPrincipal user, IQuerySession session, CancellationToken ct)
    {
        var access = AdminAccess.Of(user);
        var problems = new List<FieldError>();
        if (status is { Length: > 0 } && !Statuses.Contains(status)) problems.Add(new FieldError("status", $"must be one of {string.Join(", ", Statuses)}."));
        if (type is { Length: > 0 } && !DsrTypes.All.Contains(type)) problems.Add(new FieldError("type", $"must be one of {string.Join(", ", DsrTypes.All)}."));
        DateOnly? fromDay = null, toDay = null;
        if (from is { Length: > 0 }) { if (DateOnly.TryParseExact(from, "yyyy-MM-dd", out var d)) fromDay = d; else problems.Add(new FieldError("from", "must be a date (yyyy-mm-dd).")); }
        if (to is { Length: > 0 }) { if (DateOnly.TryParseExact(to, "yyyy-MM-dd", out var d)) toDay = d; else problems.Add(new FieldError("to", "must be a date (yyyy-mm-dd).")); }
        long? person = null;
        if (mpid is { Length: > 0 }) { if (long.TryParse(mpid, out var m)) person = m; else problems.Add(new FieldError("mpid", "must be an MPID (a 64-bit integer).")); }
        if (page is < 1) problems.Add(new FieldError("page", "must be 1 or more."));
        if (size is < 1 or > 200) problems.Add(new FieldError("size", "must be between 1 and 200."));
        if (problems.Count > 0) return Results.Problem(ApiProblems.Invalid(problems));
        if (workspaceId is { } ws && !access.Sees(ws))
            return Results.Problem(AdminAccess.Forbidden("workspace_id", $"User '{access.User}' may not use workspace {ws}."));

        var (pageNumber, pageSize) = (page ?? 1, size ?? 50);
        var query = session.Query<DataSubjectRequest>().AsQueryable();
        if (access.Workspaces is { } visible) { var ids = visible.ToArray(); query = query.Where(r => ids.Contains(r.WorkspaceId)); }
        if (workspaceId is { } only) query = query.Where(r => r.WorkspaceId == only);
        if (status is { Length: > 0 }) query = query.Where(r => r.Status == status);
        if (type is { Length: > 0 }) query = query.Where(r => r.Type == type);
        if (person is { } p) query = query.Where(r => r.Mpid == p);
        if (fromDay is { } f) { var start = new DateTimeOffset(f.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero); query = query.Where(r => r.ReceivedTime >= start); }
        if (toDay is { } t) { var end = new DateTimeOffset(t.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero); query = query.Where(r => r.ReceivedTime < end); }
        var total = await query.CountAsync(ct);
        var requests = await query.OrderByDescending(r => r.ReceivedTime).Skip((pageNumber - 1) * pageSize).Take(pageSize).ToListAsync(ct);
        // Which of them have results to download (access and portability exports, kept 7 days), without loading the files.
        var requestIds = requests.Select(r => r.Id).ToArray();
        var exports = requestIds.Length == 0 ? new Dictionary<Guid, DateTimeOffset>() : (await session.Query<DsrExport>().Where(e => requestIds.Contains(e.Id))
            .Select(e => new ExportExpiry { Id = e.Id, ExpiresAt = e.ExpiresAt }).ToListAsync(ct)).ToDictionary(e => e.Id, e => e.ExpiresAt);
        return Results.Ok(new RequestListPage(pageNumber, pageSize, total, requests.Select(r => new RequestListItem(r.Id, r.WorkspaceId, r.Regulation, r.Type, r.Status,
            r.Identities.Keys.Order().ToList(), r.Mpid?.ToString(System.Globalization.CultureInfo.InvariantCulture), r.ReceivedTime, r.ProcessAt, r.ExpectedCompletion,
            r.CompletedAt, r.ProfilesMatched, exports.TryGetValue(r.Id, out var until) ? until : null)).ToList()));
    }

    public sealed class ExportExpiry
    {
        public Guid Id { get; set; }
        public DateTimeOffset ExpiresAt { get; set; }
    }
}

/// <summary><c>GET /api/admin/privacy/requests/{id}/results</c>: an access or portability export for an admin of its workspace (7 days).</summary>
public static class RequestResultsEndpoint
{
    [WolverineGet("/api/admin/privacy/requests/{id}/results", Name = "Download a data-subject request's results (admin)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Get(Guid id, ClaimsPrincipal user, IQuerySession session, TimeProvider clock, CancellationToken ct)
    {
        if (await session.LoadAsync<DsrExport>(id, ct) is not { } export || !AdminAccess.Of(user).Sees(export.WorkspaceId))
            return Results.Problem(ApiProblems.Create(StatusCodes.Status404NotFound, "Not found", [new FieldError("id", "No results: unknown request, or nothing matched.", "NOT_FOUND")]));
        if (clock.GetUtcNow() > export.ExpiresAt)
            return Results.Problem(ApiProblems.Create(StatusCodes.Status410Gone, "Gone", [new FieldError("id", "The download expired (7 days).", "GONE")]));
        return Results.File(export.Zip, "application/zip", $"{id}.zip");
    }
}
