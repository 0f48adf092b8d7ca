using System.Security.Claims;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Workspaces;
using EventProfiles.Projections.CalculatedAttributes;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Wolverine.Http;

namespace EventProfiles.Commands.CalculatedAttributes;

// Platform API v2 for calculated attributes (audiences-and-calculated-attributes.md §A5), bearer token from /oauth/token.
// One class per endpoint: Wolverine applies a class's Load/Validate to every endpoint in it.

public static class ListCalculatedAttributesEndpoint
{
    public static PlatformScope Load(int workspaceId, ClaimsPrincipal user, WorkspaceDirectory directory) => PlatformScope.For(workspaceId, user, directory);
    public static ProblemDetails Validate(PlatformScope scope) => scope.Check();

    [WolverineGet("/platform/v2/workspaces/{workspaceId:int}/calculatedattributes", Name = "List calculated attributes")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.CalculatedAttributesRead)]
    public static async Task<IReadOnlyList<CalculatedAttributeResource>> Get(PlatformScope scope, [FromQuery] string? name, LaggingReads reads, CancellationToken ct)
    {
        await using var session = await reads.QuerySessionAsync(ct); // may lag: a standby when there is one
        var query = session.Query<CalculatedAttribute>().Where(c => c.WorkspaceId == scope.WorkspaceId && c.OwnerAudienceId == null);
        if (name is not null) query = query.Where(c => c.Name == name);
        var attributes = await query.OrderBy(c => c.Id).ToListAsync(ct);
        var progress = await session.LoadManyAsync<Initialisation>(ct, attributes.Select(a => a.Id).ToArray());
        return attributes.Select(a => CalculatedAttributeResource.From(a, progress.FirstOrDefault(p => p.Id == a.Id))).ToList();
    }
}

public static class CalculatedAttributeExistsEndpoint
{
    public static PlatformScope Load(int workspaceId, ClaimsPrincipal user, WorkspaceDirectory directory) => PlatformScope.For(workspaceId, user, directory);
    public static ProblemDetails Validate(PlatformScope scope) => scope.Check();

    [WolverineHead("/platform/v2/workspaces/{workspaceId:int}/calculatedattributes", Name = "Does a calculated attribute exist")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.CalculatedAttributesRead)]
    public static async Task<IResult> Head([NotBody] PlatformScope scope, [FromQuery] string? name, IQuerySession session, CancellationToken ct) =>
        name is not null && await session.Query<CalculatedAttribute>().AnyAsync(c => c.WorkspaceId == scope.WorkspaceId && c.Name == name, ct)
            ? Results.NoContent()
            : Results.NotFound();
}

public static class GetCalculatedAttributeEndpoint
{
    public static PlatformScope Load(int workspaceId, ClaimsPrincipal user, WorkspaceDirectory directory) => PlatformScope.For(workspaceId, user, directory);
    public static ProblemDetails Validate(PlatformScope scope) => scope.Check();

    [WolverineGet("/platform/v2/workspaces/{workspaceId:int}/calculatedattributes/{id:int}", Name = "Get a calculated attribute")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.CalculatedAttributesRead)]
    public static async Task<IResult> Get(int id, [NotBody] PlatformScope scope, IQuerySession session, CancellationToken ct)
    {
        var attribute = await session.LoadAsync<CalculatedAttribute>(id, ct);
        if (attribute is null || attribute.WorkspaceId != scope.WorkspaceId || attribute.OwnerAudienceId is not null) return PlatformScope.NotFound(id);
        return Results.Ok(CalculatedAttributeResource.From(attribute, await session.LoadAsync<Initialisation>(id, ct)));
    }
}

public static class CreateCalculatedAttributeEndpoint
{
    public static PlatformScope Load(int workspaceId, ClaimsPrincipal user, WorkspaceDirectory directory) => PlatformScope.For(workspaceId, user, directory);

