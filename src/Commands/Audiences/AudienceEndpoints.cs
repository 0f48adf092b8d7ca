using System.Security.Claims;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Workspaces;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Wolverine;
using Wolverine.Http;

namespace EventProfiles.Commands.Audiences;

// Platform API v1 for audiences (audiences-and-calculated-attributes.md §B2), bearer token from /oauth/token.
// One class per endpoint: Wolverine applies a class's Load/Validate to every endpoint in it.

public static class ListAudiencesEndpoint
{
    public static AudienceScope Load([FromQuery] int? accountId, ClaimsPrincipal user, WorkspaceDirectory directory) => AudienceScope.For(accountId, null, user, directory);
    public static ProblemDetails Validate(AudienceScope scope) => scope.Check();

    [WolverineGet("/v1/audiences", Name = "List audiences")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.AudiencesRead)]
    public static async Task<List<AudienceResource>> Get(AudienceScope scope, LaggingReads reads, WorkspaceDirectory directory, CalculatedAttributeLimits limits,
        TimeProvider clock, CancellationToken ct)
    {
        await using var session = await reads.QuerySessionAsync(ct); // may lag: a standby when there is one
        return await AudienceQueries.ListAsync(scope, session, directory, limits, clock, ct);
    }
}

public static class ListWorkspaceAudiencesEndpoint
{
    public static AudienceScope Load(int workspaceId, [FromQuery] int? accountId, ClaimsPrincipal user, WorkspaceDirectory directory) => AudienceScope.For(accountId, workspaceId, user, directory);
    public static ProblemDetails Validate(AudienceScope scope) => scope.Check();

    [WolverineGet("/v1/workspace/{workspaceId:int}/audiences", Name = "List a workspace's audiences")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.AudiencesRead)]
    public static async Task<List<AudienceResource>> Get(AudienceScope scope, LaggingReads reads, WorkspaceDirectory directory, CalculatedAttributeLimits limits,
        TimeProvider clock, CancellationToken ct)
    {
        await using var session = await reads.QuerySessionAsync(ct); // may lag: a standby when there is one
        return await AudienceQueries.ListAsync(scope, session, directory, limits, clock, ct);
    }
}

public static class GetAudienceEndpoint
{
    public static AudienceScope Load([FromQuery] int? accountId, ClaimsPrincipal user, WorkspaceDirectory directory) => AudienceScope.For(accountId, null, user, directory);
    public static ProblemDetails Validate(AudienceScope scope) => scope.Check();

    [WolverineGet("/v1/audiences/{id:int}", Name = "Get an audience")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.AudiencesRead)]
    public static async Task<IResult> Get(int id, AudienceScope scope, IQuerySession session, WorkspaceDirectory directory, CalculatedAttributeLimits limits,
        TimeProvider clock, CancellationToken ct) =>
        await session.LoadAsync<Audience>(id, ct) is { } audience && scope.Sees(audience)
            ? Results.Ok(await AudienceResource.ViewAsync(audience, session, directory, limits, clock.GetUtcNow(), ct))
            : AudienceScope.NotFound(id);
}

public static class CreateAudienceEndpoint
{
    public static AudienceScope Load([FromQuery] int? accountId, ClaimsPrincipal user, WorkspaceDirectory directory) => AudienceScope.For(accountId, null, user, directory);

    public static async Task<ProblemDetails> ValidateAsync(AudienceScope scope, AudienceBody body, IQuerySession session, CalculatedAttributeLimits limits, CancellationToken ct) =>
        scope.Problem ?? await AudienceQueries.CheckAsync(scope, body, session, limits, null, requireAll: true, ct);

