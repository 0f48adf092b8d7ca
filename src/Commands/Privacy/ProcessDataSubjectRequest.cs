using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventProfiles.Commands.Audiences;
using EventProfiles.Commands.CalculatedAttributes;
using EventProfiles.Commands.Forwarding;
using EventProfiles.Commands.Identity;
using EventProfiles.Commands.Ingestion;
using EventProfiles.Commands.Operations;
using EventProfiles.Commands.Profiles;
using EventProfiles.Commands.Streams;
using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Operations;
using EventProfiles.Domain.Privacy;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using EventProfiles.Projections.CalculatedAttributes;
using EventProfiles.Projections.Identity;
using EventProfiles.Projections.Privacy;
using JasperFx.Events;
using JasperFx.Events.Daemon;
using Marten;
using Marten.Events.Archiving;
using Microsoft.Extensions.Logging;
using Npgsql;
using Wolverine;
using Wolverine.Attributes;
using Wolverine.Runtime;

namespace EventProfiles.Commands.Privacy;

/// <summary>Durable job, scheduled at the end of the waiting period: carry out a data-subject request.</summary>
public sealed record ProcessDataSubjectRequest(Guid RequestId);

/// <summary>An access or portability export (a ZIP of JSON Lines, §4.5), downloadable for 7 days, then purged.</summary>
public sealed class DsrExport
{
    public Guid Id { get; set; }
    public int WorkspaceId { get; set; }
    /// <summary>The people whose data it holds: an erasure of one of them in the workspace deletes it.</summary>
    public List<long> Mpids { get; set; } = [];
    public byte[] Zip { get; set; } = [];
    public DateTimeOffset ExpiresAt { get; set; }
}

/// <summary>What an erasure decided: messages to send with it, and the people whose profile is rebuilt after it.</summary>
public sealed record ErasureOutcome(IReadOnlyList<object> Messages, IReadOnlyList<string> RebuildAfterCommit)
{
    public static readonly ErasureOutcome Nothing = new([], []);
}

public static class ProcessDataSubjectRequestHandler
{
    public static readonly TimeSpan DownloadLifetime = TimeSpan.FromDays(7);

    [MessageTimeout(60 * 60)]
    public static async Task<OutgoingMessages> Handle(ProcessDataSubjectRequest job, IDocumentStore store, NpgsqlDataSource db, WorkspaceDirectory directory,
        IWolverineRuntime runtime, RebuildProjections rebuild, OperationFiles files, TimeProvider clock, ILogger<ProcessDataSubjectRequest> logger, CancellationToken ct)
    {
        var messages = new OutgoingMessages();
        await using (var session = store.LightweightSession())
        {
            var request = await session.LoadAsync<DataSubjectRequest>(job.RequestId, ct);
            if (request is null || request.Status is DsrStatuses.Completed or DsrStatuses.Cancelled) return messages; // cancelled, or done before
            if (request.Status == DsrStatuses.Pending)
            {
                request.Status = DsrStatuses.InProgress;
                session.Store(request);
                await session.SaveChangesAsync(ct);
                messages.AddRange(DsrCallbacks.For(request));
            }
        }

        DataSubjectRequest done;
        ErasureOutcome erased = ErasureOutcome.Nothing;
        await using (var session = store.LightweightSession())
        {
            var request = (await session.LoadAsync<DataSubjectRequest>(job.RequestId, ct))!;
            var mpids = await MatchAsync(session, request, db, directory, ct);
            request.ProfilesMatched = mpids.Count;
            if (request.Type == DsrTypes.Erasure)
            {
                if (await EraseAsync(session, db, runtime, mpids, request.WorkspaceId, directory, files, clock, ct, request) is not { } outcome)
                {
                    messages.Add(job.DelayedFor(TimeSpan.FromSeconds(5))); // the daemon is behind: again shortly, still in progress
                    return messages;
                }
                erased = outcome;
                messages.AddRange(outcome.Messages);
            }
            else if (mpids.Count > 0)
                session.Store(new DsrExport
                {
                    Id = request.Id, WorkspaceId = request.WorkspaceId, Mpids = mpids, ExpiresAt = clock.GetUtcNow() + DownloadLifetime,
                    Zip = await ExportAsync(session, mpids, request.WorkspaceId, clock.GetUtcNow(), ct),
                });
            request.Status = DsrStatuses.Completed;
            request.CompletedAt = clock.GetUtcNow();
            request.Redact();
            session.Store(request);
            await session.SaveChangesAsync(ct);
            done = request;
        }
        // People other workspaces still hold: their profile and identity index, folded again from the events left.
        if (erased.RebuildAfterCommit.Count > 0) await rebuild.RebuildGroupAsync(erased.RebuildAfterCommit, ct);
        messages.AddRange(DsrCallbacks.For(done));
        logger.LogInformation("Data subject request {Id} ({Type}) completed: {Profiles} profile(s) matched", done.Id, done.Type, done.ProfilesMatched);
        return messages;
    }

