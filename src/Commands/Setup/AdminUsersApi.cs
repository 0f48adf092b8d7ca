using System.Security.Claims;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Setup;
using FluentValidation;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Wolverine.Http;

namespace EventProfiles.Commands.Setup;

// Admin users and identity settings are the org's: only admins of every workspace manage them, so a workspace-limited
// admin can neither create users nor widen their own rights.

/// <summary>An admin user as the admin API takes it; no workspaces: an admin of every workspace.</summary>
public sealed record AdminUserBody(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("password")] string? Password,
    [property: JsonPropertyName("workspaces")] List<int>? Workspaces = null)
{
    public const int MinPasswordLength = 12;

    public sealed class Validator : AbstractValidator<AdminUserBody>
    {
        public Validator()
        {
            RuleFor(u => u.Name).NotEmpty().WithMessage("is required.").Matches("^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
                .WithMessage("must be 1–100 letters, digits, '.', '_', '@' or '-'.").OverridePropertyName("name");
            RuleFor(u => u.Password).NotEmpty().WithMessage("is required.").MinimumLength(MinPasswordLength)
                .WithMessage($"must be at least {MinPasswordLength} characters.").MaximumLength(200).WithMessage("is at most 200 characters.").OverridePropertyName("password");
        }
    }
}

/// <summary>What may change on an admin user (PATCH): the password, the workspaces (an empty list: every workspace).</summary>
public sealed record AdminUserPatch(
    [property: JsonPropertyName("password")] string? Password = null,
    [property: JsonPropertyName("workspaces")] List<int>? Workspaces = null)
{
    public sealed class Validator : AbstractValidator<AdminUserPatch>
    {
        public Validator() =>
            RuleFor(u => u.Password).MinimumLength(AdminUserBody.MinPasswordLength).WithMessage($"must be at least {AdminUserBody.MinPasswordLength} characters.")
                .MaximumLength(200).WithMessage("is at most 200 characters.").When(u => u.Password is not null).OverridePropertyName("password");
    }
}

public static class AdminUserViews
{
    /// <summary>Never the password nor its hash.</summary>
    public static object View(SetupAdminUser u) => new { name = u.Id, workspaces = u.Workspaces, every_workspace = u.Workspaces is not { Count: > 0 }, created_at = u.CreatedAt };

    public static async Task<IResult?> CheckWorkspacesAsync(IQuerySession session, IReadOnlyList<int>? workspaces, CancellationToken ct)
    {
        for (var i = 0; i < (workspaces?.Count ?? 0); i++)
            if (await session.LoadAsync<SetupWorkspace>(workspaces![i], ct) is null)
                return SetupApi.Invalid(new FieldError($"workspaces[{i}]", $"there is no workspace {workspaces[i]}."));
        return null;
    }

    /// <summary>Someone must still be able to manage everything (users, identity settings) after this change.</summary>
    public static async Task<bool> LeavesAnOrgWideAdminAsync(IQuerySession session, string changed, bool changedStaysOrgWide, CancellationToken ct) =>
        changedStaysOrgWide || (await session.Query<SetupAdminUser>().ToListAsync(ct)).Any(u => u.Id != changed && u.Workspaces is not { Count: > 0 });
}

public static class ListAdminUsersEndpoint
{
    [WolverineGet("/api/admin/users", Name = "List admin users")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession, Policy = ApiAuthorization.EveryWorkspace)]
    public static async Task<IResult> Get(IQuerySession session, CancellationToken ct) =>
        Results.Ok((await session.Query<SetupAdminUser>().ToListAsync(ct)).OrderBy(u => u.Id, StringComparer.Ordinal).Select(AdminUserViews.View));
}

public static class GetAdminUserEndpoint
{
    [WolverineGet("/api/admin/users/{name}", Name = "Get an admin user")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession, Policy = ApiAuthorization.EveryWorkspace)]
    public static async Task<IResult> Get(string name, IQuerySession session, CancellationToken ct) =>
        await session.LoadAsync<SetupAdminUser>(name, ct) is { } user ? Results.Ok(AdminUserViews.View(user)) : SetupApi.NotFound("user", name);
}

