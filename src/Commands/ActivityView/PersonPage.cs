using System.Security.Claims;
using System.Text.Json;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.CalculatedAttributes;
using EventProfiles.Commands.Profiles;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Consent;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Privacy;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Wolverine.Http;

namespace EventProfiles.Commands.ActivityView;

/// <summary>Everything the profile page shows about one person, limited to the workspaces the user sees.</summary>
public sealed record PersonView(
    string Mpid, string Status, DateTimeOffset CreatedAt, DateTimeOffset? FirstSeen, DateTimeOffset? LastSeen, DateTimeOffset LastStoredAt,
    bool OptedOut, bool? LimitAdTracking, RetentionView Retention, IReadOnlyList<IdentityView> Identities, IReadOnlyList<AliasView> Aliases,
    IReadOnlyList<WorkspaceView> Workspaces, IReadOnlyList<AudienceView> Audiences)
{
    /// <summary>Splits and merges the person took part in (issue 21 §1), oldest first.</summary>
    public IReadOnlyList<MoveView> Moves { get; init; } = [];
}

/// <summary>A split, merge or undone split: with whom, whether this person gave or received, what moved, who and why.</summary>
public sealed record MoveView(string Kind, string Id, string OtherMpid, bool Gave, IReadOnlyList<string> Identities, int EventsMoved, string? UndoesSplit,
    string Reason, string By, DateTimeOffset At);

/// <summary>
/// Where the person stands against the org's data clocks: live until <c>LiveUntil</c> without new data, then aged out
/// (kept, not served) until data retention removes the events.
/// </summary>
public sealed record RetentionView(string Status, int DataRetentionDays, int ProfileLifetimeDays, bool LifetimeProfiles, DateTimeOffset? LiveUntil, DateTimeOffset? AgedOutAt);

/// <summary>An identity with when and how it was linked: the workspace and input that sent it.</summary>
public sealed record IdentityView(string Type, string Kind, string Value, DateTimeOffset LinkedAt, WorkspaceRef Workspace, string Input);

public sealed record AliasView(string SourceMpid, string DestinationMpid, DateTimeOffset WindowStart, DateTimeOffset WindowEnd, int EventsCopied, DateTimeOffset At);

public sealed record WorkspaceView(
    int Id, string Name, DateTimeOffset? FirstSeen, DateTimeOffset? LastSeen, IReadOnlyList<string> Inputs, IReadOnlyList<AttributeView> UserAttributes,
    IReadOnlyList<CalculatedAttributeView> CalculatedAttributes, ConsentView Consent, IReadOnlyList<DeviceView> Devices, InstallAttribution? Attribution);

public sealed record AttributeView(string Name, JsonElement? Value, DateTimeOffset UpdatedAt);

/// <summary>A calculated attribute of the workspace: its status (draft, calculating, ready, inactive) and the person's value when computed.</summary>
public sealed record CalculatedAttributeView(int Id, string Name, string Status, CalculatedValue? Value);

public sealed record ConsentView(IReadOnlyList<ConsentPurposeView> Gdpr, ConsentRecord? Ccpa);

public sealed record ConsentPurposeView(string Purpose, bool Consented, DateTimeOffset At, string? Document, string? Location, string? HardwareId);

public sealed record DeviceView(
    string Key, string? Platform, DateTimeOffset FirstSeen, DateTimeOffset LastSeen, IReadOnlyDictionary<string, string> Identities,
    string? DeviceApplicationStamp, string? AttAuthorizationStatus, JsonElement? DeviceInfo);

public sealed record AudienceView(int Id, string Name, string Kind, IReadOnlyList<WorkspaceRef> Workspaces);