    /// <summary>
    /// The profiles the request names: its MPID, or every holder of its identities (§4.5: several may match) — and of
    /// those only the people who have data in the requesting workspace (issue 14): a workspace can neither see nor erase
    /// anyone else.
    /// </summary>
    private static async Task<List<long>> MatchAsync(IQuerySession session, DataSubjectRequest request, NpgsqlDataSource db, WorkspaceDirectory directory, CancellationToken ct)
    {
        var identities = request.Identities.Select(kv => new IdentityKey(kv.Key, kv.Value)).ToList();
        var lookup = await IdentityIndexQueries.LookupAsync(db, session.DocumentStore.Options.DatabaseSchemaName, identities, request.Mpid is { } m ? [m] : [], directory.Identity, ct);
        var candidates = request.Mpid is { } mpid
            ? lookup.KnownMpids.Contains(mpid) ? [mpid] : []
            : identities.SelectMany(lookup.OwnersOf).Select(o => o.Mpid).Where(lookup.KnownMpids.Contains).Distinct().ToList();
        if (candidates.Count == 0) return [];
        var profiles = await session.LoadManyAsync<Profile>(ct, candidates.Select(StreamKey.For).ToArray());
        return profiles.Where(p => WorkspaceErasure.Matches(p, request.WorkspaceId)).Select(p => p.Mpid).Order().ToList();
    }

