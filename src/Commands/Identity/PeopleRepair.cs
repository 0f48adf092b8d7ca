using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.CalculatedAttributes;
using EventProfiles.Commands.Forwarding;
using EventProfiles.Commands.Ingestion;
using EventProfiles.Commands.Operability;
using EventProfiles.Commands.Security;
using EventProfiles.Commands.Streams;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Forwarding;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using EventProfiles.Projections.Identity;
using FluentValidation;
using JasperFx.Events;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Wolverine.Http;
using Wolverine.Marten;
using Wolverine.Runtime;

namespace EventProfiles.Commands.Identity;

/// <summary>An identity in an admin request: type by its Events API name (<c>email</c>, <c>customer_id</c>, <c>ios_idfv</c>, …).</summary>
public sealed record IdentityBody(
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("value")] string? Value);

/// <summary><c>POST /api/admin/people/{mpid}/split</c>: the identities (and inputs) that belong to someone else, and why.</summary>
public sealed record SplitPerson(
    [property: JsonPropertyName("identities")] List<IdentityBody?>? Identities,
    [property: JsonPropertyName("inputs")] List<string?>? Inputs,
    [property: JsonPropertyName("reason")] string? Reason)
{
    public sealed class Validator : AbstractValidator<SplitPerson>
    {
        public Validator()
        {
            RuleFor(s => s).Must(s => (s.Identities?.Count ?? 0) + (s.Inputs?.Count ?? 0) > 0)
                .WithMessage("name at least one identity (or input) that belongs to someone else.").OverridePropertyName("identities");
            RuleForEach(s => s.Identities).Custom((identity, context) =>
            {
                var at = $"identities[{context.PropertyPath.Split('[', ']')[^2]}]";
                // Failures named exactly (the element's own path), not prefixed by the collection rule.
                if (identity?.Type is not { Length: > 0 } type || IdentityTypes.FromName(type) is null)
                    context.AddFailure(new FluentValidation.Results.ValidationFailure($"{at}.type",
                        "must be an identity type by its Events API name (customer_id, email, ios_idfv, …)."));
                if (identity?.Value is not { Length: > 0 }) context.AddFailure(new FluentValidation.Results.ValidationFailure($"{at}.value", "is required."));
            });
            RuleForEach(s => s.Inputs).NotEmpty().WithMessage("must name an input.").OverridePropertyName("inputs");
            RuleFor(s => s.Reason).NotEmpty().WithMessage("is required: the history shows why.").MaximumLength(1000).OverridePropertyName("reason");
        }
    }
}

/// <summary><c>POST /api/admin/people/merge</c>: two people an operator knows are one.</summary>
public sealed record MergePeople(
    [property: JsonPropertyName("source")] long? Source,
    [property: JsonPropertyName("destination")] long? Destination,
    [property: JsonPropertyName("reason")] string? Reason)
{
    public sealed class Validator : AbstractValidator<MergePeople>
    {
        public Validator()
        {
            RuleFor(m => m.Source).NotNull().WithMessage("is required.").NotEqual(0L).WithMessage("is required.").OverridePropertyName("source");
            RuleFor(m => m.Destination).NotNull().WithMessage("is required.").NotEqual(0L).WithMessage("is required.").OverridePropertyName("destination");
            RuleFor(m => m.Destination).NotEqual(m => m.Source).WithMessage("must differ from the source.").When(m => m.Source is not null).OverridePropertyName("destination");
            RuleFor(m => m.Reason).NotEmpty().WithMessage("is required: the history shows why.").MaximumLength(1000).OverridePropertyName("reason");
        }
    }
}

/// <summary><c>POST /api/admin/people/{mpid}/splits/{splitId}/undo</c>: the split was a mistake.</summary>
public sealed record UndoSplit([property: JsonPropertyName("reason")] string? Reason)
{
    public sealed class Validator : AbstractValidator<UndoSplit>
    {
        public Validator() =>
            RuleFor(u => u.Reason).NotEmpty().WithMessage("is required: the history shows why.").MaximumLength(1000).OverridePropertyName("reason");
    }
}

public static class SplitPersonEndpoint
{
    private static readonly SplitPerson.Validator Shape = new();

    public static ProblemDetails Validate(SplitPerson body) => PeopleRepair.Check(Shape.Validate(body));

