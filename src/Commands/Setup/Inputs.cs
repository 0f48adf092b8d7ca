using System.Security.Claims;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Setup;
using EventProfiles.Domain.Workspaces;
using FluentValidation;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Wolverine.Http;

namespace EventProfiles.Commands.Setup;

/// <summary>An input as the admin API takes it: its key and secret are never sent, the server makes them.</summary>
public sealed record InputBody(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("workspace_id")] int? WorkspaceId,
    [property: JsonPropertyName("kind")] string? Kind,
    [property: JsonPropertyName("environment")] string? Environment = null,
    [property: JsonPropertyName("allow_key_only")] bool? AllowKeyOnly = null)
{
    public sealed class Validator : AbstractValidator<InputBody>
    {
        public Validator()
        {
            RuleFor(i => i.Name).NotEmpty().WithMessage("is required.")
                .Matches("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$").WithMessage("must be 1–100 letters, digits, '.', '_' or '-' (it names the input in URLs and logs).")
                .OverridePropertyName("name");
            RuleFor(i => i.WorkspaceId).NotNull().WithMessage("is required.").OverridePropertyName("workspace_id");
            RuleFor(i => i.Kind).Must(k => InputKindNames.Parse(k) is not null)
                .WithMessage($"must be one of {string.Join(", ", InputKindNames.All.Select(n => $"\"{n}\""))}.").OverridePropertyName("kind");
            RuleFor(i => i.Environment).Must(InputKindNames.IsEnvironment).WithMessage("must be \"development\" or \"production\".")
                .When(i => i.Environment is not null).OverridePropertyName("environment");
        }
    }
}

/// <summary>What may change on an input (PATCH): its environment and whether the key alone authenticates SDK calls.</summary>
public sealed record InputPatch(
    [property: JsonPropertyName("environment")] string? Environment = null,
    [property: JsonPropertyName("allow_key_only")] bool? AllowKeyOnly = null)
{
    public sealed class Validator : AbstractValidator<InputPatch>
    {
        public Validator() =>
            RuleFor(i => i.Environment).Must(InputKindNames.IsEnvironment).WithMessage("must be \"development\" or \"production\".")
                .When(i => i.Environment is not null).OverridePropertyName("environment");
    }
}

public static class InputKindNames
{
    public static readonly IReadOnlyList<string> All = ["server", "web", "ios", "android"];

    public static InputKind? Parse(string? kind) => kind?.ToLowerInvariant() switch
    {
        "server" => InputKind.Server,
        "web" => InputKind.Web,
        "ios" => InputKind.IOS,
        "android" => InputKind.Android,
        _ => null,
    };

    public static string Name(InputKind kind) => kind.ToString().ToLowerInvariant();

    public static bool IsEnvironment(string? environment) => environment is "development" or "production";
}

public static class InputViews
{
    /// <summary>An input as shown: its key (needed in SDK snippets) and its secrets' ids, never a secret.</summary>
    public static Dictionary<string, object?> View(SetupInput i) => new()
    {
        ["name"] = i.Id, ["workspace_id"] = i.WorkspaceId, ["kind"] = InputKindNames.Name(i.Kind), ["environment"] = i.Environment,
        ["allow_key_only"] = i.AllowKeyOnly, ["key"] = i.Key, ["disabled"] = i.Disabled, ["created_at"] = i.CreatedAt,
        ["secrets"] = i.Secrets.OrderBy(s => s.CreatedAt).Select(SetupApi.SecretView).ToList(),
    };

    /// <summary>The input when this user may see it; another workspace's input is as absent as one that never was.</summary>
    public static async Task<SetupInput?> LoadVisibleAsync(IQuerySession session, string name, ClaimsPrincipal user, CancellationToken ct) =>
        await session.LoadAsync<SetupInput>(name, ct) is { } input && AdminAccess.Of(user).Sees(input.WorkspaceId) ? input : null;

