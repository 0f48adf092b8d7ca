using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Workspaces;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Cors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace EventProfiles.Commands.Identity;

/// <summary>The body of identify, search, login, logout (identity.md §3) and modify.</summary>
public sealed class IdSyncBody
{
    [JsonPropertyName("client_sdk")] public JsonElement? ClientSdk { get; init; }
    [JsonPropertyName("environment")] public string? Environment { get; init; }
    [JsonPropertyName("request_id")] public string? RequestId { get; init; }
    [JsonPropertyName("request_timestamp_ms")] public long? RequestTimestampMs { get; init; }
    [JsonPropertyName("context")] public JsonElement? Context { get; init; }
    [JsonPropertyName("previous_mpid")] public MpidValue? PreviousMpid { get; init; }
    [JsonPropertyName("known_identities")] public Dictionary<string, IdentityValue?>? KnownIdentities { get; init; }
    [JsonPropertyName("identity_changes")] public List<IdentityChangeBody?>? IdentityChanges { get; init; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Unmodelled { get; init; }
}

public sealed class IdentityChangeBody
{
    [JsonPropertyName("identity_type")] public string? IdentityType { get; init; }
    [JsonPropertyName("old_value")] public string? OldValue { get; init; }
    [JsonPropertyName("new_value")] public string? NewValue { get; init; }
}

/// <summary>The answer of identify, search, login and logout (identity.md §5): the MPID as a string.</summary>
public sealed record IdSyncResponse(
    [property: JsonPropertyName("context")] string? Context,
    [property: JsonPropertyName("mpid")] string Mpid,
    [property: JsonPropertyName("matched_identities")] IReadOnlyDictionary<string, string> MatchedIdentities,
    [property: JsonPropertyName("is_ephemeral")] bool IsEphemeral,
    [property: JsonPropertyName("is_logged_in")] bool IsLoggedIn);

public sealed record ChangeResult(
    [property: JsonPropertyName("identity_type")] string IdentityType,
    [property: JsonPropertyName("modified_mpid")] string ModifiedMpid);

public sealed record ModifyResponse([property: JsonPropertyName("change_results")] IReadOnlyList<ChangeResult> ChangeResults);

/// <summary>A parsed IDSync request, or why it cannot be one.</summary>
public sealed record IdSyncInput(IdSyncBody? Body, ProblemDetails? Problem)
{
    public IReadOnlyList<IdentityKey> KnownIdentities() =>
        (Body?.KnownIdentities ?? [])
        .Where(kv => kv.Value is { Text.Length: > 0 })
        .Select(kv => new IdentityKey(IdSyncSteps.TypeOf(kv.Key)!.Name, kv.Value!.Value.Text))
        .ToList();
}

// One class per call: Wolverine applies a class's Load/Validate to every endpoint in it.

public static class IdentifyEndpoint
{
    public static Task<IdSyncInput> LoadAsync(HttpRequest request, CancellationToken ct) => IdSyncSteps.ReadAsync(request, ct);
    public static ProblemDetails Validate(IdSyncInput input) => IdSyncSteps.ValidateKnownIdentities(input);

    [WolverinePost("/v1/identify", Name = "IDSync identify"), EnableCors(SdkCors.Policy)]
    [Authorize(AuthenticationSchemes = AuthSchemes.IdentityApi)]
    public static Task<IResult> Post([NotBody] IdSyncInput input, ClaimsPrincipal user, WorkspaceDirectory directory, IdentityStore store, TimeProvider clock, CancellationToken ct) =>
        IdSyncSteps.RunAsync(IdSyncCall.Identify, input, user, directory, store, clock, ct);
}

public static class SearchEndpoint
{
    public static Task<IdSyncInput> LoadAsync(HttpRequest request, CancellationToken ct) => IdSyncSteps.ReadAsync(request, ct);
    public static ProblemDetails Validate(IdSyncInput input) => IdSyncSteps.ValidateKnownIdentities(input);