    [WolverinePost("/api/admin/people/{mpid:long}/split", Name = "Split a person (unmerge)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)] // the profile page's split form uses the session
    public static Task<IResult> Post(long mpid, SplitPerson body, PeopleRepair repair, ClaimsPrincipal user, CancellationToken ct) =>
        repair.SplitAsync(mpid, body, AdminAccess.Of(user), ct);
}

public static class MergePeopleEndpoint
{
    private static readonly MergePeople.Validator Shape = new();

    public static ProblemDetails Validate(MergePeople body) => PeopleRepair.Check(Shape.Validate(body));

    [WolverinePost("/api/admin/people/merge", Name = "Merge two people")]
    [Authorize(AuthenticationSchemes = AuthSchemes.Admin)]
    public static Task<IResult> Post(MergePeople body, PeopleRepair repair, ClaimsPrincipal user, CancellationToken ct) =>
        repair.MergeAsync(body.Source!.Value, body.Destination!.Value, null, body.Reason!, AdminAccess.Of(user), ct);
}

public static class UndoSplitEndpoint
{
    private static readonly UndoSplit.Validator Shape = new();

    public static ProblemDetails Validate(UndoSplit body) => PeopleRepair.Check(Shape.Validate(body));

    [WolverinePost("/api/admin/people/{mpid:long}/splits/{splitId}/undo", Name = "Undo a split")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)] // the profile page's undo button uses the session
    public static Task<IResult> Post(long mpid, string splitId, UndoSplit body, PeopleRepair repair, ClaimsPrincipal user, CancellationToken ct) =>
        repair.UndoAsync(mpid, splitId, body.Reason!, AdminAccess.Of(user), ct);
}

/// <summary>
/// Splits, merges and undoing a split (issue 21 §1): one transaction under both people's stream locks (taken as every
/// writer takes them) reads both streams, lets the pure <see cref="PersonMoves"/> choose what moves and decide it
/// again on the receiving person with the ingestion decision, appends the copies (with their original stored times)
/// and the move on both streams, and replaces both people's profile documents, identity-index rows, synchronous
/// calculated values and dedupe keys with what their visible events fold to. The async projection meets the move event
/// and folds the person again from their visible events (calculated values and memberships, with the remove/add
/// messages the corrected memberships imply); the new or receiving person's copies are folded as any new events.
/// Event outputs of the people's workspaces get an identity-change notice per person in the same transaction.
/// </summary>
public sealed class PeopleRepair(IDocumentStore store, WorkspaceDirectory directory, EnrichmentDefinitionsCache definitions,
    IWolverineRuntime runtime, TimeProvider clock, Profiles.ProfileHistoryReader history)
{
    public const string NoticeInputPrefix = IdentityChangeNotice.InputPrefix;

    public static ProblemDetails Check(FluentValidation.Results.ValidationResult result) =>
        result.IsValid ? WolverineContinue.NoProblems : ApiProblems.Invalid(result.Errors.Select(e => new FieldError(e.PropertyName, e.ErrorMessage)).ToList());

    public async Task<IResult> SplitAsync(long mpid, SplitPerson body, AdminAccess access, CancellationToken ct)
    {
        var rules = directory.Identity; // one rule set for the whole split (the identity settings change live)
        var identities = (body.Identities ?? []).Select(i => new IdentityKey(i!.Type!, i.Value!)).Distinct().ToList();
        var inputs = (body.Inputs ?? []).Select(i => i!).Distinct().ToList();
        foreach (var (input, n) in inputs.Select((x, n) => (x, n)))
            if (directory.InputByName(input) is null)
                return Results.Problem(ApiProblems.Invalid([new FieldError($"inputs[{n}]", $"there is no input named '{input}'.")]));
        var newMpid = IdentityResolution.NewMpid(RandomMpid);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();

        await using var session = store.LightweightSession();
        var people = await Privacy.ProfileLifetime.LockAndUnarchiveAsync(session, [mpid, newMpid], ct);
        if (people.ContainsKey(newMpid)) return Results.Problem(Conflict("mpid", "the new MPID drawn is taken; try again."));
        if (Refused(people.GetValueOrDefault(mpid), mpid, access, "mpid") is { } refused) return refused;
        var profile = people[mpid];

        var stream = await StreamAsync(session, mpid, ct);
        var carried = PersonMoves.Segments(stream.Events).OfType<StoredBatch>().SelectMany(b => b.Identities()).ToHashSet();
        foreach (var (identity, n) in identities.Select((x, n) => (x, n)))
            if (!profile.HasIdentity(identity.Type, identity.Value) && !carried.Contains(identity))
                return Results.Problem(Conflict($"identities[{n}]", $"MPID {mpid} neither holds nor sent {identity.Type} '{identity.Value}'."));
        var (selection, problem) = PersonMoves.SelectForSplit(stream.Events, identities, inputs);
        if (selection is null) return Results.Problem(Conflict("identities", problem!));

        var heldByOthers = await HeldByOthersAsync(session, selection, [mpid, newMpid], rules, ct);
        // What the original keeps is theirs: a unique identity they still hold does not go with the batches.
        var original = PersonMoves.Fold([.. stream.Events, new StoredEvent(stream.Version + 1, 0, default, new PersonSplit("", mpid, newMpid, [], [], [], 0, selection.Hidden, [], "", "", default))]);
        heldByOthers.UnionWith(original?.Identities.Where(i => !identities.Contains(new IdentityKey(i.Type, i.Value))).Select(i => new IdentityKey(i.Type, i.Value)) ?? []);

        var (copies, _) = PersonMoves.Redecide(selection, new PersonMoves.Receiving(newMpid, null, rules, KindOf, heldByOthers));
        var now = clock.GetUtcNow();
        var id = Guid.CreateVersion7().ToString("N");
        var batchIds = selection.Batches.Select(b => b.Received.BatchId).ToList();
        PersonSplit Split(IReadOnlyList<long> hidden) =>
            new(id, mpid, newMpid, selection.Identities, inputs, batchIds, selection.EventsMoved, hidden, [], body.Reason!, access.User, now);

        var result = await WriteAsync(session, [
            new Side(mpid, stream, profile, [(Split(selection.Hidden), null)]),
            new Side(newMpid, Stream.None, null, [.. copies.Select(c => (c.Event, (DateTimeOffset?)c.StoredAt)), (Split([]), null)]),
        ], selection, mpid, newMpid, rules, ct);
        await NoticesAsync(session, result, batchIds, "split", id, access.User, body.Reason!, now, ct);
        await session.SaveChangesAsync(ct);
        Metrics.Merge("split");
        var seconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
        return Results.Json(new JsonObject
        {
            ["split_id"] = id, ["mpid"] = mpid, ["new_mpid"] = newMpid,
            ["identities"] = Identities(selection.Identities), ["batches_moved"] = batchIds.Count, ["events_moved"] = selection.EventsMoved,
            ["seconds"] = Math.Round(seconds, 3),
        }, statusCode: StatusCodes.Status201Created);
    }

    /// <summary>Merges <paramref name="source"/> into <paramref name="destination"/>; with <paramref name="undoes"/>, gives the split's original back what it lost.</summary>
    public async Task<IResult> MergeAsync(long source, long destination, PersonSplit? undoes, string reason, AdminAccess access, CancellationToken ct)
    {
        var rules = directory.Identity; // one rule set for the whole merge (the identity settings change live)
        await using var session = store.LightweightSession();
        var people = await Privacy.ProfileLifetime.LockAndUnarchiveAsync(session, [source, destination], ct);
        // Merged away, the source keeps no data in any workspace: say so rather than "no such person" (to an admin who sees everything).
        if (people.GetValueOrDefault(source) is { Workspaces.Count: 0 } gone && gone.Moves.Any(m => m.Gave && m.Kind != "split") && access.SeesAll)
            return Results.Problem(Conflict("source", $"MPID {source} was already merged into another person."));
        if (Refused(people.GetValueOrDefault(source), source, access, "source") is { } a) return a;
        if (Refused(people.GetValueOrDefault(destination), destination, access, "destination") is { } b) return b;
        var (from, to) = (people[source], people[destination]);
        if (from.Moves.Any(m => m.Gave && m.Kind != "split")) return Results.Problem(Conflict("source", $"MPID {source} was already merged into another person."));
        if (to.Moves.Any(m => m.Gave && m.Kind != "split")) return Results.Problem(Conflict("destination", $"MPID {destination} was merged into another person."));
        // The alias rules of identity.md §9 in their merge form: a login identity (the immutable one included) names one
        // person, so two people with different values of one login type are two people.
        foreach (var login in from.Identities.Where(i => rules.IsLogin(i.Type)))
            if (to.Identities.FirstOrDefault(i => i.Type == login.Type) is { } other && other.Value != login.Value && undoes is null)
                return Results.Problem(Conflict("destination", $"the people hold different {login.Type} values ('{login.Value}', '{other.Value}'): they are two people."));

        var sourceStream = await StreamAsync(session, source, ct);
        var destinationStream = await StreamAsync(session, destination, ct);
        // Undoing a split: the original gets back its hidden versions; only what the new person received since the split is decided again there.
        var splitAt = undoes is null ? 0 : sourceStream.Events.LastOrDefault(e => e.Data is PersonSplit s && s.SplitId == undoes.SplitId)?.Version ?? 0;
        var selection = PersonMoves.SelectForMerge(sourceStream.Events, splitAt);
        var restored = undoes?.Hidden ?? [];
        var receiving = PersonMoves.Fold([.. destinationStream.Events, new StoredEvent(destinationStream.Version + 1, 0, default,
            new PeopleMerged("", source, destination, undoes?.SplitId, [], [], 0, [], restored, "", "", default))]);
        var heldByOthers = await HeldByOthersAsync(session, selection, [source, destination], rules, ct);
        var (copies, _) = PersonMoves.Redecide(selection, new PersonMoves.Receiving(destination, receiving, rules, KindOf, heldByOthers));

        var now = clock.GetUtcNow();
        var id = Guid.CreateVersion7().ToString("N");
        var batchIds = selection.Batches.Select(x => x.Received.BatchId).ToList();
        var identities = undoes is null ? selection.Identities : [.. undoes.Identities.Union(selection.Identities)];
        PeopleMerged Merged(IReadOnlyList<long> hidden, IReadOnlyList<long> back) =>
            new(id, source, destination, undoes?.SplitId, identities, batchIds, selection.EventsMoved, hidden, back, reason, access.User, now);

        var result = await WriteAsync(session, [
            new Side(source, sourceStream, from, [(Merged(selection.Hidden, []), null)]),
            new Side(destination, destinationStream, to, [.. copies.Select(c => (c.Event, (DateTimeOffset?)c.StoredAt)), (Merged([], restored), null)]),
        ], selection, source, destination, rules, ct);
        // An undo moves back the split's batches (restored on the original) and what the new person received since.
        await NoticesAsync(session, result, [.. (undoes?.BatchIds ?? []).Union(batchIds)], undoes is null ? "merge" : "split_undone", id, access.User, reason, now, ct);
        await session.SaveChangesAsync(ct);
        Metrics.Merge(undoes is null ? "operator" : "split_undone");
        return Results.Json(new JsonObject
        {
            ["merge_id"] = id, ["source"] = source, ["destination"] = destination, ["undoes_split"] = undoes?.SplitId,
            ["identities"] = Identities(identities), ["batches_moved"] = batchIds.Count + (undoes?.BatchIds.Count ?? 0),
        }, statusCode: StatusCodes.Status201Created);
    }

    public async Task<IResult> UndoAsync(long mpid, string splitId, string reason, AdminAccess access, CancellationToken ct)
    {
        PersonSplit? split;
        await using (var query = store.QuerySession())
        {
            var profile = await query.LoadAsync<Profile>(StreamKey.For(mpid), ct);
            if (Refused(profile, mpid, access, "mpid") is { } refused) return refused;
            var move = profile!.Moves.FirstOrDefault(m => m.Id == splitId && m.Kind == "split");
            if (move is null) return Results.Problem(NotFound("splitId", $"MPID {mpid} took part in no split {splitId}."));
            if (profile.Moves.Any(m => m.UndoesSplit == splitId)) return Results.Problem(Conflict("splitId", $"split {splitId} was already undone."));
            // The original's record of the split names the versions it hid.
            var original = move.Gave ? mpid : move.OtherMpid;
            split = (await query.Events.FetchStreamAsync(StreamKey.For(original), token: ct)).Select(e => e.Data).OfType<PersonSplit>()
                .FirstOrDefault(s => s.SplitId == splitId);
            if (split is null) return Results.Problem(Conflict("splitId", $"the original of split {splitId} (MPID {original}) is gone."));
        }
        // The new person goes back into the original, by the same path as any merge.
        return await MergeAsync(split.NewMpid, split.OriginalMpid, split, reason, access, ct);
    }

    private sealed record Stream(IReadOnlyList<StoredEvent> Events, IReadOnlyDictionary<long, long> Sequences, long Version, bool Exists)
    {
        public static readonly Stream None = new([], new Dictionary<long, long>(), 0, false);
    }

    /// <summary>One person's part of a move: their stream as read under the lock, their profile then, and what is appended.</summary>
    private sealed record Side(long Mpid, Stream Stream, Profile? Before, IReadOnlyList<(object Event, DateTimeOffset? StoredAt)> Appended);

    /// <param name="Events">Each person's stream after the move (the copies included), what their folds read.</param>
    private sealed record Written(IReadOnlyDictionary<long, Profile?> Before, IReadOnlyDictionary<long, Profile?> After, MoveSelection Selection, long Giver, long Receiver,
        IReadOnlyDictionary<long, IReadOnlyList<StoredEvent>> Events);

    private static async Task<Stream> StreamAsync(IDocumentSession session, long mpid, CancellationToken ct)
    {
        var events = await session.Events.FetchStreamAsync(StreamKey.For(mpid), token: ct);
        return new Stream(events.Select(e => new StoredEvent(e.Version, e.Sequence, e.Timestamp, e.Data)).ToList(), events.ToDictionary(e => e.Version, e => e.Sequence),
            events.Count == 0 ? 0 : events.Max(e => e.Version), events.Count > 0);
    }

    /// <summary>Unique identities of the moved batches that someone other than these people holds: they stay where they are.</summary>
    private async Task<HashSet<IdentityKey>> HeldByOthersAsync(IDocumentSession session, MoveSelection selection, long[] mpids, IdentitySettings rules, CancellationToken ct)
    {
        var unique = selection.Batches.SelectMany(b => b.Identities()).Where(i => rules.IsUnique(i.Type)).Distinct().ToList();
        var held = new HashSet<IdentityKey>();
        if (unique.Count == 0) return held;
        await using var command = new NpgsqlCommand(
            $"select i.identity_type, i.identity_value from {store.Options.DatabaseSchemaName}.{IdentityIndexProjection.TableName} i " +
            "join unnest($1::text[], $2::text[]) u(t, v) on i.identity_type = u.t and i.identity_value = u.v where i.mpid <> all($3)",
            (NpgsqlConnection)session.Connection!);
        command.Parameters.Add(new NpgsqlParameter { Value = unique.Select(i => i.Type).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = unique.Select(i => i.Value).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = mpids });
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) held.Add(new IdentityKey(reader.GetString(0), reader.GetString(1)));
        return held;
    }

