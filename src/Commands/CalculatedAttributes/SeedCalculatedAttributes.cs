using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Identity;
using EventProfiles.Commands.Security;
using EventProfiles.Commands.Streams;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Npgsql;
using Wolverine.Http;

namespace EventProfiles.Commands.CalculatedAttributes;

/// <summary>One seed: the value a calculation had before the cutoff date (§A6).</summary>
public sealed record SeedInput(
    [property: JsonPropertyName("attribute_name")] string? AttributeName,
    [property: JsonPropertyName("calculation_type")] string? CalculationType,
    [property: JsonPropertyName("cutoff_date")] string? CutoffDate,
    [property: JsonPropertyName("seed")] JsonElement? Seed);

public sealed record UserAttributeInput(
    [property: JsonPropertyName("attribute_name")] string? AttributeName,
    [property: JsonPropertyName("attribute_value")] JsonElement? AttributeValue);

/// <summary>
/// A seeding request for one person, found by <c>mpid</c> (wins) or <c>identities</c>. The lists may be sent bare or
/// under a <c>workspace</c> key (<c>{"workspace": [...]}</c>); the workspace is always the input's.
/// </summary>
public sealed record SeedRequest(
    [property: JsonPropertyName("environment")] string? Environment,
    [property: JsonPropertyName("mpid")] JsonElement? Mpid,
    [property: JsonPropertyName("identities")] Dictionary<string, string?>? Identities,
    [property: JsonPropertyName("calculated_attributes")] JsonElement? CalculatedAttributes,
    [property: JsonPropertyName("user_attributes")] JsonElement? UserAttributes)
{
    public IReadOnlyList<SeedInput> Seeds() => ListOf<SeedInput>(CalculatedAttributes);
    public IReadOnlyList<UserAttributeInput> Attributes() => ListOf<UserAttributeInput>(UserAttributes);

    private static IReadOnlyList<T> ListOf<T>(JsonElement? section) => section switch
    {
        { ValueKind: JsonValueKind.Array } a => a.Deserialize<List<T>>() ?? [],
        { ValueKind: JsonValueKind.Object } o when o.TryGetProperty("workspace", out var w) && w.ValueKind == JsonValueKind.Array => w.Deserialize<List<T>>() ?? [],
        _ => [],
    };
}

/// <summary>
/// <c>POST /v2/calculatedattributes</c> and <c>/v2/bulkcalculatedattributes</c> (§A6, Basic auth with the input's key and
/// secret): hands over historical values. Each seed is recorded on the person's stream, so the calculation — live,
/// replayed or rebuilt — continues from it; user attributes sent along are upserted. Bulk requests are all-or-nothing.
/// </summary>
public static class SeedCalculatedAttributes
{
    public const int MaxBulk = 100;
    private static readonly JsonElement JsonNull = JsonDocument.Parse("null").RootElement;

    public static async Task<IResult> AcceptAsync(
        IReadOnlyList<SeedRequest> requests, Input from, IDocumentSession session, NpgsqlDataSource db, WorkspaceDirectory directory,
        TimeProvider clock, CancellationToken ct)
    {
        var errors = new List<FieldError>();
        var workspaceId = from.Workspace.Id;
        var definitions = await session.Query<CalculatedAttribute>().Where(c => c.WorkspaceId == workspaceId && c.OwnerAudienceId == null).ToListAsync(ct);
        for (var i = 0; i < requests.Count; i++) errors.AddRange(Check(requests[i], requests.Count > 1 ? $"[{i}]." : "", definitions));
        if (errors.Count > 0) return Results.Problem(ApiProblems.Invalid(errors, "The seeding request is invalid"));

        var schema = session.DocumentStore.Options.DatabaseSchemaName;
        var people = new List<long>();
        for (var i = 0; i < requests.Count; i++)
        {
            if (await FindAsync(requests[i], db, schema, directory, ct) is { } mpid) people.Add(mpid);
            else errors.Add(new FieldError(requests.Count > 1 ? $"[{i}].mpid" : "mpid", "No profile matches this MPID or these identities.", "NOT_FOUND"));
        }
        if (errors.Count > 0) return Results.Problem(ApiProblems.Create(StatusCodes.Status404NotFound, "Profile not found", errors));

        // Seeds are data about the person: an aged-out profile is reactivated by them.
        var profiles = await Privacy.ProfileLifetime.LockAndUnarchiveAsync(session, people, ct);
        var now = clock.GetUtcNow();
        for (var i = 0; i < requests.Count; i++)
        {
            var events = new List<object>();
            foreach (var seed in requests[i].Seeds())
                events.Add(new CalculatedAttributeSeeded(workspaceId, seed.AttributeName!, CalculationTypes.Canonical(seed.CalculationType)!,
                    Seeds.ParseCutoff(seed.CutoffDate)!.Value, seed.Seed!.Value.Clone(), now));
            foreach (var attribute in requests[i].Attributes())
                events.Add(new UserAttributeSet(workspaceId, attribute.AttributeName!, attribute.AttributeValue?.Clone() ?? JsonNull, now, from.Name));
            if (events.Count > 0 && profiles.GetValueOrDefault(people[i]) is { } held) events.InsertRange(0, Reactivation.Events(held, now, from.Name));
            if (events.Count > 0) session.Events.Append(StreamKey.For(people[i]), events.ToArray());
        }
        return Results.Accepted();
    }

