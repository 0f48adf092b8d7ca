using System.Security.Claims;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using EventProfiles.Projections.CalculatedAttributes;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace EventProfiles.Commands.Audiences;

public sealed record CriterionExplanation(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("join")] string? Join,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("holds")] bool Holds,
    [property: JsonPropertyName("why")] string Why);

public sealed record MembershipExplanation(
    [property: JsonPropertyName("audience_id")] int AudienceId,
    [property: JsonPropertyName("mpid")] string Mpid,
    [property: JsonPropertyName("is_member_now")] bool IsMemberNow,
    [property: JsonPropertyName("recorded_member")] bool RecordedMember,
    [property: JsonPropertyName("reason")] string Reason,
    [property: JsonPropertyName("criteria")] IReadOnlyList<CriterionExplanation> Criteria);

/// <summary>
/// Beyond mParticle: <c>GET /v1/audiences/{id}/explain/{mpid}</c> — which criteria hold for the person right now and
/// why, evaluated by the same code as the projection, next to the membership the projection recorded.
/// </summary>
public static class ExplainMembershipEndpoint
{
    public static AudienceScope Load([FromQuery] int? accountId, ClaimsPrincipal user, WorkspaceDirectory directory) => AudienceScope.For(accountId, null, user, directory);
    public static ProblemDetails Validate(AudienceScope scope) => scope.Check();

    [WolverineGet("/v1/audiences/{id:int}/explain/{mpid:long}", Name = "Explain a person's membership of an audience")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.AudiencesRead)]
    public static async Task<IResult> Get(int id, long mpid, AudienceScope scope, IQuerySession session, TimeProvider clock, CancellationToken ct)
    {
        var audience = await session.LoadAsync<Audience>(id, ct);
        if (audience is null || !scope.Sees(audience)) return AudienceScope.NotFound(id);
        var profile = await session.LoadAsync<Profile>(StreamKey.For(mpid), ct);
        if (profile is null || !audience.WorkspaceIds.Any(profile.IsKnownIn)) return Profiles.ProfileQuery.NotFound("No profile with this MPID has data in the audience's workspaces.");
        var computed = await ComputedDefinitions.LoadAttributesAsync(session, ct);
        var definitions = ComputedDefinitions.Active(computed);
        var active = audience.Activation is null
            ? new ActiveAudience(audience.Id, audience.ExternalName, Guid.Empty, audience.WorkspaceIds, audience.Criteria, new Dictionary<int, ActiveDefinition>(), 0)
            : ComputedDefinitions.Active(audience, definitions)!;
        var person = await session.LoadAsync<PersonCalculations>(StreamKey.For(mpid), ct) ?? PersonCalculations.For(mpid);
        var replayed = await session.Query<InitialisedCalculation>().Where(c => c.Mpid == mpid).ToListAsync(ct);
        var now = clock.GetUtcNow();
        var facts = PersonFactsFor.Person(profile, person, replayed, computed, now);
        var verdict = AudienceEvaluation.Evaluate(active, facts);
        return Results.Ok(new MembershipExplanation(id, StreamKey.For(mpid), verdict.IsMember, AudienceMemberships.IsMember(person, replayed, id, audience.Activation), verdict.Reason,
            verdict.Criteria.Select(c => new CriterionExplanation(c.Index + 1, c.Index == 0 ? null : audience.Criteria[c.Index].Join ?? Joins.And, c.Kind, c.Holds, c.Why)).ToList()));
    }
}
