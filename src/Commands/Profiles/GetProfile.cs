using System.Buffers;
using System.Security.Claims;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using EventProfiles.Projections.Identity;
using Npgsql;
using Wolverine.Http;

namespace EventProfiles.Commands.Profiles;

/// <summary>What every Profile API request names: org/account/workspace from the path, and the <c>fields</c> wanted.</summary>
public sealed record ProfileQuery(Workspace? Workspace, IReadOnlySet<string> Fields, ProblemDetails? Problem)
{
    public static ProfileQuery From(int orgId, int accountId, int workspaceId, string? fields, ClaimsPrincipal user, WorkspaceDirectory directory)
    {
        var workspace = directory.WorkspaceById(workspaceId);
        if (workspace is null || workspace.OrgId != orgId || workspace.AccountId != accountId)
            return Failed(StatusCodes.Status404NotFound, "Not found", "workspaceId", $"There is no workspace {workspaceId} in account {accountId} of org {orgId}.");
        if (!user.MayRead(workspaceId))
            return Failed(StatusCodes.Status403Forbidden, "Forbidden", "workspaceId", $"These credentials may not read workspace {workspaceId}.");

        if (string.IsNullOrWhiteSpace(fields))
            return Failed(StatusCodes.Status400BadRequest, "The request is invalid", "fields",
                $"is required: a comma-separated list of {string.Join(", ", ProfileDocument.AllFields)}.");
        var requested = fields.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        var unknown = requested.Except(ProfileDocument.AllFields).ToList();
        if (unknown.Count > 0)
            return Failed(StatusCodes.Status400BadRequest, "The request is invalid", "fields",
                $"unknown value(s) {string.Join(", ", unknown.Select(u => $"\"{u}\""))}; expected {string.Join(", ", ProfileDocument.AllFields)}.");
        return new ProfileQuery(workspace, requested, null);
    }

    private static ProfileQuery Failed(int status, string title, string field, string message) =>
        new(null, new HashSet<string>(), ApiProblems.Create(status, title, [new FieldError(field, message)]));

    public static IResult NotFound(string message) =>
        Results.Problem(ApiProblems.Create(StatusCodes.Status404NotFound, "Profile not found", [new FieldError("mpid", message, "NOT_FOUND")]));

    /// <summary>Whether the answer needs what is computed about the person (calculated attributes, memberships).</summary>
    public bool NeedsComputed => Fields.Contains(ProfileDocument.UserAttributes) || Fields.Contains(ProfileDocument.AudienceMemberships);

    /// <summary>The answer, written from the stored profile before the read's pooled memory goes back.</summary>
    public static IResult Answer(ProfileRead read, ProfileQuery query, ISerializer serializer)
    {
        using (read)
        {
            // An aged-out profile is answered only once it is reactivated by new data (retention-and-privacy.md R8).
            if (read.Profile?.RootElement is not { } profile || !ProfileAnswer.IsShownIn(profile, query.Workspace!.Id))
                return NotFound("No profile with this MPID has data in this workspace (or it is no longer live).");
            var body = new ArrayBufferWriter<byte>(2048);
            ProfileAnswer.Write(body, profile, query.Workspace.Id, query.Fields, read.Computed, serializer);
            return new Utf8JsonResult(body.WrittenMemory);
        }
    }

    public static async Task<IResult> AnswerAsync(long mpid, ProfileQuery query, ProfileReader reader, TimeProvider clock, CancellationToken ct) =>
        Answer(await reader.ByMpidAsync(mpid, query.Workspace!.Id, query.NeedsComputed, clock.GetUtcNow(), ct) ?? new ProfileRead(null, null), query, reader.Serializer);
}

/// <summary><c>GET|POST /userprofile/v1/{orgId}/{accountId}/{workspaceId}/{mpid}?fields=…</c> (profile-api.md §1).</summary>
public static class GetProfileEndpoint
{
    public static ProfileQuery Load(int orgId, int accountId, int workspaceId, [FromQuery] string? fields, ClaimsPrincipal user, WorkspaceDirectory directory) =>
        ProfileQuery.From(orgId, accountId, workspaceId, fields, user, directory);

