using System.Security.Claims;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Identity;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Forwarding;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Workspaces;
using FluentValidation;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace EventProfiles.Commands.Forwarding;

public sealed record EventNameBody(
    [property: JsonPropertyName("event_type")] string? EventType,
    [property: JsonPropertyName("event_name")] string? EventName);

public sealed record EventAttributeBody(
    [property: JsonPropertyName("event_type")] string? EventType,
    [property: JsonPropertyName("event_name")] string? EventName,
    [property: JsonPropertyName("attribute")] string? Attribute);

public sealed record FilterBody(
    [property: JsonPropertyName("blocked_event_types")] List<string>? BlockedEventTypes,
    [property: JsonPropertyName("blocked_event_names")] List<EventNameBody>? BlockedEventNames,
    [property: JsonPropertyName("blocked_event_attributes")] List<EventAttributeBody>? BlockedEventAttributes,
    [property: JsonPropertyName("blocked_user_attributes")] List<string>? BlockedUserAttributes,
    [property: JsonPropertyName("blocked_identity_types")] List<string>? BlockedIdentityTypes);

public sealed record ConsentRuleBody(
    [property: JsonPropertyName("kind")] string? Kind,
    [property: JsonPropertyName("purpose")] string? Purpose);

/// <summary>A connection as the admin API takes and shows it.</summary>
public sealed record ConnectionBody(
    [property: JsonPropertyName("input")] string? Input,
    [property: JsonPropertyName("output_id")] string? OutputId,
    [property: JsonPropertyName("active")] bool? Active,
    [property: JsonPropertyName("filter")] FilterBody? Filter,
    [property: JsonPropertyName("consent_rules")] List<ConsentRuleBody>? ConsentRules,
    [property: JsonPropertyName("forward_erasures")] bool? ForwardErasures = null)
{
    public const string RequireGdprConsent = "require_gdpr_consent";
    public const string RequireNoCcpaOptOut = "require_no_ccpa_opt_out";

    public Connection ToConnection(string id) => new(id, Input!, OutputId!, Active ?? true,
        new DataFilter(
            Filter?.BlockedEventTypes ?? [],
            (Filter?.BlockedEventNames ?? []).Select(n => new EventNameRef(n.EventType!, n.EventName!)).ToList(),
            (Filter?.BlockedEventAttributes ?? []).Select(a => new EventAttributeRef(a.EventType!, a.EventName, a.Attribute!)).ToList(),
            Filter?.BlockedUserAttributes ?? [],
            (Filter?.BlockedIdentityTypes ?? []).Select(t => IdSyncSteps.TypeOf(t)!.Name).ToList()),
        (ConsentRules ?? []).Select(r => r.Kind == RequireGdprConsent
            ? new ConsentRule(ConsentRuleKind.RequireGdprConsent, r.Purpose!.Trim().ToLowerInvariant())
            : new ConsentRule(ConsentRuleKind.RequireNoCcpaOptOut)).ToList(),
        ForwardErasures ?? true); // on unless turned off: an output holding a person's data is told when they are erased

    public static object View(Connection c) => new
    {
        id = c.Id, input = c.Input, output_id = c.OutputId, active = c.Active, forward_erasures = c.ForwardErasures,
        filter = new
        {
            blocked_event_types = c.Filter.BlockedEventTypes,
            blocked_event_names = c.Filter.BlockedEventNames.Select(n => new { event_type = n.EventType, event_name = n.EventName }),
            blocked_event_attributes = c.Filter.BlockedEventAttributes.Select(a => new { event_type = a.EventType, event_name = a.EventName, attribute = a.Attribute }),
            blocked_user_attributes = c.Filter.BlockedUserAttributes,
            blocked_identity_types = c.Filter.BlockedIdentityTypes,
        },
        consent_rules = c.ConsentRules.Select(r => r.Kind == ConsentRuleKind.RequireGdprConsent
            ? new { kind = RequireGdprConsent, purpose = r.Purpose }
            : new { kind = RequireNoCcpaOptOut, purpose = (string?)null }),
    };

    public sealed class Validator : AbstractValidator<ConnectionBody>
    {
        public Validator(WorkspaceDirectory directory)
        {
            // The input's existence is checked with the user's access (CheckAsync): the list of inputs is theirs only.
            RuleFor(c => c.Input).NotEmpty().WithMessage("is required.").OverridePropertyName("input");
            RuleFor(c => c.OutputId).NotEmpty().WithMessage("is required.").OverridePropertyName("output_id");
            RuleForEach(c => c.Filter!.BlockedEventTypes).Must(EventTypes.All.Contains).WithMessage("is not an event type.")
                .When(c => c.Filter?.BlockedEventTypes is not null).OverridePropertyName("filter.blocked_event_types");
            RuleForEach(c => c.Filter!.BlockedEventNames).Must(n => n.EventType is not null && EventTypes.All.Contains(n.EventType) && !string.IsNullOrEmpty(n.EventName))
                .WithMessage("needs a known event_type and an event_name.")
                .When(c => c.Filter?.BlockedEventNames is not null).OverridePropertyName("filter.blocked_event_names");
            RuleForEach(c => c.Filter!.BlockedEventAttributes).Must(a => a.EventType is not null && EventTypes.All.Contains(a.EventType) && !string.IsNullOrEmpty(a.Attribute))
                .WithMessage("needs a known event_type and an attribute (event_name is optional).")
                .When(c => c.Filter?.BlockedEventAttributes is not null).OverridePropertyName("filter.blocked_event_attributes");
            RuleForEach(c => c.Filter!.BlockedIdentityTypes).Must(t => IdSyncSteps.TypeOf(t) is not null).WithMessage("is not an identity type.")
                .When(c => c.Filter?.BlockedIdentityTypes is not null).OverridePropertyName("filter.blocked_identity_types");
            RuleForEach(c => c.ConsentRules).Must(r => r.Kind == RequireNoCcpaOptOut || (r.Kind == RequireGdprConsent && !string.IsNullOrWhiteSpace(r.Purpose)))
                .WithMessage($"must be {{\"kind\": \"{RequireGdprConsent}\", \"purpose\": …}} or {{\"kind\": \"{RequireNoCcpaOptOut}\"}}.")
                .When(c => c.ConsentRules is not null).OverridePropertyName("consent_rules");
        }
    }

    public static async Task<ProblemDetails> CheckAsync(ConnectionBody body, IValidator<ConnectionBody> validator, IQuerySession session,
        WorkspaceDirectory directory, ClaimsPrincipal user, CancellationToken ct)
    {
        var access = AdminAccess.Of(user);
        var errors = validator.Validate(body).Errors.Select(e => new FieldError(e.PropertyName, e.ErrorMessage)).ToList();
        var input = body.Input is { Length: > 0 } name ? directory.InputByName(name) : null;
        if (input is not null && access.MayChange(input.Workspace.Id, "input") is { } forbidden) return forbidden;
        if (body.Input is { Length: > 0 } && input is null)
            errors.Add(new FieldError("input", $"there is no input named \"{body.Input}\"; inputs: {string.Join(", ", directory.Inputs.Where(i => access.Sees(i.Workspace.Id)).Select(i => i.Name))}."));
        var output = body.OutputId is { Length: > 0 } outputId ? await OutputViews.LoadVisibleAsync(session, outputId, user, ct) : null;
        if (body.OutputId is { Length: > 0 } && output is null) errors.Add(new FieldError("output_id", $"there is no output {body.OutputId}."));
        // An output of a workspace receives that workspace's data only.
        if (input is not null && output?.WorkspaceId is { } outputWorkspace && input.Workspace.Id != outputWorkspace)
            errors.Add(new FieldError("output_id", $"output {output.Id} belongs to workspace {outputWorkspace}; it takes inputs of that workspace only."));
        return errors.Count > 0 ? ApiProblems.Invalid(errors) : WolverineContinue.NoProblems;
    }

    /// <summary>A connection is this user's when both its input's workspace and its output are.</summary>
    public static async Task<Connection?> LoadVisibleAsync(IQuerySession session, string id, WorkspaceDirectory directory, ClaimsPrincipal user, CancellationToken ct) =>
        await session.LoadAsync<Connection>(id, ct) is { } connection && await IsVisibleAsync(connection, session, directory, user, ct) ? connection : null;

    public static async Task<bool> IsVisibleAsync(Connection connection, IQuerySession session, WorkspaceDirectory directory, ClaimsPrincipal user, CancellationToken ct)
    {
        var access = AdminAccess.Of(user);
        if (access.SeesAll) return true;
        return directory.InputByName(connection.Input) is { } input && access.Sees(input.Workspace.Id)
            && await OutputViews.LoadVisibleAsync(session, connection.OutputId, user, ct) is not null;
    }

    public static IResult NotFound(string id) =>
        Results.Problem(ApiProblems.Create(StatusCodes.Status404NotFound, "Not found", [new FieldError("id", $"There is no connection {id}.", "NOT_FOUND")]));
}

