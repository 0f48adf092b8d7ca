using System.Globalization;
using System.Security.Claims;
using System.Text;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.CalculatedAttributes;
using EventProfiles.Commands.Forwarding;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Forwarding;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Wolverine;
using Wolverine.Http;

namespace EventProfiles.Commands.Audiences;

// The console's Audiences page (/ui/audiences) reads and changes audiences through these /ui/api/audiences… endpoints
// with the signed-in admin's session. Each one applies the admin's workspaces as an audience scope and then runs the
// Platform API v1 endpoint's own code, so the console and the API cannot drift apart.

/// <summary>An admin's view of audiences: the workspaces they may use, as the Platform API's scope.</summary>
public static class ConsoleAudienceScope
{
    public static AudienceScope For(ClaimsPrincipal user, WorkspaceDirectory directory)
    {
        var access = AdminAccess.Of(user);
        var visible = directory.Workspaces.Where(w => access.Sees(w.Id)).ToList();
        return new AudienceScope(visible.Select(w => w.AccountId).DefaultIfEmpty(0).Min(), visible.Select(w => w.Id).ToHashSet(), access.User, null);
    }

    public static IReadOnlyList<ConsoleWorkspace> Workspaces(ClaimsPrincipal user, WorkspaceDirectory directory)
    {
        var access = AdminAccess.Of(user);
        return directory.Workspaces.Where(w => access.Sees(w.Id)).OrderBy(w => w.Id).Select(w => new ConsoleWorkspace(w.Id, w.Name)).ToList();
    }
}

public sealed record ConsoleWorkspace([property: JsonPropertyName("id")] int Id, [property: JsonPropertyName("name")] string Name);

public sealed record ConsoleAudienceList(
    [property: JsonPropertyName("workspaces")] IReadOnlyList<ConsoleWorkspace> Workspaces,
    [property: JsonPropertyName("audiences")] IReadOnlyList<AudienceResource> Audiences);

public sealed record ConsoleConnection(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("output_id")] string OutputId,
    [property: JsonPropertyName("output_name")] string OutputName,
    [property: JsonPropertyName("kind")] string Kind);

public sealed record ConsoleOutput(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("workspace_id")] int? WorkspaceId);

/// <summary>One audience as its page shows it: the audience object, its connections and the outputs it could still be connected to.</summary>
public sealed record ConsoleAudience(
    [property: JsonPropertyName("audience")] AudienceResource Audience,
    [property: JsonPropertyName("connections")] IReadOnlyList<ConsoleConnection> Connections,
    [property: JsonPropertyName("available_outputs")] IReadOnlyList<ConsoleOutput> AvailableOutputs,
    [property: JsonPropertyName("revisions")] IReadOnlyList<ConsoleRevision> Revisions);

/// <summary>One saved edit, newest first on the audience page.</summary>
public sealed record ConsoleRevision(
    [property: JsonPropertyName("at")] DateTimeOffset At,
    [property: JsonPropertyName("by")] string By,
    [property: JsonPropertyName("changed")] IReadOnlyList<string> Changed,
    [property: JsonPropertyName("reactivated")] bool Reactivated);

/// <summary>
/// What the builder offers, taken from the model itself so the form maps 1:1 to the API: criterion kinds, joins,
/// operators per value type, event and identity types, the lookback event criteria may reach, and what can be nested.
/// </summary>
public sealed record AudienceBuilderModel(
    [property: JsonPropertyName("workspaces")] IReadOnlyList<ConsoleWorkspace> Workspaces,
    [property: JsonPropertyName("kinds")] IReadOnlyList<string> Kinds,
    [property: JsonPropertyName("joins")] IReadOnlyList<string> Joins,
    [property: JsonPropertyName("operators_by_type")] IReadOnlyDictionary<string, IReadOnlyList<string>> OperatorsByType,
    [property: JsonPropertyName("frequency_operators")] IReadOnlyList<string> FrequencyOperators,
    [property: JsonPropertyName("condition_operators")] IReadOnlyDictionary<string, IReadOnlyList<string>> ConditionOperators,
    [property: JsonPropertyName("event_types")] IReadOnlyList<string> EventTypes,
    [property: JsonPropertyName("identity_types")] IReadOnlyList<string> IdentityTypes,
    [property: JsonPropertyName("lookback_days")] int LookbackDays,
    [property: JsonPropertyName("data_range")] DataWindow DataRange,
    [property: JsonPropertyName("audiences")] IReadOnlyList<NestableAudience> Audiences,
    [property: JsonPropertyName("calculated_attributes")] IReadOnlyList<NamedAttribute> CalculatedAttributes,
    [property: JsonPropertyName("event_names")] IReadOnlyList<string> EventNames);

