using System.Globalization;
using System.Security.Claims;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Forwarding;
using EventProfiles.Projections.Privacy;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.Forwarding;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using EventProfiles.Projections.CalculatedAttributes;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine;
using Wolverine.Http;

namespace EventProfiles.Commands.Audiences;

/// <summary>
/// Membership changes from the projection: each is recorded (who, audience, add/remove, when, why), the audience's
/// member list is updated, and every output the audience is connected to gets the §B8 message for it, through the
/// same durable delivery as event batches (retries, dead letters, pause). Wolverine hands the projection's messages
/// over in batches (<c>BatchMessagesOf</c> in Program.cs; each message stays its own durable envelope until handled,
/// so an erasure still finds it): a batch is one transaction, and its deliveries wait as rows of
/// <see cref="ForwardingStorage.DeliveriesTable"/> under one <see cref="DeliverBatches"/> envelope per output, in the order
/// the changes were found, as ingestion's deliveries do.
/// </summary>
public static class AudienceMembershipsChangedHandler
{
    public static Task<OutgoingMessages> Handle(AudienceMembershipsChanged[] batch, IDocumentSession session, WorkspaceDirectory directory, CancellationToken ct) =>
        RecordAsync(batch.SelectMany(b => b.Changes).ToList(), session, directory, loaded: null, ct);

    /// <summary>
    /// Records these changes in the session (the change records, the member list, the outputs' deliveries) and returns
    /// the delivery messages to send with it. Also called directly by an activation's evaluation of everyone, in its own
    /// transaction: its initial members need no message of their own.
    /// </summary>
    /// <param name="loaded">Profiles the caller has loaded already (the people's identities go into the outputs' messages).</param>
    public static async Task<OutgoingMessages> RecordAsync(IReadOnlyList<MembershipChange> changes, IDocumentSession session, WorkspaceDirectory directory,
        IReadOnlyDictionary<long, Profile>? loaded, CancellationToken ct)
    {
        var messages = new OutgoingMessages();
        if (changes.Count == 0) return messages;
        var audienceIds = changes.Select(c => c.AudienceId).Distinct().ToArray();
        var audiences = (await session.LoadManyAsync<Audience>(ct, audienceIds)).ToDictionary(a => a.Id);
        var connections = (await session.Query<AudienceConnection>().Where(c => audienceIds.Contains(c.AudienceId)).ToListAsync(ct)).ToLookup(c => c.AudienceId);
        // Only a connected audience's changes are sent anywhere.
        var unloaded = changes.Where(c => connections[c.AudienceId].Any() && loaded?.ContainsKey(c.Mpid) != true).Select(c => StreamKey.For(c.Mpid)).Distinct().ToArray();
        var read = unloaded.Length == 0 ? new Dictionary<long, Profile>() : (await session.LoadManyAsync<Profile>(ct, unloaded)).ToDictionary(p => p.Mpid);
        Profile? ProfileOf(long mpid) => loaded?.GetValueOrDefault(mpid) ?? read.GetValueOrDefault(mpid);
        // Members of an earlier definition: an addition under the new one keeps them (no message, the same "since").
        var added = changes.Where(c => c.Added).Select(c => AudienceMember.IdFor(c.AudienceId, c.Mpid)).Distinct().ToArray();
        var members = added.Length == 0 ? new Dictionary<string, AudienceMember>() : (await session.LoadManyAsync<AudienceMember>(ct, added)).ToDictionary(m => m.Id);
        var groups = new Dictionary<string, Guid>();
        var rows = new List<(Guid GroupId, int Position, DeliverBatch Delivery, int WorkspaceId)>();
        foreach (var change in changes)
        {
            // A change of an earlier activation (the audience was edited or deactivated since) is void.
            if (!audiences.TryGetValue(change.AudienceId, out var audience) || audience.Activation != change.Activation || audience.Status != AudienceStatus.Active) continue;
            var memberId = AudienceMember.IdFor(change.AudienceId, change.Mpid);
            if (change.Added && members.TryGetValue(memberId, out var kept) && kept.Activation != change.Activation)
            {
                // Still a member after the audience was edited: nothing changed for them or for the outputs.
                kept.Activation = change.Activation;
                session.Store(kept);
                continue;
            }
            var id = Guid.CreateVersion7();
            session.Store(new MembershipChangeRecord { Id = id, AudienceId = change.AudienceId, Mpid = change.Mpid, Added = change.Added, At = change.At, Reason = change.Reason });
            if (change.Added)
            {
                var member = new AudienceMember { Id = memberId, AudienceId = change.AudienceId, Mpid = change.Mpid, Since = change.At, Activation = change.Activation };
                members[memberId] = member;
                session.Store(member);
            }
            else
            {
                members.Remove(memberId);
                session.Delete<AudienceMember>(memberId);
            }
            if (!connections[change.AudienceId].Any()) continue;
            var accountId = directory.WorkspaceById(audience.WorkspaceIds[0])?.AccountId ?? 0;
            var payload = Message(id, change, audience, accountId, ProfileOf(change.Mpid)).ToJsonString();
            foreach (var connection in connections[change.AudienceId])
            {
                var delivery = new DeliverBatch(connection.OutputId, connection.Id, id, id, change.Mpid, $"audience:{audience.Id}", "production", payload);
                if (audience.WorkspaceIds.Count == 1)
                {
                    // A row holds one workspace, what an erasure in that workspace deletes it by.
                    if (!groups.TryGetValue(delivery.OutputId, out var groupId)) groups[delivery.OutputId] = groupId = Guid.CreateVersion7();
                    rows.Add((groupId, rows.Count, delivery, audience.WorkspaceIds[0]));
                    continue;
                }
                // An audience over several workspaces: queued alone, recorded under each of them.
                messages.Add(delivery);
                session.RecordWork(audience.WorkspaceIds.Select(w => new PersonWorkRecord.Row(delivery.WorkId, change.Mpid, w)));
            }
        }
        session.QueueDeliveries(rows);
        foreach (var (outputId, groupId) in groups) messages.Add(new DeliverBatches(groupId, outputId));
        return messages;
    }

