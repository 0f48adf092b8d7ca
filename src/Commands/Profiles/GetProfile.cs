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
    /// <summary>EventProfiles extension (issue 21 §2): the profile as it stood at this instant, folded from the stream.</summary>
    public DateTimeOffset? AsOf { get; init; }

    /// <summary>EventProfiles extension (issue 21 §3): <c>include=provenance</c> adds where each attribute's value came from.</summary>
    public bool Provenance { get; init; }

    /// <param name="asOf">The <c>as_of</c> query value (an ISO-8601 instant, not in the future by <paramref name="now"/>).</param>
    /// <param name="include">The <c>include</c> query value (only <c>provenance</c>).</param>
    public static ProfileQuery From(int orgId, int accountId, int workspaceId, string? fields, ClaimsPrincipal user, WorkspaceDirectory directory,
        string? asOf = null, string? include = null, DateTimeOffset? now = null)
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
        DateTimeOffset? instant = null;
        if (asOf is not null)
        {
            if (!ProfileHistoryReader.TryParseInstant(asOf, out var parsed))
                return Failed(StatusCodes.Status400BadRequest, "The request is invalid", "as_of",
                    "must be an ISO-8601 instant with a time zone, e.g. 2026-10-01T12:00:00Z.");
            if (now is { } n && parsed > n)
                return Failed(StatusCodes.Status400BadRequest, "The request is invalid", "as_of", "must not be in the future.");
            instant = parsed;
        }
        var provenance = false;
        if (include is not null)
        {
            var wanted = include.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var unknownParts = wanted.Where(w => w != ProfileHistoryReader.ProvenanceInclude).ToList();
            if (wanted.Length == 0 || unknownParts.Count > 0)
                return Failed(StatusCodes.Status400BadRequest, "The request is invalid", "include",
                    $"unknown value(s) {string.Join(", ", unknownParts.Select(u => $"\"{u}\""))}; expected \"{ProfileHistoryReader.ProvenanceInclude}\".");
            provenance = true;
        }
        return new ProfileQuery(workspace, requested, null) { AsOf = instant, Provenance = provenance };
    }

    private static ProfileQuery Failed(int status, string title, string field, string message) =>
        new(null, new HashSet<string>(), ApiProblems.Create(status, title, [new FieldError(field, message)]));

    public static IResult NotFound(string message) =>
        Results.Problem(ApiProblems.Create(StatusCodes.Status404NotFound, "Profile not found", [new FieldError("mpid", message, "NOT_FOUND")]));

    /// <summary>Whether the answer needs what is computed about the person (calculated attributes, memberships).</summary>
    public bool NeedsComputed => Fields.Contains(ProfileDocument.UserAttributes) || Fields.Contains(ProfileDocument.AudienceMemberships);

    /// <summary>The answer, written from the stored profile before the read's pooled memory goes back.</summary>
    public static IResult Answer(ProfileRead read, ProfileQuery query, ISerializer serializer, IReadOnlyDictionary<string, AttributeChange>? provenance = null)
    {
        using (read)
        {
            // An aged-out profile is answered only once it is reactivated by new data (retention-and-privacy.md R8).
            if (read.Profile?.RootElement is not { } profile || !ProfileAnswer.IsShownIn(profile, query.Workspace!.Id))
                return NotFound("No profile with this MPID has data in this workspace (or it is no longer live).");
            var body = new ArrayBufferWriter<byte>(2048);
            ProfileAnswer.Write(body, profile, query.Workspace.Id, query.Fields, read.Computed, serializer, provenance);
            return new Utf8JsonResult(body.WrittenMemory);
        }
    }

    public static async Task<IResult> AnswerAsync(long mpid, ProfileQuery query, ProfileReader reader, ProfileHistoryReader history, TimeProvider clock, CancellationToken ct)
    {
        // as_of and provenance read the stream; the default read stays one statement.
        if (query.AsOf is not null) return await history.AnswerAsOfAsync(mpid, query, null, ct);
        var read = await reader.ByMpidAsync(mpid, query.Workspace!.Id, query.NeedsComputed, clock.GetUtcNow(), ct) ?? new ProfileRead(null, null);
        return query.Provenance ? await history.AnswerWithProvenanceAsync(read, query, ct) : Answer(read, query, reader.Serializer);
    }
}