/// <summary>Another audience a membership criterion may name; when it cannot be nested, why.</summary>
public sealed record NestableAudience(
    [property: JsonPropertyName("id")] int Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("workspaces")] IReadOnlyList<int> Workspaces,
    [property: JsonPropertyName("not_nestable_because")] string? NotNestableBecause);

public sealed record NamedAttribute(
    [property: JsonPropertyName("workspace_id")] int WorkspaceId,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("calculation_type")] string? CalculationType);

public sealed record AudienceConnectBody([property: JsonPropertyName("output_id")] string? OutputId);

public static class ConsoleListAudiencesEndpoint
{
    [WolverineGet("/ui/api/audiences", Name = "Console: audiences")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static async Task<IResult> Get(ClaimsPrincipal user, WorkspaceDirectory directory, LaggingReads reads, CalculatedAttributeLimits limits,
        TimeProvider clock, CancellationToken ct)
    {
        await using var session = await reads.QuerySessionAsync(ct); // may lag: a standby when there is one
        var audiences = await AudienceQueries.ListAsync(ConsoleAudienceScope.For(user, directory), session, directory, limits, clock, ct);
        return Results.Ok(new ConsoleAudienceList(ConsoleAudienceScope.Workspaces(user, directory), audiences));
    }
}

public static class ConsoleAudienceBuilderEndpoint
{
    [WolverineGet("/ui/api/audiences/builder", Name = "Console: what the audience builder offers")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static async Task<IResult> Get(ClaimsPrincipal user, WorkspaceDirectory directory, IQuerySession session, CalculatedAttributeLimits limits, CancellationToken ct)
    {
        var scope = ConsoleAudienceScope.For(user, directory);
        var audiences = (await session.Query<Audience>().OrderBy(a => a.Id).ToListAsync(ct)).Where(scope.Sees).ToList();
        var attributes = (await session.Query<CalculatedAttribute>().Where(c => c.OwnerAudienceId == null).OrderBy(c => c.Name).ToListAsync(ct))
            .Where(c => scope.Workspaces.Contains(c.WorkspaceId)).ToList();
        var retention = await Privacy.RetentionSettingsStore.LoadAsync(session, ct);
        // Names the workspace's definitions already use: suggestions while the catalog is not there; any name may be typed.
        var eventNames = audiences.SelectMany(a => a.Criteria).Select(c => c.EventName)
            .Concat(attributes.Select(c => (c.ActiveDefinition ?? c.DraftDefinition)?.Selector?.EventName))
            .OfType<string>().Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        return Results.Ok(new AudienceBuilderModel(
            ConsoleAudienceScope.Workspaces(user, directory), CriterionKinds.All, [Joins.And, Joins.Or, Joins.Exclude],
            AudienceOperators.ByType, AudienceOperators.Frequency,
            ConditionOperators.Types.ToDictionary(t => t, t => (IReadOnlyList<string>)ConditionOperators.ValidTypes.Where(o => o.Value.Contains(t)).Select(o => o.Key).ToList()),
            EventTypes.All.Order(StringComparer.Ordinal).ToList(), Domain.Identity.IdentityTypes.All.Select(t => t.Name).ToList(), limits.RealTimeLookbackDays,
            new DataWindow(limits.RealTimeLookbackDays, retention.ProfileLifetimeDays, retention.LifetimeProfiles),
            audiences.Select(a => new NestableAudience(a.Id, a.Name, a.WorkspaceIds,
                a.Nested.Any() ? "it has membership criteria itself (one level of nesting only)" : null)).ToList(),
            attributes.Select(c => new NamedAttribute(c.WorkspaceId, c.Name, (c.ActiveDefinition ?? c.DraftDefinition)?.CalculationType)).ToList(),
            eventNames));
    }
}

public static class ConsoleGetAudienceEndpoint
{
    [WolverineGet("/ui/api/audiences/{id:int}", Name = "Console: an audience")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static async Task<IResult> Get(int id, ClaimsPrincipal user, WorkspaceDirectory directory, IQuerySession session, CalculatedAttributeLimits limits,
        TimeProvider clock, CancellationToken ct)
    {
        var scope = ConsoleAudienceScope.For(user, directory);
        if (await session.LoadAsync<Audience>(id, ct) is not { } audience || !scope.Sees(audience)) return AudienceScope.NotFound(id);
        var view = await AudienceResource.ViewAsync(audience, session, directory, limits, clock.GetUtcNow(), ct);
        var connections = await session.Query<AudienceConnection>().Where(c => c.AudienceId == id).ToListAsync(ct);
        var access = AdminAccess.Of(user);
        // An output of one workspace takes audiences of that workspace only (as the connection endpoint checks).
        var outputs = (await session.Query<Output>().ToListAsync(ct)).Where(o => access.Sees(o.WorkspaceId)).OrderBy(o => o.Name, StringComparer.OrdinalIgnoreCase).ToList();
        var byId = outputs.ToDictionary(o => o.Id);
        var revisions = await session.Query<AudienceRevision>().Where(r => r.AudienceId == id).OrderByDescending(r => r.At).Take(20).ToListAsync(ct);
        return Results.Ok(new ConsoleAudience(view,
            connections.Where(c => byId.ContainsKey(c.OutputId))
                .Select(c => new ConsoleConnection(c.Id, c.OutputId, byId[c.OutputId].Name, OutputViews.KindName(byId[c.OutputId].Kind))).ToList(),
            outputs.Where(o => connections.All(c => c.OutputId != o.Id) && (o.WorkspaceId is not { } ws || audience.WorkspaceIds.All(w => w == ws)))
                .Select(o => new ConsoleOutput(o.Id, o.Name, OutputViews.KindName(o.Kind), o.WorkspaceId)).ToList(),
            revisions.Select(r => new ConsoleRevision(r.At, r.By, r.Changed, r.Reactivated)).ToList()));
    }
}

public static class ConsoleCreateAudienceEndpoint
{
    public static async Task<ProblemDetails> ValidateAsync(AudienceBody body, ClaimsPrincipal user, WorkspaceDirectory directory, IQuerySession session,
        CalculatedAttributeLimits limits, CancellationToken ct) =>
        await AudienceQueries.CheckAsync(ConsoleAudienceScope.For(user, directory), body, session, limits, null, requireAll: true, ct);

