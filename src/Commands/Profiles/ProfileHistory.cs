using System.Buffers;
using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Forwarding;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using EventProfiles.Projections.CalculatedAttributes;
using EventProfiles.Projections.Identity;
using Marten;
using Marten.Events.Archiving;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Configuration;
using Npgsql;
using Wolverine.Http;

namespace EventProfiles.Commands.Profiles;

/// <summary>
/// The Profile API's reads of a person's past (issue 21 §2 and §3): the profile <c>as_of</c> an instant, and where
/// attribute values came from. Each reads the person's whole stream (archived events too: an aged-out person's
/// stream is archived) and folds it with the Domain's code (<see cref="ProfileAsOf"/>, <see cref="AttributeHistory"/>,
/// <see cref="CalculatedHistory"/>): one statement, one fold per request, never on the default read. The cost grows with
/// the stream, so a stream longer than <c>EventProfiles:Profiles:HistoryMaxEvents</c> (default 20,000 events) is
/// refused with a 422 rather than read.
/// </summary>
public sealed class ProfileHistoryReader(IDocumentStore store, ProfileReadDatabase database, EnrichmentDefinitionsCache definitions, IConfiguration configuration)
{
    public const string ProvenanceInclude = "provenance";
    public const int DefaultMaxEvents = 20_000;

    public int MaxEvents { get; } = configuration.GetValue("EventProfiles:Profiles:HistoryMaxEvents", DefaultMaxEvents);

    private readonly string _identities = $"{store.Options.DatabaseSchemaName}.{IdentityIndexProjection.TableName}";

    /// <summary>An ISO-8601 instant: a date and time with <c>Z</c> or an offset (a local time would mean a different instant on every server).</summary>
    public static bool TryParseInstant(string text, out DateTimeOffset instant)
    {
        instant = default;
        if (text.Length < 20 || text[10] != 'T' || !(text.EndsWith('Z') || text[^6] is '+' or '-')) return false;
        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out instant)) return false;
        return true;
    }

    /// <summary>The person's events in stream order, or <c>TooLong</c> when there are more than <see cref="MaxEvents"/>.</summary>
    public async Task<(IReadOnlyList<StoredEvent> Events, bool TooLong)> StreamAsync(long mpid, CancellationToken ct)
    {
        await using var session = store.QuerySession();
        var key = StreamKey.For(mpid);
        var events = await session.Events.QueryAllRawEvents()
            .Where(e => e.MaybeArchived() && e.StreamKey == key)
            .OrderBy(e => e.Version).Take(MaxEvents + 1).ToListAsync(ct);
        if (events.Count > MaxEvents) return ([], true);
        return (events.Select(e => new StoredEvent(e.Version, e.Sequence, e.Timestamp, e.Data)).ToList(), false);
    }

    /// <summary>Who holds the identity today (the identity index knows only the present).</summary>
    public async Task<long?> HolderAsync(IdentityKey identity, CancellationToken ct)
    {
        await using var command = database.DataSource.CreateCommand($"select mpid from {_identities} where identity_type = $1 and identity_value = $2 limit 1");
        command.Parameters.Add(new NpgsqlParameter { Value = identity.Type });
        command.Parameters.Add(new NpgsqlParameter { Value = identity.Value });
        return await command.ExecuteScalarAsync(ct) is long mpid ? mpid : null;
    }

    public IResult TooLong(string field) => Results.Problem(ApiProblems.Create(StatusCodes.Status422UnprocessableEntity, "The person's history is too long to read",
        [new FieldError(field, $"this person's stream holds more than {MaxEvents} events, the most a read of the past folds (EventProfiles:Profiles:HistoryMaxEvents).")]));

    /// <summary>
    /// The profile as it stood at <see cref="ProfileQuery.AsOf"/>: identities, attributes, consent, devices, calculated
    /// values and real-time memberships folded from the events stored by then, with erasures and ageing out applied
    /// whatever their date. <paramref name="resolvedBy"/>: the identity a <c>resolve</c> named, which the person must
    /// have held then.
    /// </summary>
    public async Task<IResult> AnswerAsOfAsync(long mpid, ProfileQuery query, IdentityKey? resolvedBy, CancellationToken ct)
    {
        var workspaceId = query.Workspace!.Id;
        var instant = query.AsOf!.Value;
        var (events, tooLong) = await StreamAsync(mpid, ct);
        if (tooLong) return TooLong("as_of");
        var profile = ProfileAsOf.Fold(events, instant);
        if (profile is null)
            return ProfileQuery.NotFound("No profile with this MPID existed at as_of (or it has since been erased).");
        if (!profile.IsKnownIn(workspaceId) || !profile.IsLive)
            return ProfileQuery.NotFound("No profile with this MPID had data in this workspace at as_of (or that data has since been erased or has expired).");
        if (resolvedBy is { } identity && !profile.HasIdentity(identity.Type, identity.Value))
            return ProfileQuery.NotFound("The profile holding this identity today did not hold it at as_of.");

        var computed = query.NeedsComputed ? await ComputedAsOfAsync(events, profile, workspaceId, instant, ct) : null;
        var provenance = query.Provenance ? AttributeHistory.Provenance(events, workspaceId, instant) : null;
        var serializer = store.Options.Serializer();
        using var document = JsonDocument.Parse(serializer.ToJson(profile));
        var body = new ArrayBufferWriter<byte>(2048);
        ProfileAnswer.Write(body, document.RootElement, workspaceId, query.Fields, computed, serializer, provenance);
        return new Utf8JsonResult(body.WrittenMemory);
    }

    /// <summary>
    /// Calculated values and real-time memberships at the instant, from the definitions and audiences active now that
    /// were activated by then, computed by the projection's own Domain code over the events stored by then. Standard
    /// audiences are computed by a job over a date range, not folded per person: they are not shown as of a date.
    /// </summary>
    public async Task<ComputedProfile> ComputedAsOfAsync(IReadOnlyList<StoredEvent> events, Profile profile, int workspaceId, DateTimeOffset instant, CancellationToken ct)
    {
        var snapshot = await definitions.GetAsync(ct);
        var attributes = snapshot.Attributes.Where(c => c.ActivatedOn is { } on && on <= instant).ToList();
        var active = ComputedDefinitions.Active(attributes);
        var person = ProfileAsOf.Calculations(events, profile.Mpid, instant, active);
        var visible = attributes.Where(c => c.OwnerAudienceId is null).ToList();
        var audiences = snapshot.Audiences.Where(a => a.ActivatedOn is { } on && on <= instant)
            .Select(a => ComputedDefinitions.Active(a, active)).OfType<ActiveAudience>().ToList();
        var memberships = new List<AudienceMembershipView>();
        if (audiences.Count > 0)
        {
            person ??= PersonCalculations.For(profile.Mpid);
            person.EvaluateAudiences(audiences, p => PersonFactsFor.Person(profile, p, [], visible, instant), instant);
            memberships.AddRange(snapshot.Audiences.Where(a => a.Activation is { } activation && person.IsMemberOf(a.Id, activation))
                .OrderBy(a => a.Id).Select(a => new AudienceMembershipView(a.Id, a.Name)));
        }
        var values = VisibleCalculatedValues.Combine(visible.Where(c => c.WorkspaceId == workspaceId), person, [], instant);
        return new ComputedProfile(values, memberships);
    }

    /// <summary>The present profile (already read) with where each attribute's value came from: one more statement, only when asked.</summary>
    public async Task<IResult> AnswerWithProvenanceAsync(ProfileRead read, ProfileQuery query, CancellationToken ct)
    {
        if (read.Profile?.RootElement is not { } profile || !profile.TryGetProperty(nameof(Profile.Mpid), out var mpid))
            return ProfileQuery.Answer(read, query, store.Options.Serializer());
        var (events, tooLong) = await StreamAsync(mpid.GetInt64(), ct);
        if (tooLong)
        {
            read.Dispose();
            return TooLong("include");
        }
        return ProfileQuery.Answer(read, query, store.Options.Serializer(), AttributeHistory.Provenance(events, query.Workspace!.Id));
    }
}