    /// <summary>
    /// Queues the appends (our own insert, the <see cref="EventRows"/> <see cref="GroupAppend"/> writes, but with each copy's
    /// original stored time) and both people's documents and index rows as their visible events fold; moves their dedupe keys.
    /// </summary>
    private async Task<Written> WriteAsync(IDocumentSession session, IReadOnlyList<Side> sides, MoveSelection selection, long giver, long receiver, IdentitySettings rules, CancellationToken ct)
    {
        var schema = store.Options.DatabaseSchemaName;
        var events = new EventRows((DocumentStore)store, store.Options.Serializer(), keepTimes: true);
        var before = new Dictionary<long, Profile?>();
        var after = new Dictionary<long, Profile?>();
        var streams = new Dictionary<long, IReadOnlyList<StoredEvent>>();
        var index = $"{schema}.{IdentityIndexProjection.TableName}";
        var active = CalculationModes.Synchronous((await definitions.GetAsync(ct)).Attributes);
        var synchronous = new List<SynchronousCalculations>();

        foreach (var side in sides)
        {
            var key = StreamKey.For(side.Mpid);
            var version = side.Stream.Version;
            var all = side.Stream.Events.ToList();
            foreach (var (e, at) in side.Appended)
            {
                events.Add(key, ++version, e, at);
                all.Add(new StoredEvent(version, 0, at ?? clock.GetUtcNow(), e));
            }
            session.QueueSqlCommand(side.Stream.Exists
                ? $"update {schema}.mt_streams set version = ?, timestamp = now() where id = ?"
                : $"insert into {schema}.mt_streams (id, type, version, timestamp, tenant_id) values (?, null, ?, now(), '*DEFAULT*')",
                side.Stream.Exists ? new object[] { version, key } : new object[] { key, version });

            before[side.Mpid] = side.Before;
            streams[side.Mpid] = all;
            var profile = after[side.Mpid] = PersonMoves.Fold(all);
            session.QueueSqlCommand($"delete from {index} where mpid = ?", side.Mpid);
            if (profile is null) { session.Delete<Profile>(key); continue; }
            session.Store(profile);
            foreach (var identity in profile.Identities)
                session.QueueSqlCommand(
                    $"insert into {index} (identity_type, identity_value, mpid, is_unique, workspace_id, linked_at) values (?, ?, ?, ?, ?, ?)",
                    identity.Type, identity.Value, profile.Mpid, rules.IsUnique(identity.Type), identity.WorkspaceId, identity.AddedAt);

            // The writer's synchronous values (issue 16 §7), folded again from the visible events, so its next batch continues from them.
            if (active.Count > 0)
            {
                var state = SynchronousCalculations.Start(side.Mpid, active);
                var from = active.Min(d => d.LiveAfterSequence);
                foreach (var e in MovedEvents.Visible(all, x => x.Version, x => x.Data))
                {
                    var sequence = side.Stream.Sequences.TryGetValue(e.Version, out var s) ? s : long.MaxValue;
                    if (sequence > from && SynchronousCalculationsStorage.IsFolded(e.Data)) state.Fold(e.Data, e.Version, sequence, e.StoredAt, active);
                }
                state.Through(version);
                synchronous.Add(state);
            }
        }
        // Sequence numbers are drawn in this order, so the copies keep the order they had.
        events.QueueInsert(session, schema);
        session.QueueSqlCommand(SynchronousCalculationsStorage.DeleteSql(schema), sides.Select(s => s.Mpid).ToArray());
        if (synchronous.Count > 0) new SynchronousCalculationsStorage(store).Queue(session, synchronous);

        // A client retry of a moved batch must find it where it now is.
        var messageIds = selection.Batches.SelectMany(b => b.Events).Select(e => e.SourceMessageId).OfType<string>().Distinct().ToArray();
        if (messageIds.Length > 0)
            session.QueueSqlCommand($"update {schema}.{IngestionStorage.MessagesTable} set mpid = ? where mpid = ? and source_message_id = any(?)",
                receiver, giver, messageIds);
        var requestIds = selection.Batches.Select(b => b.Received.SourceRequestId).OfType<string>().Distinct().ToArray();
        if (requestIds.Length > 0)
            session.QueueSqlCommand($"update {schema}.{IngestionStorage.RequestsTable} set mpid = ? where mpid = ? and source_request_id = any(?)",
                receiver, giver, requestIds);
        return new Written(before, after, selection, giver, receiver, streams);
    }