    /// <summary>
    /// Erasure (§4.5, issues 7 and 14), in one transaction under the people's stream locks. A request of workspace W
    /// (<paramref name="workspaceId"/>) removes W's data of each person: W's events, attributes, consent and devices (the
    /// profile is folded again from the events left, after the commit), W's calculated values and audience memberships,
    /// W's queued deliveries and dead letters, W's access exports and operations export files. A person no other workspace
    /// holds data of — and everyone when <paramref name="workspaceId"/> is null (retention) — goes entirely: the stream
    /// (tombstoned: events and stream rows deleted, so no rebuild can bring it back), every read model and document, the
    /// identity-index rows and dedupe keys. Audience outputs get a removal for each membership that goes. For a data-subject
    /// <paramref name="request"/>, the workspace's outputs that forward erasures get a notice naming each person as they
    /// were before (<see cref="ErasureNotices"/>), committed with the erasure.
    /// </summary>
    /// <returns>What to send and rebuild, or null when the daemon has not applied the people's events yet (nothing was changed).</returns>
    public static async Task<ErasureOutcome?> EraseAsync(IDocumentSession session, NpgsqlDataSource db, IWolverineRuntime runtime, List<long> mpids, int? workspaceId,
        WorkspaceDirectory directory, OperationFiles? files, TimeProvider clock, CancellationToken ct, DataSubjectRequest? request = null)
    {
        if (mpids.Count == 0) return ErasureOutcome.Nothing;
        var schema = session.DocumentStore.Options.DatabaseSchemaName;
        // People who gave these people events by a split or merge keep the originals hidden on their streams: those are
        // the erased people's data too, so the givers' streams are locked with theirs (one lock order) and their hidden
        // originals deleted below.
        var moves = await VisibleEvents.MovesAsync(session.DocumentStore, db, mpids.Select(StreamKey.For).ToList(), ct);
        var givers = mpids.SelectMany(m => MovedEvents.GiversTo(m, moves.Where(x => x.Stream == StreamKey.For(m)).Select(x => x.Move)))
            .Except(mpids).Distinct().ToList();
        var keys = await StreamLocks.LockAsync(session, [.. mpids, .. givers], ct);
        // The daemon must have applied these people's events first (see DeletionCeilingAsync); if not yet, try later.
        if (!await DaemonPastAsync(db, schema, keys, ct)) return null;

        var profiles = (await session.LoadManyAsync<Profile>(ct, keys)).ToDictionary(p => p.Mpid);
        // Under the lock, with what is stored now: who goes entirely, and whose workspace part only.
        var whole = mpids.Where(m => workspaceId is not { } w || !profiles.TryGetValue(m, out var p) || WorkspaceErasure.Reach(p, w) == ErasureReach.Person).Distinct().ToList();
        var part = workspaceId is { } ws
            ? mpids.Where(m => profiles.TryGetValue(m, out var p) && WorkspaceErasure.Reach(p, ws) == ErasureReach.Workspace).Distinct().ToList()
            : [];
        var now = clock.GetUtcNow();
        var events = await session.Events.QueryAllRawEvents()
            .Where(e => e.MaybeArchived() && keys.Contains(e.StreamKey!))
            .OrderBy(e => e.Sequence).ToListAsync(ct);

        var messages = new List<object>();
        var wsAudiences = workspaceId is { } aw
            ? (await session.Query<Audience>().Where(a => a.WorkspaceIds.Contains(aw)).Select(a => a.Id).ToListAsync(ct)).ToArray()
            : [];
        var memberships = (await session.Query<AudienceMember>().Where(m => mpids.Contains(m.Mpid)).ToListAsync(ct))
            .Where(m => whole.Contains(m.Mpid) || (part.Contains(m.Mpid) && wsAudiences.Contains(m.AudienceId))).ToList();
        if (memberships.Count > 0)
        {
            var audiences = (await session.LoadManyAsync<Audience>(ct, memberships.Select(m => m.AudienceId).Distinct().ToArray())).ToDictionary(a => a.Id);
            var connections = (await session.Query<AudienceConnection>().ToListAsync(ct)).ToLookup(c => c.AudienceId);
            foreach (var member in memberships.Where(m => audiences.ContainsKey(m.AudienceId)))
            {
                var audience = audiences[member.AudienceId];
                var id = Guid.CreateVersion7();
                var payload = AudienceMembershipsChangedHandler.Message(id, new MembershipChange(audience.Id, audience.Activation ?? Guid.Empty, member.Mpid, false, now, "erased"),
                    audience, directory.WorkspaceById(audience.WorkspaceIds[0])?.AccountId ?? 0, profiles.GetValueOrDefault(member.Mpid)).ToJsonString();
                foreach (var connection in connections[audience.Id])
                {
                    var removal = new DeliverBatch(connection.OutputId, connection.Id, id, id, member.Mpid, $"audience:{audience.Id}", "production", payload);
                    messages.Add(removal);
                    // Someone who stays (in other workspaces) can be erased later: that erasure must find this delivery too.
                    if (!whole.Contains(member.Mpid)) session.RecordWork(audience.WorkspaceIds.Select(w => new PersonWorkRecord.Row(removal.WorkId, member.Mpid, w)));
                }
                session.HardDelete<AudienceMember>(member.Id);
            }
        }

        // Queued, retried, scheduled and dead-lettered work of theirs, by the key it was recorded under.
        var wholeIds = whole.ToArray();
        var partIds = part.ToArray();
        await PersonWork.RemoveAsync(session, runtime, [
            .. await PersonWork.OfAsync(session, wholeIds, null, ct),
            .. partIds.Length > 0 ? await PersonWork.OfAsync(session, partIds, workspaceId, ct) : [],
        ], ct);
        session.RemoveWaitingDeliveries(wholeIds, partIds, workspaceId); // batches waiting in a delivery group, by their stored key
        if (request is not null)
            await ErasureNotices.EnlistAsync(session, runtime, directory, request, profiles, whole.Concat(part).Where(profiles.ContainsKey).Distinct().ToList(), ct);

        if (whole.Count > 0)
        {
            var wholeKeys = whole.Select(StreamKey.For).ToHashSet();
            // Projection failures recorded for their events (by sequence, the key Marten stores them with).
            var sequences = events.Where(e => wholeKeys.Contains(e.StreamKey!)).Select(e => e.Sequence).ToArray();
            if (sequences.Length > 0) session.HardDeleteWhere<DeadLetterEvent>(d => sequences.Contains(d.EventSequence));
            foreach (var key in wholeKeys)
            {
                session.Events.TombstoneStream(key);
                session.HardDelete<Profile>(key);
                session.HardDelete<PersonCalculations>(key);
                session.HardDelete<ScheduledReevaluation>(key);
            }
            session.HardDeleteWhere<InitialisedCalculation>(c => whole.Contains(c.Mpid));
            session.HardDeleteWhere<AudienceMember>(m => whole.Contains(m.Mpid));
            session.HardDeleteWhere<MembershipChangeRecord>(r => whole.Contains(r.Mpid));
            session.HardDeleteWhere<AliasJob>(j => whole.Contains(j.SourceMpid) || whole.Contains(j.DestinationMpid));
            session.QueueSqlCommand($"delete from {schema}.{IdentityIndexProjection.TableName} where mpid = any(?)", wholeIds);
            session.QueueSqlCommand($"delete from {schema}.{IngestionStorage.MessagesTable} where mpid = any(?)", wholeIds);
            session.QueueSqlCommand($"delete from {schema}.{IngestionStorage.RequestsTable} where mpid = any(?)", wholeIds);
        }
        if (givers.Count > 0 && (whole.Count > 0 || part.Count > 0)) EraseGivenOriginals(session, whole, part, workspaceId, givers, events);
        // Synchronous calculated attributes: gone with the person; for a workspace's part, folded again from what is left.
        if (whole.Count > 0 || part.Count > 0)
            session.QueueSqlCommand(SynchronousCalculationsStorage.DeleteSql(schema), whole.Concat(part).Distinct().ToArray());

        if (part.Count > 0 && workspaceId is { } w)
            await ErasePartAsync(session, part, w, events, wsAudiences, directory, now, ct);

        // Access exports that hold them: the requesting workspace's, or every workspace's for people who go entirely.
        var covering = await session.Query<DsrExport>().Select(e => new ExportCoverage { Id = e.Id, WorkspaceId = e.WorkspaceId, Mpids = e.Mpids }).ToListAsync(ct);
        foreach (var export in covering.Where(e => e.Mpids.Any(whole.Contains) || (e.WorkspaceId == workspaceId && e.Mpids.Any(part.Contains))))
            session.HardDelete<DsrExport>(export.Id);
        if (workspaceId is { } fw && files is not null) await DeleteOperationFilesAsync(session, files, fw, ct);
        return new ErasureOutcome(messages, part.Select(StreamKey.For).ToList());
    }