    /// <summary>The partner message of §B8 for one person and one audience: their identities and the action.</summary>
    public static JsonObject Message(Guid id, MembershipChange change, Audience audience, int accountId, Profile? profile)
    {
        var identities = profile?.Identities ?? [];
        JsonArray List(bool devices) => new(identities
            .Where(i => IdentityTypes.FromName(i.Type) is { } t && t.IsDeviceIdentity == devices)
            .Select(i => (JsonNode?)new JsonObject
            {
                ["type"] = devices ? IdentityTypes.FromName(i.Type)!.ProfileApiName : i.Type, ["encoding"] = "raw", ["value"] = i.Value,
            }).ToArray());
        return new JsonObject
        {
            ["type"] = "audience_membership_change_request",
            ["id"] = id.ToString(),
            ["timestamp_ms"] = change.At.ToUnixTimeMilliseconds(),
            ["account"] = new JsonObject { ["account_id"] = accountId, ["account_settings"] = new JsonObject() },
            ["user_profiles"] = new JsonArray(new JsonObject
            {
                ["mpid"] = change.Mpid.ToString(CultureInfo.InvariantCulture),
                ["user_identities"] = List(devices: false),
                ["device_identities"] = List(devices: true),
                ["audiences"] = new JsonArray(new JsonObject
                {
                    ["audience_id"] = audience.Id,
                    ["audience_name"] = audience.ExternalName,
                    ["audience_subscription_settings"] = new JsonObject(),
                    ["action"] = change.Added ? "add" : "delete",
                }),
            }),
        };
    }
}

public sealed record AudienceConnectionBody(
    [property: JsonPropertyName("audience_id")] int? AudienceId,
    [property: JsonPropertyName("output_id")] string? OutputId);