    [WolverinePost("/v1/search", Name = "IDSync search"), EnableCors(SdkCors.Policy)]
    [Authorize(AuthenticationSchemes = AuthSchemes.IdentityApi)]
    public static Task<IResult> Post([NotBody] IdSyncInput input, ClaimsPrincipal user, WorkspaceDirectory directory, IdentityStore store, TimeProvider clock, CancellationToken ct) =>
        IdSyncSteps.RunAsync(IdSyncCall.Search, input, user, directory, store, clock, ct);
}

public static class LoginEndpoint
{
    public static Task<IdSyncInput> LoadAsync(HttpRequest request, CancellationToken ct) => IdSyncSteps.ReadAsync(request, ct);
    public static ProblemDetails Validate(IdSyncInput input) => IdSyncSteps.ValidateKnownIdentities(input);

    [WolverinePost("/v1/login", Name = "IDSync login"), EnableCors(SdkCors.Policy)]
    [Authorize(AuthenticationSchemes = AuthSchemes.IdentityApi)]
    public static Task<IResult> Post([NotBody] IdSyncInput input, ClaimsPrincipal user, WorkspaceDirectory directory, IdentityStore store, TimeProvider clock, CancellationToken ct) =>
        IdSyncSteps.RunAsync(IdSyncCall.Login, input, user, directory, store, clock, ct);
}

public static class LogoutEndpoint
{
    public static Task<IdSyncInput> LoadAsync(HttpRequest request, CancellationToken ct) => IdSyncSteps.ReadAsync(request, ct);
    public static ProblemDetails Validate(IdSyncInput input) => IdSyncSteps.ValidateKnownIdentities(input);

    [WolverinePost("/v1/logout", Name = "IDSync logout"), EnableCors(SdkCors.Policy)]
    [Authorize(AuthenticationSchemes = AuthSchemes.IdentityApi)]
    public static Task<IResult> Post([NotBody] IdSyncInput input, ClaimsPrincipal user, WorkspaceDirectory directory, IdentityStore store, TimeProvider clock, CancellationToken ct) =>
        IdSyncSteps.RunAsync(IdSyncCall.Logout, input, user, directory, store, clock, ct);
}

public static class ModifyEndpoint
{
    public static Task<IdSyncInput> LoadAsync(HttpRequest request, CancellationToken ct) => IdSyncSteps.ReadAsync(request, ct);
    public static ProblemDetails Validate(IdSyncInput input) => IdSyncSteps.ValidateChanges(input);