    public static async Task<ProblemDetails> ValidateAsync(PlatformScope scope, CalculatedAttributeBody body, CalculatedAttributeLimits limits, TimeProvider clock,
        IQuerySession session, CancellationToken ct)
    {
        if (scope.Problem is not null) return scope.Problem;
        var errors = new List<FieldError>();
        if (DefinitionRules.CheckName(body.Name) is { } nameProblem) errors.Add(new FieldError(nameProblem.Field, nameProblem.Reason));
        var retention = await Privacy.RetentionSettingsStore.LoadAsync(session, ct);
        errors.AddRange(DefinitionRules.Check(body.DraftDefinition, limits.RealTimeLookbackDays, clock.GetUtcNow(), retention: retention).Select(p => new FieldError(p.Field, p.Reason)));
        return errors.Count == 0 ? WolverineContinue.NoProblems : ApiProblems.Invalid(errors, "The calculated attribute is invalid");
    }

    /// <summary>Creates a draft; answers with its integer id (§A5).</summary>
    [WolverinePost("/platform/v2/workspaces/{workspaceId:int}/calculatedattributes", Name = "Create a calculated attribute (draft)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.CalculatedAttributesWrite)]
    public static async Task<IResult> Post(CalculatedAttributeBody body, PlatformScope scope, IDocumentSession session, TimeProvider clock, CancellationToken ct)
    {
        if (await session.Query<CalculatedAttribute>().AnyAsync(c => c.WorkspaceId == scope.WorkspaceId && c.Name == body.Name, ct))
            return PlatformScope.Conflict("name", $"A calculated attribute named \"{body.Name}\" already exists in this workspace.");
        var now = clock.GetUtcNow();
        var attribute = new CalculatedAttribute
        {
            WorkspaceId = scope.WorkspaceId,
            Name = body.Name!,
            Description = body.Description,
            DraftDefinition = body.DraftDefinition!.Normalized(),
            Status = CalculatedAttributeStatus.Draft,
            CreatedBy = scope.Caller,
            CreatedOn = now,
        };
        attribute.Touch(scope.Caller, now);
        session.Store(attribute);
        await session.SaveChangesAsync(ct);
        return Results.Ok(attribute.Id);
    }
}

public static class UpdateCalculatedAttributeEndpoint
{
    public static PlatformScope Load(int workspaceId, ClaimsPrincipal user, WorkspaceDirectory directory) => PlatformScope.For(workspaceId, user, directory);

    public static async Task<ProblemDetails> ValidateAsync(PlatformScope scope, CalculatedAttributeBody body, CalculatedAttributeLimits limits, TimeProvider clock,
        IQuerySession session, CancellationToken ct)
    {
        if (scope.Problem is not null) return scope.Problem;
        var errors = new List<FieldError>();
        if (body.Name is not null && DefinitionRules.CheckName(body.Name) is { } nameProblem) errors.Add(new FieldError(nameProblem.Field, nameProblem.Reason));
        if (body.DraftDefinition is not null)
            errors.AddRange(DefinitionRules.Check(body.DraftDefinition, limits.RealTimeLookbackDays, clock.GetUtcNow(),
                retention: await Privacy.RetentionSettingsStore.LoadAsync(session, ct)).Select(p => new FieldError(p.Field, p.Reason)));
        return errors.Count == 0 ? WolverineContinue.NoProblems : ApiProblems.Invalid(errors, "The calculated attribute is invalid");
    }

    /// <summary>Edits the draft and the description; the name only while the attribute was never activated (§A1).</summary>
    [WolverinePut("/platform/v2/workspaces/{workspaceId:int}/calculatedattributes/{id:int}", Name = "Update a calculated attribute")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.CalculatedAttributesWrite)]
    public static async Task<IResult> Put(int id, CalculatedAttributeBody body, PlatformScope scope, IDocumentSession session, TimeProvider clock, CancellationToken ct)
    {
        var attribute = await session.LoadAsync<CalculatedAttribute>(id, ct);
        if (attribute is null || attribute.WorkspaceId != scope.WorkspaceId || attribute.OwnerAudienceId is not null) return PlatformScope.NotFound(id);
        if (body.Name is not null && body.Name != attribute.Name)
        {
            if (attribute.WasActivated)
                return PlatformScope.Conflict("name", "The name of a calculated attribute cannot change once it has been activated.");
            if (await session.Query<CalculatedAttribute>().AnyAsync(c => c.WorkspaceId == scope.WorkspaceId && c.Name == body.Name && c.Id != id, ct))
                return PlatformScope.Conflict("name", $"A calculated attribute named \"{body.Name}\" already exists in this workspace.");
            attribute.Name = body.Name;
        }
        if (body.Description is not null) attribute.Description = body.Description;
        if (body.DraftDefinition is not null) attribute.DraftDefinition = body.DraftDefinition.Normalized();
        attribute.Touch(scope.Caller, clock.GetUtcNow());
        session.Store(attribute);
        await session.SaveChangesAsync(ct);
        return Results.NoContent();
    }
}

public static class DeleteCalculatedAttributeEndpoint
{
    public static PlatformScope Load(int workspaceId, ClaimsPrincipal user, WorkspaceDirectory directory) => PlatformScope.For(workspaceId, user, directory);
    public static ProblemDetails Validate(PlatformScope scope) => scope.Check();