    /// <summary>
    /// One identity-change notice per person to every output connected to an input of their workspaces (every kind), queued
    /// as deliveries are (rows under one <see cref="DeliverBatches"/> envelope per output, outbox), so it is signed, retried,
    /// confirmed and dead-lettered like them; its input (<c>identity:&lt;id&gt;</c>) tells it from a forwarded batch. It names
    /// the batches that moved (what outputs keeping rows re-key); a warehouse output's also carries the person as they are
    /// now, through the connection's filter and consent rules, with calculated values and memberships folded from their
    /// visible events (the async projection has not folded them again yet).
    /// </summary>
    private async Task NoticesAsync(IDocumentSession session, Written written, IReadOnlyList<Guid> batchIds, string change, string id, string by, string reason,
        DateTimeOffset at, CancellationToken ct)
    {
        var workspaces = written.Before.Values.Concat(written.After.Values).OfType<Profile>().SelectMany(p => p.Workspaces.Keys).ToHashSet();
        var inputs = directory.Inputs.Where(i => workspaces.Contains(i.Workspace.Id)).ToDictionary(i => i.Name, i => i.Workspace.Id);
        var connections = (await session.Query<Connection>().ToListAsync(ct)).Where(c => c.Active && inputs.ContainsKey(c.Input)).ToList();
        if (connections.Count == 0) return;
        var outputs = (await session.LoadManyAsync<Output>(ct, connections.Select(c => c.OutputId).Distinct().ToArray())).ToDictionary(o => o.Id);
        var rows = new List<(Guid GroupId, int Position, DeliverBatch Delivery, int WorkspaceId)>();
        var groups = new Dictionary<string, Guid>();
        foreach (var connection in connections.Where(c => outputs.ContainsKey(c.OutputId)).OrderBy(c => c.Id).DistinctBy(c => c.OutputId))
        {
            var output = outputs[connection.OutputId];
            var workspaceId = inputs[connection.Input];
            var groupId = groups[connection.OutputId] = Guid.CreateVersion7();
            // The giver first: an output that re-keys rows does so before the receiver's profile replaces theirs.
            foreach (var (mpid, other, gave) in new[] { (written.Giver, written.Receiver, true), (written.Receiver, written.Giver, false) })
            {
                var notice = new JsonObject
                {
                    ["type"] = IdentityChangeNotice.Type, ["change"] = change, ["id"] = id,
                    ["mpid"] = mpid.ToString(CultureInfo.InvariantCulture), ["other_mpid"] = other.ToString(CultureInfo.InvariantCulture),
                    ["gave"] = gave, ["identities"] = Identities(written.Selection.Identities),
                    ["user_identities"] = Identities(written.After.GetValueOrDefault(mpid)?.Identities.Select(i => new IdentityKey(i.Type, i.Value)) ?? []),
                    ["batches_moved"] = batchIds.Count, ["batch_ids"] = new JsonArray(batchIds.Select(b => (JsonNode?)b.ToString("D")).ToArray()),
                    ["workspace_id"] = workspaceId, ["reason"] = reason, ["by"] = by, ["timestamp_unixtime_ms"] = at.ToUnixTimeMilliseconds(),
                };
                if (output.Kind == OutputKind.Warehouse) notice["profile"] = await NowAsync(written, mpid, workspaceId, connection, at, ct);
                rows.Add((groupId, rows.Count, new DeliverBatch(connection.OutputId, connection.Id, Guid.CreateVersion7(), Guid.CreateVersion7(), mpid,
                    NoticeInputPrefix + id, "production", notice.ToJsonString()), workspaceId));
            }
        }
        if (rows.Count == 0) return;
        session.QueueDeliveries(rows);
        var outbox = new MartenOutbox(runtime, session);
        foreach (var (outputId, groupId) in groups) await outbox.SendAsync(new DeliverBatches(groupId, outputId));
        session.CountEnqueued(rows.GroupBy(r => r.Delivery.OutputId).ToDictionary(g => g.Key, g => g.Count()));
    }