    /// <summary>Creates a draft (not evaluated until activated); answers with the audience object.</summary>
    [WolverinePost("/v1/audiences", Name = "Create an audience (draft)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.AudiencesWrite)]
    public static async Task<IResult> Post(AudienceBody body, AudienceScope scope, IDocumentSession session, WorkspaceDirectory directory, CalculatedAttributeLimits limits,
        TimeProvider clock, CancellationToken ct)
    {
        if (await AudienceQueries.NameTakenAsync(session, body.Name!, body.Workspaces!, null, ct) is { } taken) return taken;
        var now = clock.GetUtcNow();
        var audience = new Audience
        {
            Name = body.Name!, ExternalName = body.ExternalName ?? body.Name!, WorkspaceIds = body.Workspaces!.Distinct().ToList(),
            Criteria = body.Criteria!.ToList(), Kind = body.AudienceType ?? AudienceKinds.RealTime, DateRange = body.DateRange, Status = AudienceStatus.Draft, CreatedBy = scope.Caller, CreatedOn = now,
            LastModifiedBy = scope.Caller, LastModifiedOn = now,
        };
        session.Store(audience);
        await session.SaveChangesAsync(ct);
        return Results.Ok(await AudienceResource.ViewAsync(audience, session, directory, limits, now, ct));
    }
}

public static class UpdateAudienceEndpoint
{
    public static AudienceScope Load([FromQuery] int? accountId, ClaimsPrincipal user, WorkspaceDirectory directory) => AudienceScope.For(accountId, null, user, directory);

    public static async Task<ProblemDetails> ValidateAsync(int id, AudienceScope scope, AudienceBody body, IQuerySession session, CalculatedAttributeLimits limits, CancellationToken ct) =>
        scope.Problem ?? await AudienceQueries.CheckAsync(scope, body, session, limits, id, requireAll: false, ct);

    /// <summary>Edits name, external name, workspaces and criteria; an evaluated audience is activated again with the new criteria.</summary>
    [WolverinePut("/v1/audiences/{id:int}", Name = "Update an audience")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.AudiencesWrite)]
    public static async Task<(IResult, OutgoingMessages)> Put(int id, AudienceBody body, AudienceScope scope, IDocumentSession session, NpgsqlDataSource db,
        CalculatedAttributeLimits limits, TimeProvider clock, Forwarding.EnrichmentDefinitionsCache enrichment, CalculatedAttributes.CalculationsFeedKeeper feed, CancellationToken ct)
    {
        enrichment.Forget();
        var messages = new OutgoingMessages();
        var audience = await session.LoadAsync<Audience>(id, ct);
        if (audience is null || !scope.Sees(audience)) return (AudienceScope.NotFound(id), messages);
        if ((body.Name is not null && body.Name != audience.Name) || body.Workspaces is not null)
            if (await AudienceQueries.NameTakenAsync(session, body.Name ?? audience.Name, body.Workspaces ?? audience.WorkspaceIds, id, ct) is { } taken) return (taken, messages);
        var now = clock.GetUtcNow();
        var revision = AudienceRevision.Of(audience, body, scope.Caller, now);
        audience.Name = body.Name ?? audience.Name;
        audience.ExternalName = body.ExternalName ?? audience.ExternalName;
        // Only a real change of who may qualify starts a new version (a rename, or the same criteria sent again, does not).
        var redefined = revision.Changed.Contains("criteria") || revision.Changed.Contains("workspaces");
        if (body.Workspaces is not null) audience.WorkspaceIds = body.Workspaces.Distinct().ToList();
        if (body.Criteria is not null) audience.Criteria = body.Criteria.ToList();
        if (body.DateRange is not null) audience.DateRange = body.DateRange;
        audience.LastModifiedBy = scope.Caller;
        audience.LastModifiedOn = now;
        // A new version of an evaluated audience: evaluated again from scratch; those it no longer holds get a removal.
        if (redefined && audience.Kind == AudienceKinds.RealTime && audience.Status is AudienceStatus.Active or AudienceStatus.Calculating)
        {
            messages.AddRange(await AudienceLifecycle.ActivateAsync(audience, session, db, limits, feed, scope.Caller, now, ct));
            revision.Reactivated = true;
        }
        session.Store(audience);
        if (revision.Changed.Count > 0) session.Store(revision with { Criteria = audience.Criteria, WorkspaceIds = audience.WorkspaceIds, Activation = audience.Activation });
        return (Results.NoContent(), messages);
    }
}

public static class ActivateAudienceEndpoint
{
    public static AudienceScope Load([FromQuery] int? accountId, ClaimsPrincipal user, WorkspaceDirectory directory) => AudienceScope.For(accountId, null, user, directory);
    public static ProblemDetails Validate(AudienceScope scope) => scope.Check();