    /// <summary>
    /// The originals of what splits and merges gave the erased people, hidden on the givers' streams (issue 21 §1):
    /// deleted by sequence, as a workspace's part is (the daemon is past them: see DaemonPastAsync) — all of them for
    /// people erased entirely, the workspace's data for a workspace's part. The givers' read models do not change,
    /// since every fold already left these events out.
    /// </summary>
    private static void EraseGivenOriginals(IDocumentSession session, List<long> whole, List<long> part, int? workspaceId, List<long> givers,
        IReadOnlyList<IEvent> events)
    {
        var schema = session.DocumentStore.Options.DatabaseSchemaName;
        var sequences = new List<long>();
        foreach (var giver in givers)
        {
            var key = StreamKey.For(giver);
            var stream = events.Where(e => e.StreamKey == key).ToList();
            var given = MovedEvents.GivenTo(stream.Select(e => e.Data));
            var wholly = given.Where(g => whole.Contains(g.Key)).SelectMany(g => g.Value).ToHashSet();
            var partly = given.Where(g => part.Contains(g.Key)).SelectMany(g => g.Value).ToHashSet();
            sequences.AddRange(stream
                .Where(e => wholly.Contains(e.Version)
                    || (partly.Contains(e.Version) && workspaceId is { } w && WorkspaceErasure.IsWorkspaceData(e.Data, w)))
                .Select(e => e.Sequence));
        }
        if (sequences.Count == 0) return;
        var array = sequences.ToArray();
        session.QueueSqlCommand($"delete from {schema}.mt_events where seq_id = any(?)", (object)array);
        session.HardDeleteWhere<DeadLetterEvent>(d => array.Contains(d.EventSequence));
    }

    private sealed class ExportCoverage
    {
        public Guid Id { get; set; }
        public int WorkspaceId { get; set; }
        public List<long> Mpids { get; set; } = [];
    }