    /// <summary>Deletes the definition, its initialised values and progress; live state and seeds for it are ignored from now on.</summary>
    [WolverineDelete("/platform/v2/workspaces/{workspaceId:int}/calculatedattributes/{id:int}", Name = "Delete a calculated attribute")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.CalculatedAttributesWrite)]
    public static async Task<IResult> Delete(int id, [NotBody] PlatformScope scope, IDocumentSession session,
        Forwarding.EnrichmentDefinitionsCache enrichment, CancellationToken ct)
    {
        enrichment.Forget();
        var attribute = await session.LoadAsync<CalculatedAttribute>(id, ct);
        if (attribute is null || attribute.WorkspaceId != scope.WorkspaceId || attribute.OwnerAudienceId is not null) return PlatformScope.NotFound(id);
        session.Delete(attribute);
        CalculatedAttributeActivation.ForgetInitialisation(session, id);
        await session.SaveChangesAsync(ct);
        return Results.NoContent();
    }
}

public static class ActivateCalculatedAttributeEndpoint
{
    public static PlatformScope Load(int workspaceId, ClaimsPrincipal user, WorkspaceDirectory directory) => PlatformScope.For(workspaceId, user, directory);
    public static ProblemDetails Validate(PlatformScope scope) => scope.Check();

    /// <summary>
    /// Copies the draft into the active definition and starts computing it: live from the event store's current
    /// position, and by replay of the retained events before it (a background job; see the status and progress).
    /// </summary>
    [WolverinePost("/platform/v2/workspaces/{workspaceId:int}/calculatedattributes/{id:int}/activation", Name = "Activate a calculated attribute")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.CalculatedAttributesWrite)]
    public static async Task<(IResult, InitialiseCalculatedAttribute?)> Post(
        int id, [NotBody] PlatformScope scope, IDocumentSession session, NpgsqlDataSource db, CalculatedAttributeLimits limits, TimeProvider clock,
        Forwarding.EnrichmentDefinitionsCache enrichment, CalculationsFeedKeeper feed, CancellationToken ct)
    {
        enrichment.Forget();
        var attribute = await session.LoadAsync<CalculatedAttribute>(id, ct);
        if (attribute is null || attribute.WorkspaceId != scope.WorkspaceId || attribute.OwnerAudienceId is not null) return (PlatformScope.NotFound(id), null);
        if (attribute.DraftDefinition is null)
            return (Results.Problem(ApiProblems.Invalid([new FieldError("draft_definition", "No draft definition was found to activate.")])), null);
        var now = clock.GetUtcNow();
        // The definition may have aged since it was saved (a since date, the lookback): check it as it is activated.
        var problems = DefinitionRules.Check(attribute.DraftDefinition, limits.RealTimeLookbackDays, now,
            retention: await Privacy.RetentionSettingsStore.LoadAsync(session, ct));
        if (problems.Count > 0) return (Results.Problem(ApiProblems.Invalid(problems.Select(p => new FieldError(p.Field, p.Reason)).ToList(), "The calculated attribute is invalid")), null);
        // Counted per workspace: one workspace's attributes never use up another's allowance.
        if (!attribute.IsComputed && await session.Query<CalculatedAttribute>().CountAsync(
                c => c.WorkspaceId == scope.WorkspaceId && c.Status == CalculatedAttributeStatus.Active && c.OwnerAudienceId == null, ct) >= limits.MaxActive)
            return (PlatformScope.Conflict("id", $"Workspace {scope.WorkspaceId} has reached its limit of {limits.MaxActive} active calculated attributes."), null);

        // The daemon's shard fetches every event again before the live start is taken (it fetches none while nothing is active).
        await feed.FetchEverythingAsync(ct);
        var liveAfter = await CalculatedAttributeActivation.HighWaterMarkAsync(db, session.DocumentStore.Options.DatabaseSchemaName, ct);
        attribute.Activate(scope.Caller, now, liveAfter);
        session.Store(attribute);
        CalculatedAttributeActivation.ForgetInitialisation(session, id);
        session.Store(new Initialisation { Id = id, Activation = attribute.Activation!.Value, StartedAt = now });
        // Committed by Wolverine together with the job message (transactional outbox): no activation without its replay.
        return (Results.NoContent(), new InitialiseCalculatedAttribute(id, attribute.Activation!.Value));
    }
}