    [WolverinePost("/v1/{mpid}/modify", Name = "IDSync modify"), EnableCors(SdkCors.Policy)]
    [Authorize(AuthenticationSchemes = AuthSchemes.IdentityApi)]
    public static async Task<IResult> Post(string mpid, [NotBody] IdSyncInput input, ClaimsPrincipal user, WorkspaceDirectory directory,
        IdentityStore store, TimeProvider clock, CancellationToken ct)
    {
        if (!long.TryParse(mpid, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var id) || id == 0)
            return Results.Problem(ApiProblems.Invalid([new FieldError("mpid", "must be a signed 64-bit integer (the MPID in the path).")]));
        var changes = input.Body!.IdentityChanges!.Select(c => new IdentityChange(IdSyncSteps.TypeOf(c!.IdentityType!)!.Name, c.OldValue, c.NewValue)).ToList();
        var result = await store.ModifyAsync(id, changes, IdSyncSteps.SourceOf(input, user, directory, clock), user.AuthorityOf(), ct);
        if (!result.Found) return IdSyncSteps.NotFound($"There is no profile {id}; modify never creates one.");
        if (result.Errors.Count > 0)
            return Results.Problem(ApiProblems.Invalid(result.Errors.Select(e =>
                new FieldError($"identity_changes[{changes.IndexOf(e.Change)}]", e.Error)).ToList()));
        return Results.Ok(new ModifyResponse(input.Body.IdentityChanges!
            .Select(c => new ChangeResult(c!.IdentityType!, id.ToString(CultureInfo.InvariantCulture))).ToList()));
    }
}

/// <summary>The steps the IDSync endpoints share.</summary>
public static class IdSyncSteps
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.General);

    /// <summary>IDSync names (<c>customerid</c>, <c>other2</c>, <c>ios_idfa</c>) and Events API names are both accepted.</summary>
    public static IdentityType? TypeOf(string name) =>
        IdentityTypes.FromIdSyncName(name) ?? IdentityTypes.FromUserIdentityKey(name) ?? IdentityTypes.FromName(name);

    public static async Task<IdSyncInput> ReadAsync(HttpRequest request, CancellationToken ct)
    {
        try
        {
            var body = await JsonSerializer.DeserializeAsync<IdSyncBody>(request.Body, Json, ct);
            return body is null ? Invalid("", "the body must be a JSON object.") : new IdSyncInput(body, null);
        }
        catch (JsonException ex)
        {
            var field = (ex.Path ?? "").TrimStart('$').TrimStart('.');
            return Invalid(field, ex.Path is null ? "the body is not valid JSON." : ex.Message.Split(" Path:")[0]);
        }
    }

    public static ProblemDetails ValidateKnownIdentities(IdSyncInput input)
    {
        if (input.Problem is not null) return input.Problem;
        var body = input.Body!;
        var errors = CommonErrors(body);
        if (body.KnownIdentities is not { Count: > 0 })
            errors.Add(new FieldError("known_identities", "is required: an object of identity type → value with at least one entry."));
        foreach (var (key, _) in body.KnownIdentities ?? [])
            if (TypeOf(key) is null)
                errors.Add(new FieldError($"known_identities.{key}", "is not an identity type (customerid, email, other, other2 … other10, mobile_number, ios_idfa, device_application_stamp, …)."));
        return errors.Count == 0 ? WolverineContinue.NoProblems : ApiProblems.Invalid(errors);
    }

    public static ProblemDetails ValidateChanges(IdSyncInput input)
    {
        if (input.Problem is not null) return input.Problem;
        var body = input.Body!;
        var errors = CommonErrors(body);
        if (body.IdentityChanges is null)
            errors.Add(new FieldError("identity_changes", "is required: an array of {identity_type, old_value, new_value}."));
        for (var i = 0; i < (body.IdentityChanges?.Count ?? 0); i++)
        {
            var change = body.IdentityChanges![i];
            if (change?.IdentityType is not { } type || TypeOf(type) is null)
                errors.Add(new FieldError($"identity_changes[{i}].identity_type", "is required and must be an identity type."));
            else if (change.NewValue is { Length: 0 })
                errors.Add(new FieldError($"identity_changes[{i}].new_value", "must not be empty (null removes the identity)."));
        }
        return errors.Count == 0 ? WolverineContinue.NoProblems : ApiProblems.Invalid(errors);
    }

    private static List<FieldError> CommonErrors(IdSyncBody body)
    {
        var errors = new List<FieldError>();
        if (body.Environment is not ("production" or "development"))
            errors.Add(new FieldError("environment", "is required: \"production\" or \"development\"."));
        return errors;
    }

    public static async Task<IResult> RunAsync(IdSyncCall call, IdSyncInput input, ClaimsPrincipal user, WorkspaceDirectory directory,
        IdentityStore store, TimeProvider clock, CancellationToken ct)
    {
        var previous = input.Body!.PreviousMpid?.Value is { } p and not 0 ? p : (long?)null;
        var request = new IdSyncRequest(call, input.KnownIdentities(), previous, user.AuthorityOf());
        var outcome = await store.RunAsync(request, SourceOf(input, user, directory, clock), ct);
        if (outcome is null) return NotFound("No profile matches these identities.");
        return Results.Ok(new IdSyncResponse(
            null,
            outcome.Mpid.ToString(CultureInfo.InvariantCulture),
            outcome.Matched.ToDictionary(i => IdentityTypes.FromName(i.Type)?.IdSyncName ?? i.Type, i => i.Value),
            false,
            outcome.IsLoggedIn));
    }

    public static IdentitySource SourceOf(IdSyncInput input, ClaimsPrincipal user, WorkspaceDirectory directory, TimeProvider clock)
    {
        var from = user.InputOf(directory);
        return new IdentitySource(from.Workspace.Id, from.Name, clock.GetUtcNow(), input.Body?.RequestId);
    }

    /// <summary>404 with the code the web SDK looks for (identity.md §1).</summary>
    public static IResult NotFound(string message) =>
        Results.Problem(ApiProblems.Create(StatusCodes.Status404NotFound, "Not found", [new FieldError("", message, "NOT_FOUND_ERROR")]));

    private static IdSyncInput Invalid(string field, string message) => new(null, ApiProblems.Invalid([new FieldError(field, message)]));
}