    /// <summary>
    /// Starts evaluating: event counts are initialised from the real-time lookback (status <c>calculating</c>), then
    /// everyone in the audience's workspaces is evaluated and the audience is <c>active</c>; from then on changes are live.
    /// </summary>
    [WolverinePost("/v1/audiences/{id:int}/activation", Name = "Activate an audience")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.AudiencesWrite)]
    public static async Task<(IResult, OutgoingMessages)> Post(int id, [NotBody] AudienceScope scope, IDocumentSession session, NpgsqlDataSource db,
        CalculatedAttributeLimits limits, TimeProvider clock, CalculatedAttributes.CalculationsFeedKeeper feed, CancellationToken ct)
    {
        var messages = new OutgoingMessages();
        var audience = await session.LoadAsync<Audience>(id, ct);
        if (audience is null || !scope.Sees(audience)) return (AudienceScope.NotFound(id), messages);
        if (audience.Kind == AudienceKinds.Standard)
        {
            // Standard audiences are calculated once per activation (a new activation calculates again).
            session.DeleteWhere<AudienceMember>(m => m.AudienceId == id);
            audience.Activation = Guid.NewGuid();
            audience.Status = AudienceStatus.Calculating;
            audience.ActivatedOn = clock.GetUtcNow();
            audience.CalculatedOn = null;
            session.Store(audience);
            messages.Add(new CalculateStandardAudience(id, audience.Activation.Value));
        }
        else messages.AddRange(await AudienceLifecycle.ActivateAsync(audience, session, db, limits, feed, scope.Caller, clock.GetUtcNow(), ct));
        return (Results.NoContent(), messages); // committed with the jobs (transactional outbox)
    }
}

public static class DeactivateAudienceEndpoint
{
    public static AudienceScope Load([FromQuery] int? accountId, ClaimsPrincipal user, WorkspaceDirectory directory) => AudienceScope.For(accountId, null, user, directory);
    public static ProblemDetails Validate(AudienceScope scope) => scope.Check();

    /// <summary>EventProfiles extension: stops evaluating; members are dropped without messages (as a deletion, §M3).</summary>
    [WolverinePost("/v1/audiences/{id:int}/deactivation", Name = "Deactivate an audience")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.AudiencesWrite)]
    public static async Task<IResult> Post(int id, [NotBody] AudienceScope scope, IDocumentSession session, TimeProvider clock, Forwarding.EnrichmentDefinitionsCache enrichment, CancellationToken ct)
    {
        enrichment.Forget();
        var audience = await session.LoadAsync<Audience>(id, ct);
        if (audience is null || !scope.Sees(audience)) return AudienceScope.NotFound(id);
        await AudienceLifecycle.DeactivateAsync(audience, session, scope.Caller, clock.GetUtcNow(), ct);
        return Results.NoContent();
    }
}

public static class DeleteAudienceEndpoint
{
    public static AudienceScope Load([FromQuery] int? accountId, ClaimsPrincipal user, WorkspaceDirectory directory) => AudienceScope.For(accountId, null, user, directory);
    public static ProblemDetails Validate(AudienceScope scope) => scope.Check();

    [WolverineDelete("/v1/audiences/{id:int}", Name = "Delete an audience")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.AudiencesWrite)]
    public static async Task<IResult> Delete(int id, [NotBody] AudienceScope scope, IDocumentSession session, TimeProvider clock, Forwarding.EnrichmentDefinitionsCache enrichment, CancellationToken ct)
    {
        enrichment.Forget();
        var audience = await session.LoadAsync<Audience>(id, ct);
        if (audience is null || !scope.Sees(audience)) return AudienceScope.NotFound(id);
        var nesting = (await session.Query<Audience>().Where(a => a.Id != id).ToListAsync(ct)).FirstOrDefault(a => a.Nested.Contains(id));
        if (nesting is not null) return AudienceScope.Conflict("id", $"Audience {nesting.Id} (\"{nesting.Name}\") uses this audience; change it first.");
        await AudienceLifecycle.DeactivateAsync(audience, session, scope.Caller, clock.GetUtcNow(), ct);
        session.DeleteWhere<AudienceConnection>(c => c.AudienceId == id);
        session.Delete(audience);
        return Results.NoContent();
    }
}

public static class AudienceQueries
{
    public static async Task<List<AudienceResource>> ListAsync(AudienceScope scope, IQuerySession session, WorkspaceDirectory directory, CalculatedAttributeLimits limits,
        TimeProvider clock, CancellationToken ct)
    {
        var audiences = (await session.Query<Audience>().OrderBy(a => a.Id).ToListAsync(ct)).Where(scope.Sees).ToList();
        var views = new List<AudienceResource>();
        foreach (var audience in audiences) views.Add(await AudienceResource.ViewAsync(audience, session, directory, limits, clock.GetUtcNow(), ct));
        return views;
    }