    /// <summary>The person in the workspace as a warehouse resync writes them, or null when they have no data there any more.</summary>
    private async Task<JsonObject?> NowAsync(Written written, long mpid, int workspaceId, Connection connection, DateTimeOffset at, CancellationToken ct)
    {
        if (written.After.GetValueOrDefault(mpid) is not { } profile || !profile.IsKnownIn(workspaceId)) return null;
        // The copies have no sequence yet (they are being inserted): after everything stored, as they will be.
        var events = written.Events[mpid].Select(e => e.Sequence == 0 ? e with { Sequence = long.MaxValue } : e).ToList();
        var computed = await history.ComputedAsOfAsync(events, profile, workspaceId, at, ct);
        return Domain.Forwarding.Warehouse.WarehouseSync.Baseline(profile, workspaceId, connection, computed.CalculatedAttributes,
            computed.Audiences.Select(a => (a.AudienceId, a.AudienceName)), at);
    }

    /// <summary>404 for a person this admin cannot see (never their data), 403 when they see only some of the person's workspaces.</summary>
    private static IResult? Refused(Profile? profile, long mpid, AdminAccess access, string field)
    {
        if (profile is null || !profile.Workspaces.Keys.Any(w => access.Sees(w)))
            return Results.Problem(NotFound(field, $"there is no person {mpid}."));
        if (!access.SeesAllOf(profile.Workspaces.Keys))
            return Results.Problem(AdminAccess.Forbidden(field, $"MPID {mpid} has data in workspaces user '{access.User}' may not use."));
        return null;
    }

    private InputKind KindOf(string input) => directory.InputByName(input)?.Kind ?? InputKind.Server;

    private static JsonArray Identities(IEnumerable<IdentityKey> identities) =>
        new(identities.Select(i => (JsonNode?)new JsonObject { ["type"] = i.Type, ["value"] = i.Value }).ToArray());

    private static ProblemDetails NotFound(string field, string message) =>
        ApiProblems.Create(StatusCodes.Status404NotFound, "Not found", [new FieldError(field, message, "NOT_FOUND")]);

    private static ProblemDetails Conflict(string field, string message) =>
        ApiProblems.Create(StatusCodes.Status409Conflict, "Conflict", [new FieldError(field, message, "CONFLICT")]);

    private static long RandomMpid() => BitConverter.ToInt64(RandomNumberGenerator.GetBytes(8));
}