/// <summary>
/// <c>GET /userprofile/v1/{orgId}/{accountId}/{workspaceId}/{mpid}/attributes/{name}/history?limit=&amp;after=</c>
/// (issue 21 §3, an extension): every value the attribute had for the person in the workspace, when, from which input
/// and batch; for a calculated attribute of that name, its definition and, per value, the events' time range that
/// produced it. Paged by stream version (<c>after</c> = the previous page's <c>next_cursor</c>).
/// </summary>
public static class AttributeHistoryEndpoint
{
    public const int DefaultLimit = 100, MaxLimit = 1_000;

    public static ProfileQuery Load(int orgId, int accountId, int workspaceId, ClaimsPrincipal user, WorkspaceDirectory directory) =>
        ProfileQuery.From(orgId, accountId, workspaceId, ProfileDocument.UserAttributes, user, directory);

    public static ProblemDetails Validate(ProfileQuery query) => query.Problem ?? WolverineContinue.NoProblems;

    [WolverineGet("/userprofile/v1/{orgId:int}/{accountId:int}/{workspaceId:int}/{mpid:long}/attributes/{name}/history", Name = "An attribute's history")]
    [Authorize(AuthenticationSchemes = AuthSchemes.ProfileApiBearer, Policy = ApiScopes.ProfilesRead)]
    public static Task<IResult> Get(long mpid, string name, [FromQuery] string? limit, [FromQuery] string? after, ProfileQuery query,
        ProfileHistoryReader history, EnrichmentDefinitionsCache definitions, CancellationToken ct) =>
        AnswerAsync(mpid, query.Workspace!.Id, name, limit, after, history, definitions, ct);

