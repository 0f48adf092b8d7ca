using System.Security.Claims;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Audiences;
using EventProfiles.Commands.Forwarding;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using EventProfiles.Projections.CalculatedAttributes;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Wolverine.Http;

namespace EventProfiles.Commands.CalculatedAttributes;

// The console's Calculated attributes page (/ui/calculated-attributes) works through these /ui/api/calculated-attributes…
// endpoints with the signed-in admin's session: the admin's workspaces become a Platform API scope, and the Platform
// API v2 endpoint's own code runs, so the console and the API cannot drift apart.

/// <summary>The admin's access to one workspace as a Platform API scope (404 unknown workspace, 403 not theirs).</summary>
public static class ConsolePlatformScope
{
    public static PlatformScope For(int workspaceId, ClaimsPrincipal user, WorkspaceDirectory directory)
    {
        var access = AdminAccess.Of(user);
        if (directory.WorkspaceById(workspaceId) is null)
            return new(workspaceId, access.User, ApiProblems.Create(StatusCodes.Status404NotFound, "Not found", [new FieldError("workspace_id", $"There is no workspace {workspaceId}.", "NOT_FOUND")]));
        return new(workspaceId, access.User, access.MayChange(workspaceId, "workspace_id"));
    }

    /// <summary>A calculated attribute the admin may see (another workspace's is "not found"), with its scope.</summary>
    public static async Task<(CalculatedAttribute? Attribute, PlatformScope Scope)> LoadAsync(int id, ClaimsPrincipal user, WorkspaceDirectory directory,
        IQuerySession session, CancellationToken ct)
    {
        var attribute = await session.LoadAsync<CalculatedAttribute>(id, ct);
        if (attribute is null || attribute.OwnerAudienceId is not null || !AdminAccess.Of(user).Sees(attribute.WorkspaceId))
            return (null, new PlatformScope(0, "", null));
        return (attribute, For(attribute.WorkspaceId, user, directory));
    }
}

public sealed record ConsoleCalculatedAttribute(
    [property: JsonPropertyName("workspace")] ConsoleWorkspace Workspace,
    [property: JsonPropertyName("attribute")] CalculatedAttributeResource Attribute,
    [property: JsonPropertyName("seeding")] SeedingStatus Seeding);

/// <summary>Whether seeds are taken for this attribute (§A6: a cutoff date set, draft or active), and for which cutoff.</summary>
public sealed record SeedingStatus(
    [property: JsonPropertyName("cutoff_date")] DateTimeOffset? CutoffDate,
    [property: JsonPropertyName("accepting_seeds")] bool AcceptingSeeds,
    [property: JsonPropertyName("status")] string Status)
{
    public static SeedingStatus Of(CalculatedAttribute attribute)
    {
        var cutoff = (attribute.ActiveDefinition ?? attribute.DraftDefinition)?.Seeding?.CutoffDate;
        var accepting = cutoff is not null && attribute.Status != CalculatedAttributeStatus.Inactive;
        return new SeedingStatus(cutoff, accepting, cutoff is null ? "not seeded (no cutoff date)" : accepting ? "accepting seeds" : "inactive: seeds are ignored");
    }
}

public sealed record ConsoleCalculatedAttributeList(
    [property: JsonPropertyName("workspaces")] IReadOnlyList<ConsoleWorkspace> Workspaces,
    [property: JsonPropertyName("attributes")] IReadOnlyList<ConsoleCalculatedAttribute> Attributes);

/// <summary>What the builder offers, from the model: the twelve types with their mode and whether they read an attribute, conditions, periods.</summary>
public sealed record CalculatedAttributeBuilderModel(
    [property: JsonPropertyName("workspaces")] IReadOnlyList<ConsoleWorkspace> Workspaces,
    [property: JsonPropertyName("calculation_types")] IReadOnlyList<CalculationTypeView> CalculationTypes,
    [property: JsonPropertyName("condition_operators")] IReadOnlyDictionary<string, IReadOnlyList<string>> ConditionOperators,
    [property: JsonPropertyName("attribute_categories")] IReadOnlyList<string> AttributeCategories,
    [property: JsonPropertyName("event_types")] IReadOnlyList<string> EventTypes,
    [property: JsonPropertyName("lookback_days")] int LookbackDays);

public sealed record CalculationTypeView(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("mode")] string Mode,
    [property: JsonPropertyName("needs_attribute")] bool NeedsAttribute,
    [property: JsonPropertyName("numeric")] bool Numeric);

