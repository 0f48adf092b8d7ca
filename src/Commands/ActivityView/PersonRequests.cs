using System.Security.Claims;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Privacy;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Privacy;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Wolverine;
using Wolverine.Http;

namespace EventProfiles.Commands.ActivityView;

/// <summary>What the profile page's privacy form sends: a GDPR/CCPA request for the person in one workspace.</summary>
public sealed record PersonRequestBody(
    [property: JsonPropertyName("workspace_id")] int? WorkspaceId,
    [property: JsonPropertyName("regulation")] string? Regulation,
    [property: JsonPropertyName("type")] string? Type);

public sealed record PersonRequestView(Guid SubjectRequestId, int WorkspaceId, string Regulation, string Type, string Status, DateTimeOffset ReceivedTime,
    DateTimeOffset ProcessAt, DateTimeOffset? ExpectedCompletionTime)
{
    public static PersonRequestView Of(DataSubjectRequest r) =>
        new(r.Id, r.WorkspaceId, r.Regulation, r.Type, r.Status, r.ReceivedTime, r.ProcessAt, r.ExpectedCompletion);
}

/// <summary>
/// The profile page's action (forwarding.md §7 "start a GDPR/CCPA DSR for the user"): a data subject request naming the
/// person's MPID, processed exactly like one sent to the OpenDSR API — an erasure waits the 7-day waiting period
/// (cancellable through <c>DELETE /v3/requests/{id}</c>), access and portability run at once.
/// </summary>
public static class PersonRequestEndpoints
{
    [WolverinePost("/ui/api/people/{mpid}/requests", Name = "Web UI: start a data subject request for a person")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static async Task<(IResult, OutgoingMessages)> Post(string mpid, PersonRequestBody body, ClaimsPrincipal user, WorkspaceDirectory directory,
        IDocumentSession session, TimeProvider clock, CancellationToken ct)
    {
        var messages = new OutgoingMessages();
        var access = ActivityViewAccess.For(user, directory);
        if (await PersonPageEndpoint.VisiblePersonAsync(mpid, access, session, ct) is not { } profile)
            return (ActivityViewJson.NotFound("mpid", $"No person {mpid} has data in the workspaces you may see."), messages);
        var problems = new List<FieldError>();
        if (body.WorkspaceId is not { } workspace || !access.Sees(workspace) || !profile.IsKnownIn(workspace))
            problems.Add(new FieldError("workspace_id", "must be a workspace you may see where this person has data."));
        if (!DsrTypes.Regulations.Contains(body.Regulation ?? "")) problems.Add(new FieldError("regulation", $"must be one of {string.Join(", ", DsrTypes.Regulations)}."));
        if (!DsrTypes.All.Contains(body.Type ?? "")) problems.Add(new FieldError("type", $"must be one of {string.Join(", ", DsrTypes.All)}."));
        if (problems.Count > 0) return (Results.Problem(ApiProblems.Invalid(problems)), messages);

        var now = clock.GetUtcNow();
        var request = new DataSubjectRequest
        {
            Id = Guid.NewGuid(), WorkspaceId = body.WorkspaceId!.Value, Regulation = body.Regulation!, Type = body.Type!,
            SubmittedTime = now, ReceivedTime = now, Mpid = profile.Mpid,
            ProcessAt = body.Type == DsrTypes.Erasure ? now + DataSubjectRequest.WaitingPeriod : now,
        };
        if (!await DataSubjectRequests.SubmitAsync(session, request, messages, ct))
            return (Results.Problem(ApiProblems.Create(StatusCodes.Status409Conflict, "Conflict",
                [new FieldError("type", $"An open {request.Type} request for this person exists in this workspace.", "CONFLICT")])), messages);
        return (Results.Json(PersonRequestView.Of(request), ActivityViewJson.Options, statusCode: StatusCodes.Status201Created), messages);
    }

    [WolverineGet("/ui/api/people/{mpid}/requests", Name = "Web UI: a person's open data subject requests")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static async Task<IResult> Get(string mpid, ClaimsPrincipal user, WorkspaceDirectory directory, LaggingReads reads, CancellationToken ct)
    {
        await using var session = await reads.QuerySessionAsync(ct); // may lag: a standby when there is one
        var access = ActivityViewAccess.For(user, directory);
        if (await PersonPageEndpoint.VisiblePersonAsync(mpid, access, session, ct) is not { } profile)
            return ActivityViewJson.NotFound("mpid", $"No person {mpid} has data in the workspaces you may see.");
        var ids = access.Ids;
        // Requests keep the MPID until they complete (then only hashes remain).
        var requests = await session.Query<DataSubjectRequest>()
            .Where(r => r.Mpid == profile.Mpid && ids.Contains(r.WorkspaceId)).OrderByDescending(r => r.ReceivedTime).ToListAsync(ct);
        return ActivityViewJson.Ok(requests.Select(PersonRequestView.Of));
    }
}
