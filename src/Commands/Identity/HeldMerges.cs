using System.Security.Claims;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Operability;
using EventProfiles.Commands.Security;
using EventProfiles.Commands.Streams;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using EventProfiles.Projections.Profiles;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Npgsql;
using Wolverine.Http;

namespace EventProfiles.Commands.Identity;

/// <summary>A person the merge guards flagged, with the links held (issue 21 §4).</summary>
public sealed record HeldMergesView([property: JsonPropertyName("mpid")] string Mpid, [property: JsonPropertyName("held")] IReadOnlyList<HeldMergeView> Held)
{
    public static HeldMergesView Of(Profile p) => new(StreamKey.For(p.Mpid),
        p.HeldMerges.Select(h => new HeldMergeView(h.Type, h.Value, h.Reason, h.At, h.WorkspaceId, h.Input, h.BatchId.ToString())).ToList());
}

public sealed record HeldMergeView(
    [property: JsonPropertyName("identity_type")] string IdentityType,
    [property: JsonPropertyName("value")] string Value,
    [property: JsonPropertyName("reason")] string Reason,
    [property: JsonPropertyName("at")] DateTimeOffset At,
    [property: JsonPropertyName("workspace_id")] int WorkspaceId,
    [property: JsonPropertyName("input")] string Input,
    [property: JsonPropertyName("batch_id")] string BatchId);

/// <summary>
/// <c>GET /api/admin/held-merges</c>: the people the merge guards flagged (at most 1,000), each with the identities whose
/// links were held and why. Identities are the org's, so the list is for org-wide admins.
/// </summary>
public static class ListHeldMergesEndpoint
{
    public const int Limit = 1_000;

    [WolverineGet("/api/admin/held-merges", Name = "People flagged by the merge guards")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession, Policy = ApiAuthorization.EveryWorkspace)] // org-wide; the User Activity View uses the session
    public static async Task<IReadOnlyList<HeldMergesView>> Get(IQuerySession session, CancellationToken ct) =>
        // The predicate as the partial index spells it (StoreConfiguration), so only the flagged people are read.
        (await session.QueryAsync<Profile>($"where {ProfileProjection.HeldMergesPredicate} limit {Limit}", ct))
            .OrderBy(p => p.HeldMerges.Min(h => h.At)).Select(HeldMergesView.Of).ToList();
}

/// <summary>
/// <c>POST /api/admin/people/{mpid}/held-merges/accept</c>: the operator says the held links are right. Under the
/// person's stream lock each held identity is linked as the batch would have linked it (a unique identity another person
/// holds by now is skipped and named), and <see cref="MergeAccepted"/> clears the flag; both are events on the stream.
/// </summary>
public static class AcceptHeldMergesEndpoint
{
    [WolverinePost("/api/admin/people/{mpid}/held-merges/accept", Name = "Accept the links the merge guards held")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession, Policy = ApiAuthorization.EveryWorkspace)] // org-wide; the User Activity View uses the session
    public static async Task<IResult> Post(string mpid, ClaimsPrincipal user, IDocumentStore store, NpgsqlDataSource db, WorkspaceDirectory directory,
        TimeProvider clock, CancellationToken ct)
    {
        if (!StreamKey.TryParse(mpid, out var id))
            return Results.Problem(ApiProblems.Create(StatusCodes.Status404NotFound, "Not found", [new FieldError("mpid", "No such person.", "NOT_FOUND")]));
        await using var session = store.IdentitySession();
        await StreamLocks.LockAsync(session, [id], ct);
        if (await session.LoadAsync<Profile>(StreamKey.For(id), ct) is not { } profile)
            return Results.Problem(ApiProblems.Create(StatusCodes.Status404NotFound, "Not found", [new FieldError("mpid", "No such person.", "NOT_FOUND")]));
        if (profile.HeldMerges.Count == 0)
            return Results.Problem(ApiProblems.Create(StatusCodes.Status409Conflict, "Nothing held",
                [new FieldError("mpid", "The merge guards hold no links of this person (none, or already accepted).", "NOTHING_HELD")]));

        // Who holds the held identities now: a unique one taken meanwhile is not taken from that person here.
        var keys = profile.HeldMerges.Select(h => new IdentityKey(h.Type, h.Value)).Distinct().ToList();
        var rules = directory.Identity; // one rule set for the look-up and the decision
        var lookup = await IdentityIndexQueries.LookupAsync(db, store.Options.DatabaseSchemaName, keys, [], rules, ct);
        var holders = keys.ToDictionary(k => k, k => (IReadOnlyList<long>)lookup.OwnersOf(k).Select(o => o.Mpid).ToList());
        var events = MergeGuards.Accept(profile, holders, rules, clock.GetUtcNow(), AdminAccess.Of(user).User);
        session.Events.Append(StreamKey.For(id), events.ToArray());
        await session.SaveChangesAsync(ct); // a unique key taken between the look-up and here fails the call (409 from the retry is the caller's)
        var accepted = events.OfType<MergeAccepted>().Single();
        Metrics.Merge("held_accepted", accepted.Linked.Count);
        return Results.Ok(new
        {
            mpid = StreamKey.For(id),
            linked = accepted.Linked.Select(k => new { identity_type = k.Type, value = k.Value }),
            skipped = accepted.Skipped.Select(k => new { identity_type = k.Type, value = k.Value, reason = "another person holds this unique identity now" }),
        });
    }
}