    public static ProblemDetails Validate(ProfileQuery query) => query.Problem ?? WolverineContinue.NoProblems;

    [WolverineGet("/userprofile/v1/{orgId:int}/{accountId:int}/{workspaceId:int}/{mpid:long}", Name = "Get a profile by MPID")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.ProfilesRead)]
    public static Task<IResult> Get(long mpid, ProfileQuery query, ProfileReader reader, TimeProvider clock, CancellationToken ct) =>
        ProfileQuery.AnswerAsync(mpid, query, reader, clock, ct);
}

/// <summary>The docs show both GET and POST for the MPID lookup; we serve both (profile-api.md §1).</summary>
public static class PostProfileEndpoint
{
    public static ProfileQuery Load(int orgId, int accountId, int workspaceId, [FromQuery] string? fields, ClaimsPrincipal user, WorkspaceDirectory directory) =>
        ProfileQuery.From(orgId, accountId, workspaceId, fields, user, directory);

    public static ProblemDetails Validate(ProfileQuery query) => query.Problem ?? WolverineContinue.NoProblems;

    [WolverinePost("/userprofile/v1/{orgId:int}/{accountId:int}/{workspaceId:int}/{mpid:long}", Name = "Get a profile by MPID (POST)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.ProfilesRead)]
    public static Task<IResult> Post(long mpid, [NotBody] ProfileQuery query, ProfileReader reader, TimeProvider clock, CancellationToken ct) =>
        ProfileQuery.AnswerAsync(mpid, query, reader, clock, ct);
}

public sealed record ResolveIdentity(
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("value")] string? Value);

public sealed record ResolveProfileRequest(
    [property: JsonPropertyName("environment_type")] string? EnvironmentType,
    [property: JsonPropertyName("identity")] ResolveIdentity? Identity);

/// <summary><c>POST /userprofile/v1/resolve/{orgId}/{accountId}/{workspaceId}?fields=…</c>: look up by the immutable identity (profile-api.md §3).</summary>
public static class ResolveProfileEndpoint
{
    public static ProfileQuery Load(int orgId, int accountId, int workspaceId, [FromQuery] string? fields, ClaimsPrincipal user, WorkspaceDirectory directory) =>
        ProfileQuery.From(orgId, accountId, workspaceId, fields, user, directory);

    public static ProblemDetails Validate(ProfileQuery query, ResolveProfileRequest request, WorkspaceDirectory directory)
    {
        if (query.Problem is not null) return query.Problem;
        var errors = new List<FieldError>();
        if (request.EnvironmentType is not ("development" or "production"))
            errors.Add(new FieldError("environment_type", "is required: \"development\" or \"production\"."));
        var immutable = directory.Identity.ImmutableType;
        var type = request.Identity?.Type is { } t ? IdentityTypes.FromUserIdentityKey(t) ?? IdentityTypes.FromIdSyncName(t) : null;
        if (type?.Name != immutable)
            errors.Add(new FieldError("identity.type", $"must be the workspace's immutable identity type, \"{immutable}\"."));
        if (string.IsNullOrEmpty(request.Identity?.Value))
            errors.Add(new FieldError("identity.value", "is required."));
        return errors.Count == 0 ? WolverineContinue.NoProblems : ApiProblems.Invalid(errors);
    }

    [WolverinePost("/userprofile/v1/resolve/{orgId:int}/{accountId:int}/{workspaceId:int}", Name = "Get a profile by immutable identity")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.ProfilesRead)]
    public static async Task<IResult> Post(ResolveProfileRequest request, ProfileQuery query, ProfileReader reader, WorkspaceDirectory directory, TimeProvider clock, CancellationToken ct) =>
        await reader.ByIdentityAsync(directory.Identity.ImmutableType, request.Identity!.Value!, query.Workspace!.Id, query.NeedsComputed, clock.GetUtcNow(), ct) is { } read
            ? ProfileQuery.Answer(read, query, reader.Serializer)
            : ProfileQuery.NotFound("No profile holds this identity.");
}