    /// <summary>Creates a draft, as <c>POST /v1/audiences</c>; answers with the audience object.</summary>
    [WolverinePost("/ui/api/audiences", Name = "Console: create an audience (draft)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static Task<IResult> Post(AudienceBody body, ClaimsPrincipal user, IDocumentSession session, WorkspaceDirectory directory, CalculatedAttributeLimits limits,
        TimeProvider clock, CancellationToken ct) =>
        CreateAudienceEndpoint.Post(body, ConsoleAudienceScope.For(user, directory), session, directory, limits, clock, ct);
}

public static class ConsoleUpdateAudienceEndpoint
{
    /// <summary>Another workspace's audience is answered as one that does not exist, before its body is judged.</summary>
    public static async Task<ProblemDetails> ValidateAsync(int id, AudienceBody body, ClaimsPrincipal user, WorkspaceDirectory directory, IQuerySession session,
        CalculatedAttributeLimits limits, CancellationToken ct)
    {
        var scope = ConsoleAudienceScope.For(user, directory);
        if (await session.LoadAsync<Audience>(id, ct) is not { } audience || !scope.Sees(audience))
            return ApiProblems.Create(StatusCodes.Status404NotFound, "Not found", [new FieldError("id", $"There is no audience {id} in this account.", "NOT_FOUND")]);
        return await AudienceQueries.CheckAsync(scope, body, session, limits, id, requireAll: false, ct);
    }

