using System.Security.Claims;
using System.Text.Json.Nodes;
using EventProfiles.Commands.Profiles;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace EventProfiles.Commands.Identity;

/// <summary>
/// Why identities are one person (beyond mParticle): for an MPID, every identity change on its stream — added,
/// changed, removed, taken by another profile, or ignored as a placeholder (with the reason) — with when, through which
/// input and which request, and every alias.
/// <c>GET /userprofile/v1/{orgId}/{accountId}/{workspaceId}/{mpid}/identity-history</c>, with a Profile API token.
/// </summary>
public static class ExplainIdentitiesEndpoint
{
    public static ProfileQuery Load(int orgId, int accountId, int workspaceId, ClaimsPrincipal user, WorkspaceDirectory directory) =>
        ProfileQuery.From(orgId, accountId, workspaceId, ProfileDocument.UserIdentities, user, directory);

    public static ProblemDetails Validate(ProfileQuery query) => query.Problem ?? WolverineContinue.NoProblems;

    [WolverineGet("/userprofile/v1/{orgId:int}/{accountId:int}/{workspaceId:int}/{mpid:long}/identity-history", Name = "Explain a profile's identities")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.ProfilesRead)]
    public static async Task<IResult> Get(long mpid, ProfileQuery query, IQuerySession session, CancellationToken ct)
    {
        var profile = await session.LoadAsync<Profile>(StreamKey.For(mpid), ct);
        if (profile is null || !profile.IsKnownIn(query.Workspace!.Id))
            return ProfileQuery.NotFound("No profile with this MPID has data in this workspace.");

        var history = new JsonArray();
        var stream = await session.Events.FetchStreamAsync(StreamKey.For(mpid), token: ct);
        // Changes a split or merge moved to another person stay in the history, marked (issue 21 §1).
        var moved = MovedEvents.Hidden(stream.Select(e => e.Data));
        foreach (var e in stream)
        {
            JsonObject? entry = e.Data switch
            {
                UserIdentityAdded a => Change("added", a.IdentityType, a.Value, null, a.At, a.WorkspaceId, a.Input, a.RequestId),
                UserIdentityChanged c => Change("changed", c.IdentityType, c.NewValue, c.OldValue, c.At, c.WorkspaceId, c.Input, c.RequestId),
                UserIdentityRemoved r => Change(r.TakenBy is null ? "removed" : "taken", r.IdentityType, r.Value, null, r.At, r.WorkspaceId, r.Input, r.RequestId, r.TakenBy),
                UserIdentityIgnored i => Change("ignored", i.IdentityType, i.Value, null, i.At, i.WorkspaceId, i.Input, i.RequestId, reason: i.Reason),
                PersonSplit split => Move(ProfileMove.Of(split, mpid)),
                PeopleMerged merged => Move(ProfileMove.Of(merged, mpid)),
                _ => null,
            };
            if (entry is not null && moved.Contains(e.Version)) entry["moved"] = true;
            if (entry is not null) history.Add(entry);
        }

        return Results.Json(new JsonObject
        {
            ["mpid"] = mpid,
            ["identities"] = new JsonArray(profile.Identities.Select(i => (JsonNode?)new JsonObject
            {
                ["type"] = i.Type, ["value"] = i.Value, ["linked_at_ms"] = i.AddedAt.ToUnixTimeMilliseconds(),
                ["workspace_id"] = i.WorkspaceId, ["input"] = i.Input,
            }).ToArray()),
            ["history"] = history,
            ["aliases"] = new JsonArray(profile.Aliases.Select(a => (JsonNode?)new JsonObject
            {
                ["id"] = a.Id, ["source_mpid"] = a.SourceMpid, ["destination_mpid"] = a.DestinationMpid,
                ["window_start_ms"] = a.WindowStart.ToUnixTimeMilliseconds(), ["window_end_ms"] = a.WindowEnd.ToUnixTimeMilliseconds(),
                ["events_copied"] = a.EventsCopied, ["at_ms"] = a.At.ToUnixTimeMilliseconds(),
            }).ToArray()),
        });
    }

    /// <summary>A split or merge: which, with whom, whether this person gave or received, what moved, who and why.</summary>
    private static JsonObject Move(ProfileMove move) => new()
    {
        ["change"] = move.Kind, ["id"] = move.Id, ["other_mpid"] = move.OtherMpid, ["gave"] = move.Gave,
        ["identities"] = new JsonArray(move.Identities.Select(i => (JsonNode?)new JsonObject { ["type"] = i.Type, ["value"] = i.Value }).ToArray()),
        ["events_moved"] = move.EventsMoved, ["undoes_split"] = move.UndoesSplit, ["reason"] = move.Reason, ["by"] = move.By,
        ["at_ms"] = move.At.ToUnixTimeMilliseconds(),
    };

    private static JsonObject Change(string change, string type, string value, string? old, DateTimeOffset at, int workspaceId, string input,
        string? requestId, long? takenBy = null, string? reason = null)
    {
        var entry = new JsonObject
        {
            ["change"] = change, ["type"] = type, ["value"] = value, ["old_value"] = old, ["at_ms"] = at.ToUnixTimeMilliseconds(),
            ["workspace_id"] = workspaceId, ["input"] = input, ["request_id"] = requestId, ["taken_by_mpid"] = takenBy,
        };
        if (reason is not null) entry["reason"] = reason; // "ignored": why the value matches nobody
        return entry;
    }
}