public static class CreateAdminUserEndpoint
{
    [WolverinePost("/api/admin/users", Name = "Create an admin user")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession, Policy = ApiAuthorization.EveryWorkspace)]
    public static Task<IResult> Post(AdminUserBody body, IValidator<AdminUserBody> validator, IDocumentStore store, SetupRefresh refresh,
        ClaimsPrincipal user, TimeProvider clock, CancellationToken ct) =>
        SetupApi.ChangeAsync(store, refresh, user, clock, async (session, _, now) =>
        {
            if (WorkspaceViews.Errors(validator, body) is [_, ..] errors) return SetupOutcome.Refused(SetupApi.Invalid(errors));
            if (await AdminUserViews.CheckWorkspacesAsync(session, body.Workspaces, ct) is { } refused) return SetupOutcome.Refused(refused);
            if (await session.LoadAsync<SetupAdminUser>(body.Name!, ct) is not null)
                return SetupOutcome.Refused(SetupApi.Conflict("name", $"a user '{body.Name}' exists already."));
            var created = new SetupAdminUser(body.Name!, AdminUsers.Hash(body.Password!), body.Workspaces is { Count: > 0 } w ? [.. w.Distinct().Order()] : null, now);
            session.Insert(created);
            return new SetupOutcome(Results.Created($"/api/admin/users/{created.Id}", AdminUserViews.View(created)), SetupChanges.AdminUserCreated,
                $"user {created.Id}", created.Workspaces is null ? "every workspace" : $"workspaces {string.Join(",", created.Workspaces)}");
        }, ct);
}

public static class UpdateAdminUserEndpoint
{
    [WolverinePatch("/api/admin/users/{name}", Name = "Change an admin user's password or workspaces")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession, Policy = ApiAuthorization.EveryWorkspace)]
    public static Task<IResult> Patch(string name, AdminUserPatch body, IValidator<AdminUserPatch> validator, IDocumentStore store, SetupRefresh refresh,
        ClaimsPrincipal user, TimeProvider clock, CancellationToken ct) =>
        SetupApi.ChangeAsync(store, refresh, user, clock, async (session, _, _) =>
        {
            if (await session.LoadAsync<SetupAdminUser>(name, ct) is not { } existing) return SetupOutcome.Refused(SetupApi.NotFound("user", name));
            if (WorkspaceViews.Errors(validator, body) is [_, ..] errors) return SetupOutcome.Refused(SetupApi.Invalid(errors));
            if (await AdminUserViews.CheckWorkspacesAsync(session, body.Workspaces, ct) is { } refused) return SetupOutcome.Refused(refused);
            IReadOnlyList<int>? workspaces = body.Workspaces is null ? existing.Workspaces
                : body.Workspaces.Count > 0 ? body.Workspaces.Distinct().Order().ToList() : null;
            if (!await AdminUserViews.LeavesAnOrgWideAdminAsync(session, name, workspaces is null, ct))
                return SetupOutcome.Refused(SetupApi.Conflict("workspaces", "would leave no user who manages every workspace."));
            var changed = existing with { PasswordHash = body.Password is { } p ? AdminUsers.Hash(p) : existing.PasswordHash, Workspaces = workspaces };
            session.Store(changed);
            return new SetupOutcome(Results.Ok(AdminUserViews.View(changed)), SetupChanges.AdminUserChanged, $"user {name}",
                (body.Password is null ? "" : "password changed; ") + (workspaces is null ? "every workspace" : $"workspaces {string.Join(",", workspaces)}"));
        }, ct);
}