/// <summary>Admin API: connect an audience to an output (<c>/api/admin/audience-connections</c>).</summary>
public static class CreateAudienceConnectionEndpoint
{
    [WolverinePost("/api/admin/audience-connections", Name = "Connect an audience to an output")]
    [Authorize(AuthenticationSchemes = AuthSchemes.Admin)]
    public static async Task<IResult> Post(AudienceConnectionBody body, IDocumentSession session, ClaimsPrincipal user, CancellationToken ct)
    {
        var errors = new List<FieldError>();
        var access = AdminAccess.Of(user);
        // Another workspace's audience or output is answered as one that does not exist.
        var audience = body.AudienceId is { } audienceId ? await session.LoadAsync<Audience>(audienceId, ct) : null;
        if (audience is null || !access.SeesAllOf(audience.WorkspaceIds)) errors.Add(new FieldError("audience_id", "must name an existing audience."));
        var output = body.OutputId is { } outputId ? await OutputViews.LoadVisibleAsync(session, outputId, user, ct) : null;
        if (output is null) errors.Add(new FieldError("output_id", "must name an existing output."));
        // An output of a workspace receives that workspace's data only.
        else if (audience is not null && output.WorkspaceId is { } ws && audience.WorkspaceIds.Any(w => w != ws))
            errors.Add(new FieldError("output_id", $"output {output.Id} belongs to workspace {ws}; it takes audiences of that workspace only."));
        if (errors.Count > 0) return Results.Problem(ApiProblems.Invalid(errors));
        var connection = new AudienceConnection { Id = Guid.NewGuid().ToString("N"), AudienceId = body.AudienceId!.Value, OutputId = body.OutputId! };
        session.Store(connection);
        await session.SaveChangesAsync(ct);
        return Results.Created($"/api/admin/audience-connections/{connection.Id}", new { id = connection.Id, audience_id = connection.AudienceId, output_id = connection.OutputId });
    }
}

public static class ListAudienceConnectionsEndpoint
{
    [WolverineGet("/api/admin/audience-connections", Name = "List audience connections")]
    [Authorize(AuthenticationSchemes = AuthSchemes.Admin)]
    public static async Task<IResult> Get(IQuerySession session, ClaimsPrincipal user, CancellationToken ct)
    {
        var visible = new List<AudienceConnection>();
        foreach (var connection in await session.Query<AudienceConnection>().ToListAsync(ct))
            if (await AudienceConnectionAccess.IsVisibleAsync(connection, session, user, ct)) visible.Add(connection);
        return Results.Ok(visible.Select(c => new { id = c.Id, audience_id = c.AudienceId, output_id = c.OutputId }));
    }
}

public static class DeleteAudienceConnectionEndpoint
{
    [WolverineDelete("/api/admin/audience-connections/{id}", Name = "Delete an audience connection")]
    [Authorize(AuthenticationSchemes = AuthSchemes.Admin)]
    public static async Task<IResult> Delete(string id, IDocumentSession session, ClaimsPrincipal user, CancellationToken ct)
    {
        if (await session.LoadAsync<AudienceConnection>(id, ct) is not { } connection || !await AudienceConnectionAccess.IsVisibleAsync(connection, session, user, ct))
            return Results.NotFound();
        session.Delete<AudienceConnection>(id);
        await session.SaveChangesAsync(ct);
        return Results.NoContent();
    }
}

/// <summary>An audience connection is an admin user's when its audience's workspaces and its output are all theirs.</summary>
public static class AudienceConnectionAccess
{
    public static async Task<bool> IsVisibleAsync(AudienceConnection connection, IQuerySession session, ClaimsPrincipal user, CancellationToken ct)
    {
        var access = AdminAccess.Of(user);
        if (access.SeesAll) return true;
        return await session.LoadAsync<Audience>(connection.AudienceId, ct) is { } audience && access.SeesAllOf(audience.WorkspaceIds)
            && await OutputViews.LoadVisibleAsync(session, connection.OutputId, user, ct) is not null;
    }
}