    /// <summary>
    /// Saves the builder's edit, as <c>PUT /v1/audiences/{id}</c>: a draft (or inactive, or standard) audience just
    /// changes; an evaluated real-time one whose criteria or workspaces change is a new version, evaluated again.
    /// </summary>
    [WolverinePut("/ui/api/audiences/{id:int}", Name = "Console: edit an audience")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static Task<(IResult, OutgoingMessages)> Put(int id, AudienceBody body, ClaimsPrincipal user, WorkspaceDirectory directory, IDocumentSession session,
        NpgsqlDataSource db, CalculatedAttributeLimits limits, TimeProvider clock, EnrichmentDefinitionsCache enrichment, CalculationsFeedKeeper feed, CancellationToken ct) =>
        UpdateAudienceEndpoint.Put(id, body, ConsoleAudienceScope.For(user, directory), session, db, limits, clock, enrichment, feed, ct);
}

public static class ConsoleActivateAudienceEndpoint
{
    [WolverinePost("/ui/api/audiences/{id:int}/activation", Name = "Console: activate an audience")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static Task<(IResult, OutgoingMessages)> Post(int id, ClaimsPrincipal user, WorkspaceDirectory directory, IDocumentSession session, NpgsqlDataSource db,
        CalculatedAttributeLimits limits, TimeProvider clock, CalculationsFeedKeeper feed, CancellationToken ct) =>
        ActivateAudienceEndpoint.Post(id, ConsoleAudienceScope.For(user, directory), session, db, limits, clock, feed, ct);
}

public static class ConsoleDeactivateAudienceEndpoint
{
    [WolverinePost("/ui/api/audiences/{id:int}/deactivation", Name = "Console: deactivate an audience")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static Task<IResult> Post(int id, ClaimsPrincipal user, WorkspaceDirectory directory, IDocumentSession session, TimeProvider clock,
        EnrichmentDefinitionsCache enrichment, CancellationToken ct) =>
        DeactivateAudienceEndpoint.Post(id, ConsoleAudienceScope.For(user, directory), session, clock, enrichment, ct);
}

public static class ConsoleSendAudienceEndpoint
{
    [WolverinePost("/ui/api/audiences/{id:int}/send", Name = "Console: send a standard audience to its outputs")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static Task<(IResult, OutgoingMessages)> Post(int id, ClaimsPrincipal user, IDocumentSession session, WorkspaceDirectory directory,
        TimeProvider clock, CancellationToken ct) =>
        SendStandardAudienceEndpoint.Post(id, ConsoleAudienceScope.For(user, directory), session, directory, clock, ct);
}

public static class ConsoleConnectAudienceEndpoint
{
    /// <summary>Connects the audience to an output (as <c>POST /api/admin/audience-connections</c>): its membership changes go there from now on.</summary>
    [WolverinePost("/ui/api/audiences/{id:int}/connections", Name = "Console: connect an audience to an output")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static Task<IResult> Post(int id, AudienceConnectBody body, IDocumentSession session, ClaimsPrincipal user, CancellationToken ct) =>
        CreateAudienceConnectionEndpoint.Post(new AudienceConnectionBody(id, body.OutputId), session, user, ct);
}

public static class ConsoleDisconnectAudienceEndpoint
{
    [WolverineDelete("/ui/api/audiences/{id:int}/connections/{connectionId}", Name = "Console: disconnect an audience from an output")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static async Task<IResult> Delete(int id, string connectionId, IDocumentSession session, ClaimsPrincipal user, CancellationToken ct) =>
        await session.LoadAsync<AudienceConnection>(connectionId, ct) is { } connection && connection.AudienceId == id
            ? await DeleteAudienceConnectionEndpoint.Delete(connectionId, session, user, ct)
            : Results.NotFound();
}

public static class ConsoleExplainMembershipEndpoint
{
    /// <summary>"Why (not) a member": the explain endpoint's answer for one person.</summary>
    [WolverineGet("/ui/api/audiences/{id:int}/explain/{mpid}", Name = "Console: explain a person's membership")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static async Task<IResult> Get(int id, string mpid, ClaimsPrincipal user, WorkspaceDirectory directory, IQuerySession session, TimeProvider clock,
        CancellationToken ct) =>
        StreamKey.TryParse(mpid.Trim(), out var person)
            ? await ExplainMembershipEndpoint.Get(id, person, ConsoleAudienceScope.For(user, directory), session, clock, ct)
            : Results.Problem(ApiProblems.Invalid([new FieldError("mpid", "is not an MPID (a 64-bit integer).")]));
}

/// <summary>
/// <c>GET /ui/api/audiences/{id}/members.csv</c>: the audience's current members with their customer id and email in the
/// audience's workspaces, streamed a page at a time (keyset on the MPID), so any size downloads in constant memory.
/// </summary>
public static class ConsoleAudienceMembersEndpoint
{
    private const int PageSize = 1_000;