/// <summary>Create body: the Platform API's body plus the workspace it belongs to.</summary>
public sealed record ConsoleCalculatedAttributeBody(
    [property: JsonPropertyName("workspace_id")] int? WorkspaceId,
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("draft_definition")] Definition? DraftDefinition)
{
    public CalculatedAttributeBody Platform => new(Name, Description, DraftDefinition);
}

/// <summary>The spread of current values over at most <see cref="ConsoleDistributionEndpoint.MaxPeople"/> people (the first by MPID).</summary>
public sealed record ConsoleDistribution(
    [property: JsonPropertyName("attribute_id")] int AttributeId,
    [property: JsonPropertyName("calculation_type")] string? CalculationType,
    [property: JsonPropertyName("people_read")] int PeopleRead,
    [property: JsonPropertyName("limited")] bool Limited,
    [property: JsonPropertyName("people_seeded")] int PeopleSeeded,
    [property: JsonPropertyName("distribution")] ValueDistribution Distribution);

public static class ConsoleListCalculatedAttributesEndpoint
{
    [WolverineGet("/ui/api/calculated-attributes", Name = "Console: calculated attributes")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static async Task<IResult> Get(ClaimsPrincipal user, WorkspaceDirectory directory, LaggingReads reads, CancellationToken ct)
    {
        await using var session = await reads.QuerySessionAsync(ct); // may lag: a standby when there is one
        var workspaces = ConsoleAudienceScope.Workspaces(user, directory);
        var ids = workspaces.Select(w => w.Id).ToArray();
        var attributes = await session.Query<CalculatedAttribute>().Where(c => c.OwnerAudienceId == null && ids.Contains(c.WorkspaceId)).OrderBy(c => c.Id).ToListAsync(ct);
        var progress = (await session.LoadManyAsync<Initialisation>(ct, attributes.Select(a => a.Id).ToArray())).ToDictionary(i => i.Id);
        return Results.Ok(new ConsoleCalculatedAttributeList(workspaces, attributes.Select(a => new ConsoleCalculatedAttribute(
            workspaces.First(w => w.Id == a.WorkspaceId), CalculatedAttributeResource.From(a, progress.GetValueOrDefault(a.Id)), SeedingStatus.Of(a))).ToList()));
    }
}

public static class ConsoleCalculatedAttributeBuilderEndpoint
{
    [WolverineGet("/ui/api/calculated-attributes/builder", Name = "Console: what the calculated attribute builder offers")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static IResult Get(ClaimsPrincipal user, WorkspaceDirectory directory, CalculatedAttributeLimits limits) =>
        Results.Ok(new CalculatedAttributeBuilderModel(
            ConsoleAudienceScope.Workspaces(user, directory),
            CalculationTypes.All.Select(t => new CalculationTypeView(t, CalculationModes.IsSynchronous(t) ? CalculationModes.Sync : CalculationModes.Async,
                CalculationTypes.NeedsAttribute(t), CalculationTypes.IsNumeric(t))).ToList(),
            ConditionOperators.Types.ToDictionary(t => t, t => (IReadOnlyList<string>)ConditionOperators.ValidTypes.Where(o => o.Value.Contains(t)).Select(o => o.Key).ToList()),
            AttributeCategories.All.Order(StringComparer.Ordinal).ToList(),
            EventTypes.All.Order(StringComparer.Ordinal).ToList(),
            limits.RealTimeLookbackDays));
}

public static class ConsoleGetCalculatedAttributeEndpoint
{
    [WolverineGet("/ui/api/calculated-attributes/{id:int}", Name = "Console: a calculated attribute")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static async Task<IResult> Get(int id, ClaimsPrincipal user, WorkspaceDirectory directory, IQuerySession session, CancellationToken ct)
    {
        var (attribute, _) = await ConsolePlatformScope.LoadAsync(id, user, directory, session, ct);
        if (attribute is null) return PlatformScope.NotFound(id);
        var workspace = directory.WorkspaceById(attribute.WorkspaceId);
        return Results.Ok(new ConsoleCalculatedAttribute(new ConsoleWorkspace(attribute.WorkspaceId, workspace?.Name ?? ""),
            CalculatedAttributeResource.From(attribute, await session.LoadAsync<Initialisation>(id, ct)), SeedingStatus.Of(attribute)));
    }
}

public static class ConsoleCreateCalculatedAttributeEndpoint
{
    public static async Task<ProblemDetails> ValidateAsync(ConsoleCalculatedAttributeBody body, ClaimsPrincipal user, WorkspaceDirectory directory,
        CalculatedAttributeLimits limits, TimeProvider clock, IQuerySession session, CancellationToken ct)
    {
        if (body.WorkspaceId is not { } ws) return ApiProblems.Invalid([new FieldError("workspace_id", "is required.")]);
        return await CreateCalculatedAttributeEndpoint.ValidateAsync(ConsolePlatformScope.For(ws, user, directory), body.Platform, limits, clock, session, ct);
    }

