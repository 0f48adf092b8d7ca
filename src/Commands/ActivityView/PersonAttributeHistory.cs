using System.Security.Claims;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Forwarding;
using EventProfiles.Commands.Profiles;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace EventProfiles.Commands.ActivityView;

/// <summary>
/// <c>GET /ui/api/people/{mpid}/workspaces/{workspaceId}/attributes/{name}/history</c>: the profile page's view of an
/// attribute's history (issue 21 §3) — the Profile API's answer (<see cref="AttributeHistoryEndpoint.AnswerAsync"/>, one
/// Domain fold), under the web UI's authorisation: only a workspace the signed-in user sees.
/// </summary>
public static class PersonAttributeHistoryEndpoint
{
    [WolverineGet("/ui/api/people/{mpid}/workspaces/{workspaceId:int}/attributes/{name}/history", Name = "Web UI: an attribute's history")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static async Task<IResult> Get(string mpid, int workspaceId, string name, [FromQuery] string? limit, [FromQuery] string? after,
        ClaimsPrincipal user, WorkspaceDirectory directory, LaggingReads reads, ProfileHistoryReader history, EnrichmentDefinitionsCache definitions, CancellationToken ct)
    {
        var access = ActivityViewAccess.For(user, directory);
        await using var session = await reads.QuerySessionAsync(ct);
        if (!access.Sees(workspaceId) || await PersonPageEndpoint.VisiblePersonAsync(mpid, access, session, ct) is not { } profile)
            return ActivityViewJson.NotFound("mpid", $"No person {mpid} has data in the workspaces you may see.");
        return await AttributeHistoryEndpoint.AnswerAsync(profile.Mpid, workspaceId, name, limit, after, history, definitions, ct);
    }
}