    [WolverineGet("/ui/api/audiences/{id:int}/members.csv", Name = "Console: download an audience's members as CSV")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static async Task<IResult> Get(int id, ClaimsPrincipal user, WorkspaceDirectory directory, IDocumentStore store, CancellationToken ct)
    {
        var scope = ConsoleAudienceScope.For(user, directory);
        Audience? audience;
        await using (var session = store.QuerySession()) audience = await session.LoadAsync<Audience>(id, ct);
        if (audience is null || !scope.Sees(audience)) return AudienceScope.NotFound(id);
        return Results.Stream(async body =>
        {
            await using var writer = new StreamWriter(body, new UTF8Encoding(false), 64 * 1024);
            await writer.WriteAsync("mpid,member_since,customer_id,email\r\n");
            await using var session = store.QuerySession();
            var after = long.MinValue;
            while (true)
            {
                var page = await session.Query<AudienceMember>().Where(m => m.AudienceId == id && m.Mpid > after).OrderBy(m => m.Mpid).Take(PageSize).ToListAsync(ct);
                if (page.Count == 0) break;
                var profiles = (await session.LoadManyAsync<Profile>(ct, page.Select(m => StreamKey.For(m.Mpid)).ToArray())).ToDictionary(p => p.Mpid);
                foreach (var member in page)
                {
                    var identities = profiles.GetValueOrDefault(member.Mpid)?.Identities.Where(i => audience.WorkspaceIds.Contains(i.WorkspaceId)).ToList() ?? [];
                    string? Identity(IdentityType type) => identities.FirstOrDefault(i => i.Type == type.Name)?.Value;
                    await writer.WriteAsync(string.Join(',', member.Mpid.ToString(CultureInfo.InvariantCulture), member.Since.ToString("O", CultureInfo.InvariantCulture),
                        Csv(Identity(IdentityTypes.CustomerId)), Csv(Identity(IdentityTypes.Email))) + "\r\n");
                }
                await writer.FlushAsync(ct);
                after = page[^1].Mpid;
            }
        }, "text/csv; charset=utf-8", $"audience-{id}-members.csv");
    }

    /// <summary>RFC 4180 quoting; a value a spreadsheet would run as a formula is prefixed with an apostrophe.</summary>
    public static string Csv(string? value)
    {
        if (string.IsNullOrEmpty(value)) return "";
        if (value[0] is '=' or '+' or '-' or '@' or '\t' or '\r') value = "'" + value;
        return value.IndexOfAny([',', '"', '\r', '\n']) >= 0 ? $"\"{value.Replace("\"", "\"\"")}\"" : value;
    }
}