public static class CreateConnectionEndpoint
{
    public static Task<ProblemDetails> ValidateAsync(ConnectionBody body, IValidator<ConnectionBody> validator, IQuerySession session,
        WorkspaceDirectory directory, ClaimsPrincipal user, CancellationToken ct) =>
        ConnectionBody.CheckAsync(body, validator, session, directory, user, ct);

    [WolverinePost("/api/admin/connections", Name = "Connect an input to an output")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static IResult Post(ConnectionBody body, IDocumentSession session)
    {
        var connection = body.ToConnection(Guid.NewGuid().ToString("N"));
        session.Insert(connection);
        return Results.Created($"/api/admin/connections/{connection.Id}", ConnectionBody.View(connection));
    }
}

public static class ListConnectionsEndpoint
{
    [WolverineGet("/api/admin/connections", Name = "List connections")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Get(IQuerySession session, WorkspaceDirectory directory, ClaimsPrincipal user, CancellationToken ct)
    {
        var visible = new List<Connection>();
        foreach (var connection in await session.Query<Connection>().ToListAsync(ct))
            if (await ConnectionBody.IsVisibleAsync(connection, session, directory, user, ct)) visible.Add(connection);
        return Results.Ok(visible.Select(ConnectionBody.View));
    }
}

public static class GetConnectionEndpoint
{
    [WolverineGet("/api/admin/connections/{id}", Name = "Get a connection")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Get(string id, IQuerySession session, WorkspaceDirectory directory, ClaimsPrincipal user, CancellationToken ct) =>
        await ConnectionBody.LoadVisibleAsync(session, id, directory, user, ct) is { } c ? Results.Ok(ConnectionBody.View(c)) : ConnectionBody.NotFound(id);
}

public static class UpdateConnectionEndpoint
{
    public static Task<ProblemDetails> ValidateAsync(ConnectionBody body, IValidator<ConnectionBody> validator, IQuerySession session,
        WorkspaceDirectory directory, ClaimsPrincipal user, CancellationToken ct) =>
        ConnectionBody.CheckAsync(body, validator, session, directory, user, ct);

    [WolverinePut("/api/admin/connections/{id}", Name = "Update a connection")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Put(string id, ConnectionBody body, IDocumentSession session, WorkspaceDirectory directory, ClaimsPrincipal user, CancellationToken ct)
    {
        if (await ConnectionBody.LoadVisibleAsync(session, id, directory, user, ct) is null) return ConnectionBody.NotFound(id);
        var connection = body.ToConnection(id);
        session.Store(connection);
        return Results.Ok(ConnectionBody.View(connection));
    }
}

public static class DeleteConnectionEndpoint
{
    [WolverineDelete("/api/admin/connections/{id}", Name = "Delete a connection")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Delete(string id, IDocumentSession session, WorkspaceDirectory directory, ClaimsPrincipal user, CancellationToken ct)
    {
        if (await ConnectionBody.LoadVisibleAsync(session, id, directory, user, ct) is null) return ConnectionBody.NotFound(id);
        session.Delete<Connection>(id);
        return Results.NoContent();
    }
}