    /// <summary>Creates a draft, as <c>POST /platform/v2/workspaces/{ws}/calculatedattributes</c>; answers with its id.</summary>
    [WolverinePost("/ui/api/calculated-attributes", Name = "Console: create a calculated attribute (draft)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static Task<IResult> Post(ConsoleCalculatedAttributeBody body, ClaimsPrincipal user, WorkspaceDirectory directory, IDocumentSession session,
        TimeProvider clock, CancellationToken ct) =>
        CreateCalculatedAttributeEndpoint.Post(body.Platform, ConsolePlatformScope.For(body.WorkspaceId!.Value, user, directory), session, clock, ct);
}

public static class ConsoleUpdateCalculatedAttributeEndpoint
{
    /// <summary>Another workspace's attribute is "not found"; a workspace the admin may only read is refused; then the body, as the Platform API checks it.</summary>
    public static async Task<ProblemDetails> ValidateAsync(int id, ConsoleCalculatedAttributeBody body, ClaimsPrincipal user, WorkspaceDirectory directory,
        CalculatedAttributeLimits limits, TimeProvider clock, IQuerySession session, CancellationToken ct)
    {
        var (attribute, scope) = await ConsolePlatformScope.LoadAsync(id, user, directory, session, ct);
        if (attribute is null)
            return ApiProblems.Create(StatusCodes.Status404NotFound, "Not found", [new FieldError("id", $"There is no calculated attribute {id}.", "NOT_FOUND")]);
        if (body.WorkspaceId is { } ws && ws != attribute.WorkspaceId)
            return ApiProblems.Invalid([new FieldError("workspace_id", "cannot change; create the attribute in the other workspace.")]);
        return await UpdateCalculatedAttributeEndpoint.ValidateAsync(scope, body.Platform, limits, clock, session, ct);
    }

    /// <summary>
    /// Saves the builder's edit, as <c>PUT /platform/v2/workspaces/{ws}/calculatedattributes/{id}</c>: the draft and the
    /// description (the name only while never activated). An active attribute keeps computing its active definition
    /// until the draft is activated, which calculates it again from the stored events (the page offers both at once).
    /// </summary>
    [WolverinePut("/ui/api/calculated-attributes/{id:int}", Name = "Console: edit a calculated attribute")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static async Task<IResult> Put(int id, ConsoleCalculatedAttributeBody body, ClaimsPrincipal user, WorkspaceDirectory directory, IDocumentSession session,
        TimeProvider clock, CancellationToken ct)
    {
        var (attribute, scope) = await ConsolePlatformScope.LoadAsync(id, user, directory, session, ct);
        if (attribute is null) return PlatformScope.NotFound(id);
        return await UpdateCalculatedAttributeEndpoint.Put(id, body.Platform, scope, session, clock, ct);
    }
}

public static class ConsoleActivateCalculatedAttributeEndpoint
{
    [WolverinePost("/ui/api/calculated-attributes/{id:int}/activation", Name = "Console: activate a calculated attribute")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static async Task<(IResult, InitialiseCalculatedAttribute?)> Post(int id, ClaimsPrincipal user, WorkspaceDirectory directory, IDocumentSession session,
        NpgsqlDataSource db, CalculatedAttributeLimits limits, TimeProvider clock, EnrichmentDefinitionsCache enrichment, CalculationsFeedKeeper feed,
        CancellationToken ct)
    {
        var (attribute, scope) = await ConsolePlatformScope.LoadAsync(id, user, directory, session, ct);
        if (attribute is null) return (PlatformScope.NotFound(id), null);
        if (scope.Problem is { } problem) return (Results.Problem(problem), null);
        return await ActivateCalculatedAttributeEndpoint.Post(id, scope, session, db, limits, clock, enrichment, feed, ct);
    }
}

public static class ConsoleDeactivateCalculatedAttributeEndpoint
{
    [WolverinePost("/ui/api/calculated-attributes/{id:int}/deactivation", Name = "Console: deactivate a calculated attribute")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static async Task<IResult> Post(int id, ClaimsPrincipal user, WorkspaceDirectory directory, IDocumentSession session, TimeProvider clock,
        EnrichmentDefinitionsCache enrichment, CancellationToken ct)
    {
        var (attribute, scope) = await ConsolePlatformScope.LoadAsync(id, user, directory, session, ct);
        if (attribute is null) return PlatformScope.NotFound(id);
        if (scope.Problem is { } problem) return Results.Problem(problem);
        return await DeactivateCalculatedAttributeEndpoint.Post(id, scope, session, clock, enrichment, ct);
    }
}

/// <summary>
/// <c>GET /ui/api/calculated-attributes/{id}/distribution</c>: the spread of the attribute's current values. The people
/// who have state for it are found in SQL over the read model (the live state and the replayed parts, first
/// <see cref="MaxPeople"/> by MPID), and their values are computed by the same code the Profile API uses, at this moment.
/// </summary>
public static class ConsoleDistributionEndpoint
{
    public const int MaxPeople = 5_000;