    /// <summary>
    /// An input's secrets under the shared rules. A web input may give up its last secret (the SDK sends the key alone);
    /// a server or native input without a secret could not authenticate at all.
    /// </summary>
    public static SecretOwner Secrets(SetupInput input) => new(input.Secrets, "input", "an", $"input {input.Id}", $"/api/admin/inputs/{input.Id}",
        SetupChanges.InputSecretAdded, SetupChanges.InputSecretRevoked, MayGiveUpLast: input.Kind == InputKind.Web);
}

public static class ListInputsEndpoint
{
    [WolverineGet("/api/admin/inputs", Name = "List inputs")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Get(IQuerySession session, ClaimsPrincipal user, CancellationToken ct, int? workspaceId = null)
    {
        var access = AdminAccess.Of(user);
        var inputs = await session.Query<SetupInput>().ToListAsync(ct);
        return Results.Ok(inputs.Where(i => access.Sees(i.WorkspaceId) && (workspaceId is null || i.WorkspaceId == workspaceId))
            .OrderBy(i => i.WorkspaceId).ThenBy(i => i.Id, StringComparer.Ordinal).Select(InputViews.View));
    }
}

public static class GetInputEndpoint
{
    [WolverineGet("/api/admin/inputs/{name}", Name = "Get an input")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Get(string name, IQuerySession session, ClaimsPrincipal user, CancellationToken ct) =>
        await InputViews.LoadVisibleAsync(session, name, user, ct) is { } input ? Results.Ok(InputViews.View(input)) : SetupApi.NotFound("input", name);
}

public static class CreateInputEndpoint
{
    /// <summary>The key and the first secret are made here and shown in this response only.</summary>
    [WolverinePost("/api/admin/inputs", Name = "Create an input (its key and secret are shown once)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static Task<IResult> Post(InputBody body, IValidator<InputBody> validator, IDocumentStore store, SetupRefresh refresh, SetupSecrets secrets,
        ClaimsPrincipal user, TimeProvider clock, CancellationToken ct) =>
        SetupApi.ChangeAsync(store, refresh, user, clock, async (session, _, now) =>
        {
            if (WorkspaceViews.Errors(validator, body) is [_, ..] errors) return SetupOutcome.Refused(SetupApi.Invalid(errors));
            if (AdminAccess.Of(user).MayChange(body.WorkspaceId, "workspace_id") is { } forbidden) return SetupOutcome.Refused(Results.Problem(forbidden));
            if (await session.LoadAsync<SetupWorkspace>(body.WorkspaceId!.Value, ct) is null)
                return SetupOutcome.Refused(SetupApi.Invalid(new FieldError("workspace_id", $"there is no workspace {body.WorkspaceId}.")));
            // A disabled input keeps its name: stored batches name their input.
            if (await session.LoadAsync<SetupInput>(body.Name!, ct) is not null)
                return SetupOutcome.Refused(SetupApi.Conflict("name", $"an input named '{body.Name}' exists already (names are never reused)."));
            var kind = InputKindNames.Parse(body.Kind)!.Value;
            var first = secrets.Issue(now);
            var input = new SetupInput(body.Name!, body.WorkspaceId.Value, kind, body.Environment ?? "production",
                body.AllowKeyOnly ?? kind == InputKind.Web, SetupSecrets.NewKey(), [first.Stored], false, now);
            session.Insert(input);
            return new SetupOutcome(Results.Created($"/api/admin/inputs/{input.Id}", SetupSecrets.ShownOnce(InputViews.View(input), "secret", first)),
                SetupChanges.InputCreated, $"input {input.Id}",
                $"workspace {input.WorkspaceId}, {InputKindNames.Name(kind)}, {input.Environment}, key {input.Key}, secret {first.Stored.Id}");
        }, ct);
}

public static class UpdateInputEndpoint
{
    [WolverinePatch("/api/admin/inputs/{name}", Name = "Change an input's environment or key-only access")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static Task<IResult> Patch(string name, InputPatch body, IValidator<InputPatch> validator, IDocumentStore store, SetupRefresh refresh,
        ClaimsPrincipal user, TimeProvider clock, CancellationToken ct) =>
        SetupApi.ChangeAsync(store, refresh, user, clock, async (session, _, _) =>
        {
            if (await InputViews.LoadVisibleAsync(session, name, user, ct) is not { } input) return SetupOutcome.Refused(SetupApi.NotFound("input", name));
            if (WorkspaceViews.Errors(validator, body) is [_, ..] errors) return SetupOutcome.Refused(SetupApi.Invalid(errors));
            var changed = input with { Environment = body.Environment ?? input.Environment, AllowKeyOnly = body.AllowKeyOnly ?? input.AllowKeyOnly };
            if (changed == input) return SetupOutcome.Refused(Results.Ok(InputViews.View(input)));
            session.Store(changed);
            return new SetupOutcome(Results.Ok(InputViews.View(changed)), SetupChanges.InputChanged, $"input {name}",
                $"environment {changed.Environment}, allow_key_only {changed.AllowKeyOnly}");
        }, ct);
}

public static class DisableInputEndpoint
{
    /// <summary>Disabled, not deleted: its key is refused from now on, and its name stays with the batches it sent.</summary>
    [WolverineDelete("/api/admin/inputs/{name}", Name = "Disable an input (its key is refused from now on)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static Task<IResult> Delete(string name, IDocumentStore store, SetupRefresh refresh, ClaimsPrincipal user, TimeProvider clock, CancellationToken ct) =>
        SetupApi.ChangeAsync(store, refresh, user, clock, async (session, _, _) =>
        {
            if (await InputViews.LoadVisibleAsync(session, name, user, ct) is not { } input) return SetupOutcome.Refused(SetupApi.NotFound("input", name));
            if (input.Disabled) return SetupOutcome.Refused(Results.NoContent());
            session.Store(input with { Disabled = true });
            return new SetupOutcome(Results.NoContent(), SetupChanges.InputDisabled, $"input {name}", $"key {input.Key}");
        }, ct);
}

public static class AddInputSecretEndpoint
{
    /// <summary>Rotation, step one: a second secret that works alongside the first until that one is revoked.</summary>
    [WolverinePost("/api/admin/inputs/{name}/secrets", Name = "Add a secret to an input (rotation; shown once)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static Task<IResult> Post(string name, IDocumentStore store, SetupRefresh refresh, SetupSecrets secrets, ClaimsPrincipal user,
        TimeProvider clock, CancellationToken ct) =>
        SetupApi.ChangeAsync(store, refresh, user, clock, async (session, _, now) =>
        {
            if (await InputViews.LoadVisibleAsync(session, name, user, ct) is not { } input) return SetupOutcome.Refused(SetupApi.NotFound("input", name));
            if (input.Disabled) return SetupOutcome.Refused(SetupApi.Conflict("name", $"input '{name}' is disabled."));
            return secrets.Add(InputViews.Secrets(input), now, kept => session.Store(input with { Secrets = kept }));
        }, ct);
}

public static class RevokeInputSecretEndpoint
{
    /// <summary>Rotation, step two: the old secret is refused from the next request on (every node within a second or two).</summary>
    [WolverineDelete("/api/admin/inputs/{name}/secrets/{secretId}", Name = "Revoke an input's secret")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static Task<IResult> Delete(string name, string secretId, IDocumentStore store, SetupRefresh refresh, ClaimsPrincipal user,
        TimeProvider clock, CancellationToken ct) =>
        SetupApi.ChangeAsync(store, refresh, user, clock, async (session, _, _) =>
        {
            if (await InputViews.LoadVisibleAsync(session, name, user, ct) is not { } input) return SetupOutcome.Refused(SetupApi.NotFound("input", name));
            return SetupSecrets.Revoke(InputViews.Secrets(input), secretId, kept => session.Store(input with { Secrets = kept }));
        }, ct);
}