public static class DeleteAdminUserEndpoint
{
    [WolverineDelete("/api/admin/users/{name}", Name = "Delete an admin user")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession, Policy = ApiAuthorization.EveryWorkspace)]
    public static Task<IResult> Delete(string name, IDocumentStore store, SetupRefresh refresh, ClaimsPrincipal user, TimeProvider clock, CancellationToken ct) =>
        SetupApi.ChangeAsync(store, refresh, user, clock, async (session, _, _) =>
        {
            if (await session.LoadAsync<SetupAdminUser>(name, ct) is null) return SetupOutcome.Refused(SetupApi.NotFound("user", name));
            if (name == user.Identity?.Name) return SetupOutcome.Refused(SetupApi.Conflict("name", "you cannot delete yourself."));
            if (!await AdminUserViews.LeavesAnOrgWideAdminAsync(session, name, false, ct))
                return SetupOutcome.Refused(SetupApi.Conflict("name", "would leave no user who manages every workspace."));
            session.Delete<SetupAdminUser>(name);
            return new SetupOutcome(Results.NoContent(), SetupChanges.AdminUserDeleted, $"user {name}");
        }, ct);
}

/// <summary>The org's identity rules (identity.md §7) as the admin API takes and shows them.</summary>
public sealed record IdentitySettingsBody(
    [property: JsonPropertyName("strategy")] string? Strategy,
    [property: JsonPropertyName("immutable")] string? Immutable,
    [property: JsonPropertyName("login")] List<string>? Login = null,
    [property: JsonPropertyName("unique")] List<string>? Unique = null,
    [property: JsonPropertyName("priority")] List<string>? Priority = null,
    [property: JsonPropertyName("ignored_values")] List<string>? IgnoredValues = null,
    [property: JsonPropertyName("ignore_all_zero_values")] bool? IgnoreAllZeroValues = null,
    [property: JsonPropertyName("merge_guards")] MergeGuardsBody? MergeGuards = null)
{
    public static readonly IReadOnlyDictionary<string, IdentityStrategy> Strategies = new Dictionary<string, IdentityStrategy>
    {
        ["profile_conversion"] = IdentityStrategy.ProfileConversion,
        ["profile_link"] = IdentityStrategy.ProfileLink,
        ["profile_isolation"] = IdentityStrategy.ProfileIsolation,
    };

    public sealed class Validator : AbstractValidator<IdentitySettingsBody>
    {
        public Validator()
        {
            RuleFor(b => b.Strategy).Must(s => s is not null && Strategies.ContainsKey(s))
                .WithMessage($"must be one of {string.Join(", ", Strategies.Keys.Select(k => $"\"{k}\""))}.").OverridePropertyName("strategy");
            RuleFor(b => b.Immutable).NotEmpty().WithMessage("is required (an identity type, e.g. customer_id).").OverridePropertyName("immutable");
            const string limit = "must be 0 (off) or a positive whole number.";
            RuleFor(b => b.MergeGuards!.PeoplePerValue).GreaterThanOrEqualTo(0).When(b => b.MergeGuards is not null).WithMessage(limit)
                .OverridePropertyName("merge_guards.people_per_value");
            RuleFor(b => b.MergeGuards!.IdentitiesPerTypePerDay).GreaterThanOrEqualTo(0).When(b => b.MergeGuards is not null).WithMessage(limit)
                .OverridePropertyName("merge_guards.identities_per_type_per_day");
            RuleFor(b => b.MergeGuards!.DevicesPerHour).GreaterThanOrEqualTo(0).When(b => b.MergeGuards is not null).WithMessage(limit)
                .OverridePropertyName("merge_guards.devices_per_hour");
        }
    }

    public SetupIdentity ToSetup(SetupIdentity before) => new(Strategies[Strategy!], Immutable!, Login ?? [.. before.Login], Unique ?? [.. before.Unique],
        Priority ?? before.Priority, IgnoredValues ?? [.. before.IgnoredValues], IgnoreAllZeroValues ?? before.IgnoreAllZeroValues,
        // Omitted (or a limit omitted): kept as stored, so a PUT written before the guards existed does not reset them.
        MergeGuards?.ToPolicy(before.MergeGuards ?? MergeGuardPolicy.Default) ?? before.MergeGuards);

    public static object View(SetupIdentity i) => new
    {
        strategy = Strategies.First(s => s.Value == i.Strategy).Key, immutable = i.Immutable, login = i.Login, unique = i.Unique,
        priority = i.Priority, ignored_values = i.IgnoredValues, ignore_all_zero_values = i.IgnoreAllZeroValues,
        merge_guards = MergeGuardsBody.View(i.MergeGuards ?? MergeGuardPolicy.Default),
    };
}