    [WolverineGet("/ui/api/calculated-attributes/{id:int}/distribution", Name = "Console: distribution of a calculated attribute's values")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static async Task<IResult> Get(int id, ClaimsPrincipal user, WorkspaceDirectory directory, LaggingReads reads, TimeProvider clock, CancellationToken ct)
    {
        await using var session = await reads.QuerySessionAsync(ct); // may lag: a standby when there is one
        var (attribute, _) = await ConsolePlatformScope.LoadAsync(id, user, directory, session, ct);
        if (attribute is null) return PlatformScope.NotFound(id);
        var type = (attribute.ActiveDefinition ?? attribute.DraftDefinition)?.CalculationType;
        if (attribute.Computed() is not { } definition)
            return Results.Ok(new ConsoleDistribution(id, type, 0, false, 0, ValueDistribution.Of(type, [])));

        var people = await PeopleAsync(reads.DataSource, session.DocumentStore, definition, ct);
        var limited = people.Count > MaxPeople;
        if (limited) people.RemoveAt(people.Count - 1);
        var now = clock.GetUtcNow();
        var values = new List<CalculatedValue>();
        var seeded = 0;
        foreach (var chunk in people.Chunk(1_000))
        {
            var batch = session.CreateBatchQuery();
            var live = batch.LoadMany<PersonCalculations>().ById(chunk.Select(StreamKey.For).ToArray());
            var replayed = batch.Query<InitialisedCalculation>().Where(c => c.DefinitionId == id && chunk.Contains(c.Mpid)).ToList();
            await batch.Execute(ct);
            var liveByMpid = (await live).ToDictionary(p => p.Mpid);
            var replayedByMpid = (await replayed).ToLookup(r => r.Mpid);
            foreach (var mpid in chunk)
            {
                var person = liveByMpid.GetValueOrDefault(mpid);
                var parts = replayedByMpid[mpid].ToList();
                if (VisibleCalculatedValues.Combine([attribute], person, parts, now).GetValueOrDefault(attribute.Name) is { } value) values.Add(value);
                if (person?.Definitions.GetValueOrDefault(id)?.Seed is not null || parts.Any(p => p.Activation == definition.Activation && p.Calculation.Seed is not null)) seeded++;
            }
        }
        return Results.Ok(new ConsoleDistribution(id, type, people.Count, limited, seeded, ValueDistribution.Of(type, values)));
    }

    /// <summary>The first MaxPeople + 1 people by MPID with state for this activation of the definition (one more: to tell the list was cut).</summary>
    private static async Task<List<long>> PeopleAsync(NpgsqlDataSource db, IDocumentStore store, ActiveDefinition definition, CancellationToken ct)
    {
        var live = store.Options.FindOrResolveDocumentType(typeof(PersonCalculations)).TableName.QualifiedName;
        var replayed = store.Options.FindOrResolveDocumentType(typeof(InitialisedCalculation)).TableName.QualifiedName;
        await using var command = db.CreateCommand(
            $"""
            select mpid from (
              select (data->>'Mpid')::bigint as mpid from {live} where data->'Definitions' ? $1
              union
              select (data->>'Mpid')::bigint from {replayed} where (data->>'DefinitionId')::int = $2 and data->>'Activation' = $3
            ) people order by mpid limit $4
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = definition.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        command.Parameters.Add(new NpgsqlParameter { Value = definition.Id });
        command.Parameters.Add(new NpgsqlParameter { Value = definition.Activation.ToString() });
        command.Parameters.Add(new NpgsqlParameter { Value = MaxPeople + 1 });
        var people = new List<long>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) people.Add(reader.GetInt64(0));
        return people;
    }
}