    /// <summary>
    /// Names are unique per workspace, not across the org: a conflict only with an audience that shares a workspace
    /// with this one, so a name used elsewhere is neither refused nor revealed.
    /// </summary>
    public static async Task<IResult?> NameTakenAsync(IQuerySession session, string name, IReadOnlyList<int> workspaces, int? id, CancellationToken ct)
    {
        var self = id ?? 0;
        var sameName = await session.Query<Audience>().Where(a => a.Name == name && a.Id != self).ToListAsync(ct);
        var shared = sameName.SelectMany(a => a.WorkspaceIds).Intersect(workspaces).Order().ToList();
        return shared.Count == 0 ? null
            : AudienceScope.Conflict("name", $"An audience named \"{name}\" already exists in workspace {string.Join(", ", shared)}.");
    }

    public static async Task<ProblemDetails> CheckAsync(AudienceScope scope, AudienceBody body, IQuerySession session, CalculatedAttributeLimits limits,
        int? id, bool requireAll, CancellationToken ct)
    {
        var errors = new List<FieldError>();
        if (requireAll || body.Name is not null)
        {
            if (string.IsNullOrWhiteSpace(body.Name)) errors.Add(new FieldError("name", "is required."));
            else if (body.Name.Length > Audience.MaxNameLength) errors.Add(new FieldError("name", $"must be at most {Audience.MaxNameLength} characters."));
        }
        if (body.AudienceType is not (null or AudienceKinds.RealTime or AudienceKinds.Standard))
            errors.Add(new FieldError("audience_type", "must be real_time or standard."));
        else if (id is not null && body.AudienceType is not null) errors.Add(new FieldError("audience_type", "cannot change; create another audience."));
        if (body.DateRange is { From: { } from, To: { } to } && from > to) errors.Add(new FieldError("date_range.from", "must not be after date_range.to."));
        if (body.DateRange is not null && body.AudienceType is not AudienceKinds.Standard && id is null) errors.Add(new FieldError("date_range", "applies to standard audiences only."));
        if (body.ExternalName is { Length: > Audience.MaxNameLength }) errors.Add(new FieldError("external_name", $"must be at most {Audience.MaxNameLength} characters."));
        var existing = id is { } known ? await session.LoadAsync<Audience>(known, ct) : null;
        var workspaces = body.Workspaces ?? existing?.WorkspaceIds ?? [];
        if ((requireAll || body.Workspaces is not null) && workspaces.Count == 0) errors.Add(new FieldError("workspaces", "needs at least one workspace id."));
        foreach (var ws in workspaces.Where(w => !scope.Workspaces.Contains(w)))
            errors.Add(new FieldError("workspaces", $"workspace {ws} is not one these credentials may use in account {scope.AccountId}."));
        if (requireAll || body.Criteria is not null)
        {
            var others = (await session.Query<Audience>().ToListAsync(ct)).ToDictionary(a => a.Id);
            errors.AddRange(AudienceRules.Check(body.Criteria, workspaces.ToList(), limits.RealTimeLookbackDays, other => others.GetValueOrDefault(other), id)
                .Select(p => new FieldError(p.Field, p.Reason)));
        }
        return errors.Count == 0 ? WolverineContinue.NoProblems : ApiProblems.Invalid(errors, "The audience is invalid");
    }
}

public static class SendStandardAudienceEndpoint
{
    public static AudienceScope Load([FromQuery] int? accountId, ClaimsPrincipal user, WorkspaceDirectory directory) => AudienceScope.For(accountId, null, user, directory);
    public static ProblemDetails Validate(AudienceScope scope) => scope.Check();

    /// <summary>Sends every member of a calculated standard audience to its connected outputs once more (§B1 "Send").</summary>
    [WolverinePost("/v1/audiences/{id:int}/send", Name = "Send a standard audience to its outputs")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.AudiencesWrite)]
    public static async Task<(IResult, OutgoingMessages)> Post(int id, [NotBody] AudienceScope scope, IDocumentSession session, WorkspaceDirectory directory,
        TimeProvider clock, CancellationToken ct)
    {
        var messages = new OutgoingMessages();
        var audience = await session.LoadAsync<Audience>(id, ct);
        if (audience is null || !scope.Sees(audience)) return (AudienceScope.NotFound(id), messages);
        var now = clock.GetUtcNow();
        if (audience.Kind != AudienceKinds.Standard || AudienceResource.StatusOf(audience, now) != "ready")
            return (AudienceScope.Conflict("id", "Only a calculated, unexpired standard audience can be sent; an expired one can be calculated again."), messages);
        var members = (await session.Query<AudienceMember>().Where(m => m.AudienceId == id).ToListAsync(ct)).Select(m => m.Mpid).ToList();
        messages.AddRange(await StandardAudienceSend.MessagesAsync(audience, members, session, directory, now, ct));
        return (Results.Accepted(), messages);
    }
}