public static class DeactivateCalculatedAttributeEndpoint
{
    public static PlatformScope Load(int workspaceId, ClaimsPrincipal user, WorkspaceDirectory directory) => PlatformScope.For(workspaceId, user, directory);
    public static ProblemDetails Validate(PlatformScope scope) => scope.Check();

    /// <summary>EventProfiles extension: stops computing an active attribute (its values disappear; the draft stays).</summary>
    [WolverinePost("/platform/v2/workspaces/{workspaceId:int}/calculatedattributes/{id:int}/deactivation", Name = "Deactivate a calculated attribute")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.CalculatedAttributesWrite)]
    public static async Task<IResult> Post(int id, [NotBody] PlatformScope scope, IDocumentSession session, TimeProvider clock,
        Forwarding.EnrichmentDefinitionsCache enrichment, CancellationToken ct)
    {
        enrichment.Forget();
        var attribute = await session.LoadAsync<CalculatedAttribute>(id, ct);
        if (attribute is null || attribute.WorkspaceId != scope.WorkspaceId || attribute.OwnerAudienceId is not null) return PlatformScope.NotFound(id);
        if (!attribute.IsComputed) return PlatformScope.Conflict("id", "The calculated attribute is not active.");
        attribute.Deactivate(scope.Caller, clock.GetUtcNow());
        session.Store(attribute);
        CalculatedAttributeActivation.ForgetInitialisation(session, id);
        await session.SaveChangesAsync(ct);
        return Results.NoContent();
    }
}

public static class CalculatedAttributeActivation
{
    /// <summary>
    /// The daemon's high-water mark: every event up to it is committed and visible, so a replay up to it misses nothing,
    /// and the live projection (which never runs past it) takes every event after it.
    /// </summary>
    public static async Task<long> HighWaterMarkAsync(NpgsqlDataSource db, string schema, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"select coalesce(max(last_seq_id), 0) from {schema}.mt_event_progression where name = 'HighWaterMark'");
        return Convert.ToInt64(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
    }

    public static void ForgetInitialisation(IDocumentSession session, int id)
    {
        session.DeleteWhere<InitialisedCalculation>(c => c.DefinitionId == id);
        session.Delete<Initialisation>(id);
    }
}