    /// <summary>The history as the Profile API and the User Activity View (its own authorisation) both answer it.</summary>
    public static async Task<IResult> AnswerAsync(long mpid, int workspaceId, string name, string? limit, string? after,
        ProfileHistoryReader history, EnrichmentDefinitionsCache definitions, CancellationToken ct)
    {
        var errors = new List<FieldError>();
        if (limit is not null && !(int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out var l) && l is >= 1 and <= MaxLimit))
            errors.Add(new FieldError("limit", $"must be a whole number from 1 to {MaxLimit}."));
        if (after is not null && !long.TryParse(after, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            errors.Add(new FieldError("after", "must be the next_cursor of the previous page."));
        if (errors.Count > 0) return Results.Problem(ApiProblems.Invalid(errors));

        var (events, tooLong) = await history.StreamAsync(mpid, ct);
        if (tooLong) return history.TooLong("mpid");
        // Shown only while the profile is: known in the workspace and live (an aged-out person's data has expired).
        var now = ProfileAsOf.Fold(events, DateTimeOffset.MaxValue);
        if (now is null || !now.IsKnownIn(workspaceId) || !now.IsLive)
            return ProfileQuery.NotFound("No profile with this MPID has data in this workspace (or it is no longer live).");
        // What came before the last ageing out expired with it: the history starts at the return.
        // The visible events first (moves are computed over the whole stream), then the cut at the return.
        var lastAgedOut = events.LastOrDefault(e => e.Data is ProfileAgedOut)?.Version ?? 0;
        var live = ProfileAsOf.Past(events).Where(e => e.Version > lastAgedOut).ToList();

        var pageSize = limit is null ? DefaultLimit : int.Parse(limit, CultureInfo.InvariantCulture);
        var from = after is null ? 0 : long.Parse(after, CultureInfo.InvariantCulture);
        var snapshot = await definitions.GetAsync(ct);
        var calculated = snapshot.Attributes.FirstOrDefault(c => c.WorkspaceId == workspaceId && c.OwnerAudienceId is null && c.Name == name)?.Computed() is { } d
            ? (Attribute: snapshot.Attributes.First(c => c.Id == d.Id), Definition: d) : default;

        var entries = new List<(long Version, JsonObject Entry)>();
        foreach (var change in AttributeHistory.Of(live, workspaceId, name))
            entries.Add((change.Version, new JsonObject
            {
                ["source"] = "user_attribute",
                ["value"] = change.Removed ? null : change.Value is { } v ? JsonNode.Parse(v.GetRawText()) : null,
                ["removed"] = change.Removed,
                ["applied"] = change.Applied,
                ["input"] = change.Input,
                ["batch_id"] = change.BatchId?.ToString(),
                ["effective_timestamp_ms"] = change.EffectiveAt.ToUnixTimeMilliseconds(),
                ["stored_timestamp_ms"] = change.StoredAt.ToUnixTimeMilliseconds(),
                ["version"] = change.Version,
            }));
        if (calculated.Definition is { } definition)
            foreach (var change in CalculatedHistory.Of(live, mpid, definition))
                entries.Add((change.Version, new JsonObject
                {
                    ["source"] = "calculated_attribute",
                    ["value"] = change.Value is null ? null : change.Value.List is { } list ? new JsonArray(list.Select(x => (JsonNode?)x).ToArray()) : (JsonNode?)change.Value.Text,
                    ["seeded"] = change.Seeded,
                    ["input"] = change.Input,
                    ["batch_id"] = change.BatchId?.ToString(),
                    ["events_from_timestamp_ms"] = change.EventsFrom?.ToUnixTimeMilliseconds(),
                    ["events_to_timestamp_ms"] = change.EventsTo?.ToUnixTimeMilliseconds(),
                    ["stored_timestamp_ms"] = change.At.ToUnixTimeMilliseconds(),
                    ["version"] = change.Version,
                }));
        if (entries.Count == 0 && calculated.Definition is null)
            return Results.Problem(ApiProblems.Create(StatusCodes.Status404NotFound, "Attribute not found",
                [new FieldError("name", $"The person has no attribute \"{name}\" in this workspace, and no calculated attribute has that name.", "NOT_FOUND")]));

        // One event gives at most one entry (an attribute event, or an event a calculated value counts), so the stream
        // version is a cursor that never splits nor repeats an entry.
        var ordered = entries.Where(e => e.Version > from).OrderBy(e => e.Version).ToList();
        var page = ordered.Take(pageSize).ToList();
        var answer = new JsonObject
        {
            ["mpid"] = mpid,
            ["attribute"] = name,
            ["calculated_attribute"] = calculated.Attribute is { } attribute ? new JsonObject
            {
                ["id"] = attribute.Id,
                ["name"] = attribute.Name,
                ["calculation_type"] = calculated.Definition!.CalculationType,
                ["activation"] = calculated.Definition.Activation.ToString(),
                ["activated_timestamp_ms"] = attribute.ActivatedOn?.ToUnixTimeMilliseconds(),
                ["definition"] = JsonSerializer.SerializeToNode(calculated.Definition.Definition),
            } : null,
            ["history"] = new JsonArray(page.Select(e => (JsonNode?)e.Entry).ToArray()),
            ["next_cursor"] = ordered.Count > page.Count ? page[^1].Version.ToString(CultureInfo.InvariantCulture) : null,
        };
        return Results.Json(answer);
    }
}