    /// <summary>
    /// The workspace's part of people other workspaces still hold: its events are deleted (by sequence, below the
    /// daemon's position like retention's sweep), <see cref="WorkspaceDataErased"/> recorded, its calculated values,
    /// replayed parts, memberships and their history, alias jobs and dedupe keys removed. Identities, the stream and the
    /// other workspaces' data stay; the profile is folded again from what is left once this commits.
    /// </summary>
    private static async Task ErasePartAsync(IDocumentSession session, List<long> part, int workspaceId, IReadOnlyList<IEvent> events, int[] wsAudiences,
        WorkspaceDirectory directory, DateTimeOffset now, CancellationToken ct)
    {
        var schema = session.DocumentStore.Options.DatabaseSchemaName;
        var keys = part.Select(StreamKey.For).ToHashSet();
        var theirs = events.Where(e => keys.Contains(e.StreamKey!) && WorkspaceErasure.IsWorkspaceData(e.Data, workspaceId)).ToList();
        var sequences = theirs.Select(e => e.Sequence).ToArray();
        if (sequences.Length > 0)
        {
            session.QueueSqlCommand($"delete from {schema}.mt_events where seq_id = any(?)", (object)sequences);
            session.HardDeleteWhere<DeadLetterEvent>(d => sequences.Contains(d.EventSequence));
        }
        foreach (var e in theirs)
            if (e.Data is EventCaptured { SourceMessageId: { } smid })
                session.QueueSqlCommand($"delete from {schema}.{IngestionStorage.MessagesTable} where mpid = ? and source_message_id = ?",
                    long.Parse(e.StreamKey!, System.Globalization.CultureInfo.InvariantCulture), smid);
        var inputs = directory.Inputs.Where(i => i.Workspace.Id == workspaceId).SelectMany(i => new[] { i.Name, i.Key }).Distinct().ToArray();
        var mpids = part.ToArray();
        session.QueueSqlCommand($"delete from {schema}.{IngestionStorage.RequestsTable} where mpid = any(?) and input = any(?)", mpids, inputs);
        session.HardDeleteWhere<AliasJob>(j => (part.Contains(j.SourceMpid) || part.Contains(j.DestinationMpid)) && inputs.Contains(j.Input));

        var definitions = (await session.Query<CalculatedAttribute>().Where(c => c.WorkspaceId == workspaceId).Select(c => c.Id).ToListAsync(ct)).ToArray();
        // The workspace's replayed parts, and initial memberships of its audiences (their members were just told "delete").
        session.HardDeleteWhere<InitialisedCalculation>(c => part.Contains(c.Mpid) && (definitions.Contains(c.DefinitionId) || wsAudiences.Contains(c.AudienceId)));
        session.HardDeleteWhere<MembershipChangeRecord>(r => part.Contains(r.Mpid) && wsAudiences.Contains(r.AudienceId));
        foreach (var person in await session.LoadManyAsync<PersonCalculations>(ct, keys.ToArray()))
        {
            foreach (var id in definitions) person.Definitions.Remove(id);
            foreach (var id in wsAudiences) person.Audiences.Remove(id);
            session.Store(person);
        }

        // Aged-out people's streams are archived: take them out so the fact can be recorded (the lifetime archives them again).
        var archived = (await session.LoadManyAsync<Profile>(ct, keys.ToArray())).Where(p => !p.IsLive).Select(p => p.Id).ToArray();
        if (archived.Length > 0) await ProfileLifetime.UnarchiveAsync((NpgsqlConnection)session.Connection!, schema, archived);
        foreach (var key in keys) session.Events.Append(key, new WorkspaceDataErased(workspaceId, now));
    }

    /// <summary>
    /// Operations export files of the workspace (every person of the workspace, as of their export) and the uploaded files
    /// its imports read: deleted rather than rewritten — they are copies for a migration or a backup, and a copy made
    /// before an erasure must not keep what the erasure removed. The jobs stay, their results saying so.
    /// </summary>
    private static async Task DeleteOperationFilesAsync(IDocumentSession session, OperationFiles files, int workspaceId, CancellationToken ct)
    {
        var jobs = await session.Query<OperationJob>()
            .Where(j => j.WorkspaceId == workspaceId && (j.Kind == OperationKinds.Export || j.Kind == OperationKinds.Import)).ToListAsync(ct);
        var folder = Path.GetFullPath(files.Folder) + Path.DirectorySeparatorChar;
        foreach (var job in jobs)
        {
            var path = job.Kind == OperationKinds.Export ? job.Result : job.Parameter("file");
            if (string.IsNullOrEmpty(path) || !File.Exists(path)) continue;
            // Only files in the operations folder: an operator's own path elsewhere is theirs to look after.
            if (!Path.GetFullPath(path).StartsWith(folder, StringComparison.Ordinal)) continue;
            File.Delete(path);
            job.Result = $"{path} (deleted by an erasure)";
            session.Store(job);
        }
    }