    private static IEnumerable<FieldError> Check(SeedRequest request, string at, IReadOnlyList<CalculatedAttribute> definitions)
    {
        if (request.Mpid is null && request.Identities is not { Count: > 0 })
            yield return new FieldError($"{at}mpid", "Send an mpid or identities to find the person.");
        if (request.Mpid is { } m && MpidOf(m) is null) yield return new FieldError($"{at}mpid", "must be a 64-bit integer (number or string).");
        foreach (var key in request.Identities?.Keys.AsEnumerable() ?? [])
            if (IdentityTypes.FromUserIdentityKey(key) is null && IdentityTypes.FromName(key) is null)
                yield return new FieldError($"{at}identities.{key}", "is not a known identity type.");
        var seeds = request.Seeds();
        if (seeds.Count == 0 && request.Attributes().Count == 0)
            yield return new FieldError($"{at}calculated_attributes", "Send at least one seed (or user attribute).");
        for (var i = 0; i < seeds.Count; i++)
        {
            var seed = seeds[i];
            var field = $"{at}calculated_attributes[{i}]";
            var definition = definitions.FirstOrDefault(d => d.Name == seed.AttributeName);
            var type = CalculationTypes.Canonical(seed.CalculationType);
            if (definition is null) { yield return new FieldError($"{field}.attribute_name", $"No calculated attribute named \"{seed.AttributeName}\" in this workspace.", "NOT_FOUND"); continue; }
            var current = definition.ActiveDefinition ?? definition.DraftDefinition;
            if (type != current?.CalculationType) yield return new FieldError($"{field}.calculation_type", $"must be the attribute's calculation type, \"{current?.CalculationType}\".");
            if (Seeds.ParseCutoff(seed.CutoffDate) is not { } cutoff) yield return new FieldError($"{field}.cutoff_date", "is required as yyyy-MM-dd.");
            else if (current?.Seeding?.CutoffDate is not { } defined)
                yield return new FieldError($"{field}.cutoff_date", "The calculated attribute has no seeding cutoff_date; set seeding.cutoff_date in its definition first.");
            else if (DateOnly.FromDateTime(defined.UtcDateTime) != cutoff)
                yield return new FieldError($"{field}.cutoff_date", $"must be the attribute's seeding cutoff date, {defined.UtcDateTime:yyyy-MM-dd}.");
            if (seed.Seed is not { } value) yield return new FieldError($"{field}.seed", "is required.");
            else if (type is not null && Seeds.Problem(type, value) is { } problem) yield return new FieldError($"{field}.seed", problem);
        }
        var attributes = request.Attributes();
        for (var i = 0; i < attributes.Count; i++)
            if (string.IsNullOrWhiteSpace(attributes[i].AttributeName)) yield return new FieldError($"{at}user_attributes[{i}].attribute_name", "is required.");
    }

    private static long? MpidOf(JsonElement mpid) => mpid.ValueKind switch
    {
        JsonValueKind.Number when mpid.TryGetInt64(out var n) => n,
        JsonValueKind.String when long.TryParse(mpid.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var s) => s,
        _ => null,
    };

    /// <summary>The MPID if it exists, else the most recent holder of the highest-priority identity sent.</summary>
    private static async Task<long?> FindAsync(SeedRequest request, NpgsqlDataSource db, string schema, WorkspaceDirectory directory, CancellationToken ct)
    {
        var mpid = request.Mpid is { } m ? MpidOf(m) : null;
        var identities = (request.Identities ?? [])
            .Where(kv => !string.IsNullOrEmpty(kv.Value))
            .Select(kv => (Type: IdentityTypes.FromUserIdentityKey(kv.Key) ?? IdentityTypes.FromName(kv.Key)!, Value: kv.Value!))
            .OrderBy(x => IdentityTypes.PriorityOf(x.Type))
            .ToList();
        var lookup = await IdentityIndexQueries.LookupAsync(db, schema, identities.Select(x => new IdentityKey(x.Type.Name, x.Value)).ToList(),
            mpid is { } known ? [known] : [], directory.Identity, ct);
        if (mpid is { } given) return lookup.KnownMpids.Contains(given) ? given : null;
        foreach (var (type, value) in identities)
            if (lookup.OwnersOf(new IdentityKey(type.Name, value)).OrderByDescending(o => o.LinkedAt).FirstOrDefault() is { Mpid: not 0 } owner)
                return owner.Mpid;
        return null;
    }
}

public static class SeedCalculatedAttributesEndpoint
{
    [WolverinePost("/v2/calculatedattributes", Name = "Seed calculated attributes for one person")]
    [Authorize(AuthenticationSchemes = AuthSchemes.InputBasic)]
    public static Task<IResult> Post(SeedRequest request, ClaimsPrincipal user, WorkspaceDirectory directory, IDocumentSession session,
        NpgsqlDataSource db, TimeProvider clock, CancellationToken ct) =>
        SeedCalculatedAttributes.AcceptAsync([request], user.InputOf(directory), session, db, directory, clock, ct);
}

public static class BulkSeedCalculatedAttributesEndpoint
{
    [WolverinePost("/v2/bulkcalculatedattributes", Name = "Seed calculated attributes for many people (all or nothing)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.InputBasic)]
    public static Task<IResult> Post(List<SeedRequest> requests, ClaimsPrincipal user, WorkspaceDirectory directory, IDocumentSession session,
        NpgsqlDataSource db, TimeProvider clock, CancellationToken ct) =>
        requests.Count is 0 or > SeedCalculatedAttributes.MaxBulk
            ? Task.FromResult(Results.Problem(ApiProblems.Invalid([new FieldError("", $"Send between 1 and {SeedCalculatedAttributes.MaxBulk} seeding requests.")])))
            : SeedCalculatedAttributes.AcceptAsync(requests, user.InputOf(directory), session, db, directory, clock, ct);
}