/// <summary>The merge guards (issue 21 §4) as the identity settings show and take them; 0 turns a rule off.</summary>
public sealed record MergeGuardsBody(
    [property: JsonPropertyName("people_per_value")] int? PeoplePerValue = null,
    [property: JsonPropertyName("identities_per_type_per_day")] int? IdentitiesPerTypePerDay = null,
    [property: JsonPropertyName("devices_per_hour")] int? DevicesPerHour = null)
{
    public MergeGuardPolicy ToPolicy(MergeGuardPolicy before) => new(
        PeoplePerValue ?? before.PeoplePerValue, IdentitiesPerTypePerDay ?? before.IdentitiesPerTypePerDay, DevicesPerHour ?? before.DevicesPerHour);

    public static MergeGuardsBody View(MergeGuardPolicy p) => new(p.PeoplePerValue, p.IdentitiesPerTypePerDay, p.DevicesPerHour);
}

public static class GetIdentitySettingsEndpoint
{
    /// <summary>
    /// The stored rules and those this node runs with: they differ only for the refresh interval after a change made on
    /// another node (<c>EventProfiles:Setup:RefreshMs</c>, 1 s), or while the database cannot be read.
    /// </summary>
    [WolverineGet("/api/admin/identity-settings", Name = "Get the identity settings")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Get(IQuerySession session, Domain.Workspaces.WorkspaceDirectory directory, CancellationToken ct)
    {
        var org = await session.LoadAsync<SetupOrg>(SetupOrg.TheId, ct);
        return Results.Ok(new { stored = IdentitySettingsBody.View(org!.Identity), running = IdentitySettingsBody.View(SetupIdentity.From(directory.Identity)) });
    }
}

public static class UpdateIdentitySettingsEndpoint
{
    /// <summary>What the PUT answers as <c>applies</c>.</summary>
    public const string AppliesAnswer =
        "now on this node, within seconds on every other node, to resolutions from then on (people already resolved are not merged or split by a change)";

    /// <summary>
    /// A change applies on this node before the answer and on every other node within the refresh interval, to
    /// resolutions from then on: people already resolved are neither merged nor split by it (docs/identity.md).
    /// </summary>
    [WolverinePut("/api/admin/identity-settings", Name = "Change the identity settings (every node, within seconds)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession, Policy = ApiAuthorization.EveryWorkspace)]
    public static Task<IResult> Put(IdentitySettingsBody body, IValidator<IdentitySettingsBody> validator, IDocumentStore store, SetupRefresh refresh,
        ClaimsPrincipal user, TimeProvider clock, CancellationToken ct) =>
        SetupApi.ChangeAsync(store, refresh, user, clock, (_, org, _) =>
        {
            if (WorkspaceViews.Errors(validator, body) is [_, ..] errors) return Task.FromResult(SetupOutcome.Refused(SetupApi.Invalid(errors)));
            var identity = body.ToSetup(org.Identity);
            if (identity.Problems() is [_, ..] problems)
                return Task.FromResult(SetupOutcome.Refused(SetupApi.Invalid(problems.Select(p => new FieldError(p.Field, p.Reason)))));
            // Stored as built (type names in their one spelling, the immutable type also login and unique), so what is shown is what applies.
            var built = SetupIdentity.From(identity.Build());
            return Task.FromResult(new SetupOutcome(Results.Ok(new { stored = IdentitySettingsBody.View(built), applies = AppliesAnswer }),
                SetupChanges.IdentitySettingsChanged, "identity settings", System.Text.Json.JsonSerializer.Serialize(IdentitySettingsBody.View(built)), org with { Identity = built }));
        }, ct);
}