/// <summary><c>GET|POST /userprofile/v1/{orgId}/{accountId}/{workspaceId}/{mpid}?fields=…</c> (profile-api.md §1).</summary>
public static class GetProfileEndpoint
{
    public static ProfileQuery Load(int orgId, int accountId, int workspaceId, [FromQuery] string? fields, [FromQuery(Name = "as_of")] string? asOf,
        [FromQuery] string? include, ClaimsPrincipal user, WorkspaceDirectory directory, TimeProvider clock) =>
        ProfileQuery.From(orgId, accountId, workspaceId, fields, user, directory, asOf, include, clock.GetUtcNow());

    public static ProblemDetails Validate(ProfileQuery query) => query.Problem ?? WolverineContinue.NoProblems;

    [WolverineGet("/userprofile/v1/{orgId:int}/{accountId:int}/{workspaceId:int}/{mpid:long}", Name = "Get a profile by MPID")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.ProfilesRead)]
    public static Task<IResult> Get(long mpid, ProfileQuery query, ProfileReader reader, ProfileHistoryReader history, TimeProvider clock, CancellationToken ct) =>
        ProfileQuery.AnswerAsync(mpid, query, reader, history, clock, ct);
}

/// <summary>The docs show both GET and POST for the MPID lookup; we serve both (profile-api.md §1).</summary>
public static class PostProfileEndpoint
{
    public static ProfileQuery Load(int orgId, int accountId, int workspaceId, [FromQuery] string? fields, [FromQuery(Name = "as_of")] string? asOf,
        [FromQuery] string? include, ClaimsPrincipal user, WorkspaceDirectory directory, TimeProvider clock) =>
        ProfileQuery.From(orgId, accountId, workspaceId, fields, user, directory, asOf, include, clock.GetUtcNow());

    public static ProblemDetails Validate(ProfileQuery query) => query.Problem ?? WolverineContinue.NoProblems;

    [WolverinePost("/userprofile/v1/{orgId:int}/{accountId:int}/{workspaceId:int}/{mpid:long}", Name = "Get a profile by MPID (POST)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.ProfilesRead)]
    public static Task<IResult> Post(long mpid, [NotBody] ProfileQuery query, ProfileReader reader, ProfileHistoryReader history, TimeProvider clock, CancellationToken ct) =>
        ProfileQuery.AnswerAsync(mpid, query, reader, history, clock, ct);
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
    public static ProfileQuery Load(int orgId, int accountId, int workspaceId, [FromQuery] string? fields, [FromQuery(Name = "as_of")] string? asOf,
        [FromQuery] string? include, ClaimsPrincipal user, WorkspaceDirectory directory, TimeProvider clock) =>
        ProfileQuery.From(orgId, accountId, workspaceId, fields, user, directory, asOf, include, clock.GetUtcNow());

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
    public static async Task<IResult> Post(ResolveProfileRequest request, ProfileQuery query, ProfileReader reader, ProfileHistoryReader history, WorkspaceDirectory directory,
        TimeProvider clock, CancellationToken ct)
    {
        // The type Validate checked: a change of the immutable type between the two (identity settings apply live) is refused there.
        var type = IdentityTypes.FromUserIdentityKey(request.Identity!.Type!) ?? IdentityTypes.FromIdSyncName(request.Identity.Type!);
        var identity = new IdentityKey(type!.Name, request.Identity.Value!);
        // as_of: today's holder of the identity, folded to the instant; a 404 if they did not hold it then.
        if (query.AsOf is not null)
            return await history.HolderAsync(identity, ct) is { } mpid
                ? await history.AnswerAsOfAsync(mpid, query, identity, ct)
                : ProfileQuery.NotFound("No profile holds this identity.");
        if (await reader.ByIdentityAsync(identity.Type, identity.Value, query.Workspace!.Id, query.NeedsComputed, clock.GetUtcNow(), ct) is not { } read)
            return ProfileQuery.NotFound("No profile holds this identity.");
        return query.Provenance ? await history.AnswerWithProvenanceAsync(read, query, ct) : ProfileQuery.Answer(read, query, reader.Serializer);
    }
}