    /// <summary>
    /// Events may only be deleted below what the async daemon has applied: a gap above its high-water mark would be
    /// taken for a transaction still in flight and hold the daemon up; and a page it holds would write the person's
    /// state back. The ceiling is the lower of the high-water mark and the projection's progress (none before it ever ran).
    /// </summary>
    public static async Task<long> DeletionCeilingAsync(NpgsqlDataSource db, string schema, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"""
            select min(last_seq_id), count(*) filter (where name = '{PersonCalculationsProjection.ProjectionName}:All')
            from {schema}.mt_event_progression where name in ('HighWaterMark', '{PersonCalculationsProjection.ProjectionName}:All')
            """);
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return reader.GetInt64(1) == 0 || reader.IsDBNull(0) ? long.MaxValue : reader.GetInt64(0);
    }

    private static async Task<bool> DaemonPastAsync(NpgsqlDataSource db, string schema, string[] keys, CancellationToken ct)
    {
        await using var last = db.CreateCommand($"select coalesce(max(seq_id), 0) from {schema}.mt_events where stream_id = any($1)");
        last.Parameters.Add(new NpgsqlParameter { Value = keys });
        var target = Convert.ToInt64(await last.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (await DeletionCeilingAsync(db, schema, ct) >= target) return true;
            await Task.Delay(100, ct);
        }
        return false;
    }

    /// <summary>
    /// Access and portability (§4.5): <c>profile.jsonl</c> (the profile as the Profile API shows it for the workspace,
    /// calculated attributes and memberships included) and <c>batches.jsonl</c> (each stored batch with its events).
    /// </summary>
    private static async Task<byte[]> ExportAsync(IDocumentSession session, List<long> mpids, int workspaceId, DateTimeOffset now, CancellationToken ct)
    {
        var profiles = new StringBuilder();
        var batches = new StringBuilder();
        foreach (var mpid in mpids)
        {
            var key = StreamKey.For(mpid);
            if (await session.LoadAsync<Profile>(key, ct) is { } profile && profile.IsKnownIn(workspaceId))
            {
                var computed = await ComputedProfileQuery.ForPersonAsync(session, mpid, workspaceId, now, ct);
                profiles.AppendLine(ProfileDocument.Build(profile, workspaceId, ProfileDocument.AllFields.ToHashSet(), computed).ToJsonString());
            }
            // What a split or merge moved away belongs to the person who received it (issue 21).
            var events = VisibleEvents.Of(await session.Events.FetchStreamAsync(key, token: ct));
            var received = events.Select(e => e.Data).OfType<BatchReceived>().Where(b => b.WorkspaceId == workspaceId).ToList();
            var captured = events.Select(e => e.Data).OfType<EventCaptured>().ToLookup(e => e.BatchId);
            foreach (var batch in received)
            {
                var json = JsonNode.Parse(batch.Batch.GetRawText())!.AsObject();
                json["mpid"] = mpid;
                json["batch_id"] = batch.BatchId.ToString();
                json["timestamp_unixtime_ms"] = batch.ReceivedAt.ToUnixTimeMilliseconds();
                json["events"] = new JsonArray(captured[batch.BatchId].Select(e => (JsonNode?)new JsonObject
                {
                    ["event_type"] = e.EventType, ["data"] = JsonNode.Parse(e.Data.GetRawText()),
                }).ToArray());
                batches.AppendLine(json.ToJsonString());
            }
        }
        using var zip = new MemoryStream();
        using (var archive = new ZipArchive(zip, ZipArchiveMode.Create, leaveOpen: true))
        {
            if (profiles.Length == 0 && batches.Length == 0) Add(archive, "empty.txt", "The identities matched, but no data is stored for this workspace.");
            else
            {
                Add(archive, "profile.jsonl", profiles.ToString());
                Add(archive, "batches.jsonl", batches.ToString());
            }
        }
        return zip.ToArray();
    }

    private static void Add(ZipArchive archive, string name, string content)
    {
        using var writer = new StreamWriter(archive.CreateEntry(name).Open(), new UTF8Encoding(false));
        writer.Write(content);
    }
}