/// <summary><c>GET /ui/api/people/{mpid}</c>: the profile page (forwarding.md §7).</summary>
public static class PersonPageEndpoint
{
    [WolverineGet("/ui/api/people/{mpid}", Name = "Web UI: a person's profile")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static async Task<IResult> Get(string mpid, [FromQuery(Name = "as_of")] string? asOf, ClaimsPrincipal user, WorkspaceDirectory directory, LaggingReads reads,
        ProfileHistoryReader history, TimeProvider clock, CancellationToken ct)
    {
        await using var session = await reads.QuerySessionAsync(ct); // may lag: a standby when there is one
        var db = reads.DataSource;
        var access = ActivityViewAccess.For(user, directory);
        if (await VisiblePersonAsync(mpid, access, session, ct) is not { } profile)
            return ActivityViewJson.NotFound("mpid", $"No person {mpid} has data in the workspaces you may see.");
        var now = clock.GetUtcNow();
        // As of a date (issue 21 §2): the person folded to that instant by the Profile API's code (erasure and expiry reach back).
        IReadOnlyList<StoredEvent>? past = null;
        if (asOf is not null)
        {
            if (!ProfileHistoryReader.TryParseInstant(asOf, out var instant) || instant > now)
                return ActivityViewJson.Invalid("as_of", "must be an ISO-8601 instant with a time zone, not in the future.");
            var (events, tooLong) = await history.StreamAsync(profile.Mpid, ct);
            if (tooLong) return history.TooLong("as_of");
            if (ProfileAsOf.Fold(events, instant) is not { } then || !access.Sees(then))
                return ActivityViewJson.NotFound("as_of", $"Person {mpid} had no data in the workspaces you may see at that time (or it has since been erased).");
            (profile, past, now) = (then, events, instant);
        }
        var retention = await session.LoadAsync<RetentionSettings>(RetentionSettings.DocumentId, ct) ?? new RetentionSettings();
        var visible = profile.Workspaces.Where(w => access.Sees(w.Key)).ToList();
        var inputs = await InputsAsync(session.DocumentStore, db, session.DocumentStore.Options.DatabaseSchemaName, profile.Mpid, access, ct);

        var workspaces = new List<WorkspaceView>();
        var memberships = new HashSet<int>();
        foreach (var (workspaceId, data) in visible)
        {
            var computed = past is null
                ? await ComputedProfileQuery.ForPersonAsync(session, profile.Mpid, workspaceId, now, ct)
                : await history.ComputedAsOfAsync(past, profile, workspaceId, now, ct);
            memberships.UnionWith(computed.Audiences.Select(a => a.AudienceId));
            workspaces.Add(new WorkspaceView(workspaceId, access.NameOf(workspaceId), data.FirstSeenAt, data.LastSeenAt, inputs[workspaceId].ToList(),
                data.Attributes.Where(a => !a.Value.Removed).Select(a => new AttributeView(a.Key, a.Value.Value, a.Value.UpdatedAt)).ToList(),
                await CalculatedAttributesAsync(session, workspaceId, computed, ct),
                new ConsentView(data.Gdpr.Select(g => new ConsentPurposeView(g.Key, g.Value.Consented, g.Value.At, g.Value.Document, g.Value.Location, g.Value.HardwareId)).ToList(), data.Ccpa),
                data.Devices.Values.OrderByDescending(d => d.LastSeenAt).Select(d => new DeviceView(d.Key, d.Platform, d.FirstSeenAt, d.LastSeenAt, d.Identities,
                    d.DeviceApplicationStamp, d.AttAuthorizationStatus, d.DeviceInfo)).ToList(),
                data.InstallAttribution));
        }

        var audiences = memberships.Count == 0 ? [] : (await session.LoadManyAsync<Audience>(ct, memberships.ToArray()))
            .Where(a => a.WorkspaceIds.Any(access.Sees))
            .OrderBy(a => a.Name, StringComparer.OrdinalIgnoreCase)
            .Select(a => new AudienceView(a.Id, a.Name, a.Kind, a.WorkspaceIds.Where(access.Sees).Select(w => new WorkspaceRef(w, access.NameOf(w))).ToList()))
            .ToList();

        return ActivityViewJson.Ok(new PersonView(
            StreamKey.For(profile.Mpid), PersonStatuses.Of(profile), profile.CreatedAt,
            visible.Select(w => w.Value.FirstSeenAt).Min(), visible.Select(w => w.Value.LastSeenAt).Max(), profile.LastStoredAt,
            profile.IsOptedOut, profile.LimitAdTracking,
            new RetentionView(PersonStatuses.Of(profile), retention.DataRetentionDays, retention.ProfileLifetimeDays, retention.LifetimeProfiles,
                profile.IsLive ? profile.LifetimeFrom.AddDays(retention.ProfileLifetimeDays) : null, profile.AgedOutAt),
            profile.Identities.Where(i => access.Sees(i.WorkspaceId))
                .OrderBy(i => IdentityTypes.FromName(i.Type)?.IsDeviceIdentity == true).ThenBy(i => i.Type, StringComparer.Ordinal)
                .Select(i => new IdentityView(i.Type, IdentityTypes.FromName(i.Type)?.IsDeviceIdentity == true ? "device" : "user", i.Value, i.AddedAt,
                    new WorkspaceRef(i.WorkspaceId, access.NameOf(i.WorkspaceId)), i.Input)).ToList(),
            profile.Aliases.Select(a => new AliasView(StreamKey.For(a.SourceMpid), StreamKey.For(a.DestinationMpid), a.WindowStart, a.WindowEnd, a.EventsCopied, a.At)).ToList(),
            workspaces, audiences)
        {
            Moves = profile.Moves.Select(m => new MoveView(m.Kind, m.Id, StreamKey.For(m.OtherMpid), m.Gave, m.Identities.Select(i => i.ToString()).ToList(),
                m.EventsMoved, m.UndoesSplit, m.Reason, m.By, m.At)).ToList(),
        });
    }

    /// <summary>The person, if they exist and have data in a workspace the user sees; otherwise nothing (a 404 either way, so nothing leaks).</summary>
    public static async Task<Profile?> VisiblePersonAsync(string mpid, ActivityViewAccess access, IQuerySession session, CancellationToken ct)
    {
        if (!StreamKey.TryParse(mpid, out var id)) return null;
        var profile = await session.LoadAsync<Profile>(StreamKey.For(id), ct);
        return profile is not null && access.Sees(profile) ? profile : null;
    }

    /// <summary>The inputs each workspace received the person's batches from (mParticle's "workspace usage").</summary>
    private static async Task<ILookup<int, string>> InputsAsync(IDocumentStore store, NpgsqlDataSource db, string schema, long mpid, ActivityViewAccess access, CancellationToken ct)
    {
        var key = StreamKey.For(mpid);
        // Batches a split or merge moved away count for the person who received them (issue 21).
        var hidden = (await Streams.VisibleEvents.HiddenAsync(store, db, [key], ct)).Of(key);
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(PersonTimelineEndpoints.InputsCommand(schema, key, access.Ids, hidden));
        var rows = new List<(int Workspace, string Input)>();
        await using var reader = await batch.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) rows.Add((reader.GetInt32(0), reader.GetString(1)));
        return rows.ToLookup(r => r.Workspace, r => r.Input);
    }

    private static async Task<IReadOnlyList<CalculatedAttributeView>> CalculatedAttributesAsync(IQuerySession session, int workspaceId, ComputedProfile computed, CancellationToken ct)
    {
        // Audiences' hidden event counters are not attributes anyone defined: not shown.
        var definitions = await session.Query<CalculatedAttribute>().Where(c => c.WorkspaceId == workspaceId && c.OwnerAudienceId == null).ToListAsync(ct);
        if (definitions.Count == 0) return [];
        var progress = (await session.LoadManyAsync<Initialisation>(ct, definitions.Select(d => d.Id).ToArray())).ToDictionary(i => i.Id);
        return definitions.OrderBy(d => d.Name, StringComparer.OrdinalIgnoreCase)
            .Select(d => new CalculatedAttributeView(d.Id, d.Name, CalculatedAttributeResource.StatusOf(d, progress.GetValueOrDefault(d.Id)),
                d.IsComputed ? computed.CalculatedAttributes.GetValueOrDefault(d.Name) : null))
            .ToList();
    }
}
