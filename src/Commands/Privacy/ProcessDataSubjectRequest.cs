using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventProfiles.Commands.Audiences;
using EventProfiles.Commands.Forwarding;
using EventProfiles.Commands.Identity;
using EventProfiles.Commands.Ingestion;
using EventProfiles.Commands.Profiles;
using EventProfiles.Commands.Streams;
using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Privacy;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using EventProfiles.Projections.CalculatedAttributes;
using EventProfiles.Projections.Identity;
using Marten;
using Microsoft.Extensions.Logging;
using Npgsql;
using Wolverine;
using Wolverine.Attributes;

namespace EventProfiles.Commands.Privacy;

/// <summary>Durable job, scheduled at the end of the waiting period: carry out a data-subject request.</summary>
public sealed record ProcessDataSubjectRequest(Guid RequestId);

/// <summary>An access or portability export (a ZIP of JSON Lines, §4.5), downloadable for 7 days.</summary>
public sealed class DsrExport
{
    public Guid Id { get; set; }
    public int WorkspaceId { get; set; }
    public byte[] Zip { get; set; } = [];
    public DateTimeOffset ExpiresAt { get; set; }
}

public static class ProcessDataSubjectRequestHandler
{
    public static readonly TimeSpan DownloadLifetime = TimeSpan.FromDays(7);

    [MessageTimeout(60 * 60)]
    public static async Task<OutgoingMessages> Handle(ProcessDataSubjectRequest job, IDocumentStore store, NpgsqlDataSource db, WorkspaceDirectory directory,
        TimeProvider clock, ILogger<ProcessDataSubjectRequest> logger, CancellationToken ct)
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
        await using (var session = store.LightweightSession())
        {
            var request = (await session.LoadAsync<DataSubjectRequest>(job.RequestId, ct))!;
            var mpids = await MatchAsync(request, db, store.Options.DatabaseSchemaName, directory, ct);
            request.ProfilesMatched = mpids.Count;
            if (request.Type == DsrTypes.Erasure)
            {
                if (await EraseAsync(session, db, mpids, directory, clock, ct) is not { } removals)
                {
                    messages.Add(job.DelayedFor(TimeSpan.FromSeconds(5))); // the daemon is behind: again shortly, still in progress
                    return messages;
                }
                messages.AddRange(removals);
            }
            else if (mpids.Count > 0)
                session.Store(new DsrExport
                {
                    Id = request.Id, WorkspaceId = request.WorkspaceId, ExpiresAt = clock.GetUtcNow() + DownloadLifetime,
                    Zip = await ExportAsync(session, mpids, request.WorkspaceId, clock.GetUtcNow(), ct),
                });
            request.Status = DsrStatuses.Completed;
            request.CompletedAt = clock.GetUtcNow();
            request.Redact();
            session.Store(request);
            await session.SaveChangesAsync(ct);
            done = request;
        }
        messages.AddRange(DsrCallbacks.For(done));
        logger.LogInformation("Data subject request {Id} ({Type}) completed: {Profiles} profile(s) matched", done.Id, done.Type, done.ProfilesMatched);
        return messages;
    }

    /// <summary>The profiles the request names: its MPID, or every holder of its identities (§4.5: several may match).</summary>
    private static async Task<List<long>> MatchAsync(DataSubjectRequest request, NpgsqlDataSource db, string schema, WorkspaceDirectory directory, CancellationToken ct)
    {
        var identities = request.Identities.Select(kv => new IdentityKey(kv.Key, kv.Value)).ToList();
        var lookup = await IdentityIndexQueries.LookupAsync(db, schema, identities, request.Mpid is { } m ? [m] : [], directory.Identity, ct);
        if (request.Mpid is { } mpid) return lookup.KnownMpids.Contains(mpid) ? [mpid] : [];
        return identities.SelectMany(lookup.OwnersOf).Select(o => o.Mpid).Where(lookup.KnownMpids.Contains).Distinct().Order().ToList();
    }

    /// <summary>
    /// Erasure (§4.5, issue 7): every trace of the people, in one transaction under their stream locks — the streams
    /// (tombstoned: events and stream rows deleted, so no rebuild can bring them back), every read model and document
    /// about them, identity-index rows, dedupe keys, queued deliveries and dead letters holding their MPID or identities.
    /// Audience outputs get a removal for each membership they held.
    /// </summary>
    /// <returns>The removal messages to send, or null when the daemon has not applied the people's events yet (nothing was changed).</returns>
    public static async Task<IReadOnlyList<object>?> EraseAsync(IDocumentSession session, NpgsqlDataSource db, List<long> mpids, WorkspaceDirectory directory,
        TimeProvider clock, CancellationToken ct)
    {
        var messages = new List<object>();
        if (mpids.Count == 0) return messages;
        var schema = session.DocumentStore.Options.DatabaseSchemaName;
        var keys = await StreamLocks.LockAsync(session, mpids, ct);
        // The daemon must have applied these people's events first (see DeletionCeilingAsync); if not yet, try later.
        if (!await DaemonPastAsync(db, schema, keys, ct)) return null;

        var profiles = (await session.LoadManyAsync<Profile>(ct, keys)).ToList();
        var now = clock.GetUtcNow();
        var memberships = await session.Query<AudienceMember>().Where(m => mpids.Contains(m.Mpid)).ToListAsync(ct);
        if (memberships.Count > 0)
        {
            var audiences = (await session.LoadManyAsync<Audience>(ct, memberships.Select(m => m.AudienceId).Distinct().ToArray())).ToDictionary(a => a.Id);
            var connections = (await session.Query<AudienceConnection>().ToListAsync(ct)).ToLookup(c => c.AudienceId);
            foreach (var member in memberships.Where(m => audiences.ContainsKey(m.AudienceId)))
            {
                var audience = audiences[member.AudienceId];
                var id = Guid.CreateVersion7();
                var payload = AudienceMembershipsChangedHandler.Message(id, new MembershipChange(audience.Id, audience.Activation ?? Guid.Empty, member.Mpid, false, now, "erased"),
                    audience, directory.WorkspaceById(audience.WorkspaceIds[0])?.AccountId ?? 0, profiles.FirstOrDefault(p => p.Mpid == member.Mpid)).ToJsonString();
                foreach (var connection in connections[audience.Id])
                    messages.Add(new DeliverBatch(connection.OutputId, connection.Id, id, id, member.Mpid, $"audience:{audience.Id}", "production", payload));
            }
        }

        foreach (var key in keys)
        {
            session.Events.TombstoneStream(key);
            session.HardDelete<Profile>(key);
            session.HardDelete<PersonCalculations>(key);
            session.HardDelete<ScheduledReevaluation>(key);
        }
        session.HardDeleteWhere<InitialisedCalculation>(c => mpids.Contains(c.Mpid));
        session.HardDeleteWhere<AudienceMember>(m => mpids.Contains(m.Mpid));
        session.HardDeleteWhere<MembershipChangeRecord>(r => mpids.Contains(r.Mpid));
        session.HardDeleteWhere<AliasJob>(j => mpids.Contains(j.SourceMpid) || mpids.Contains(j.DestinationMpid));

        var ids = mpids.ToArray();
        session.QueueSqlCommand($"delete from {schema}.{IdentityIndexProjection.TableName} where mpid = any(?)", ids);
        session.QueueSqlCommand($"delete from {schema}.{IngestionStorage.MessagesTable} where mpid = any(?)", ids);
        session.QueueSqlCommand($"delete from {schema}.{IngestionStorage.RequestsTable} where mpid = any(?)", ids);
        // Anything queued or dead-lettered that still names them (deliveries, membership messages, projection failures).
        var needles = keys.Concat(profiles.SelectMany(p => p.Identities).Select(i => i.Value)).Distinct().ToArray();
        foreach (var table in new[] { "wolverine_incoming_envelopes", "wolverine_outgoing_envelopes", "wolverine_dead_letters" })
            session.QueueSqlCommand(
                $"delete from {schema}.{table} where exists (select 1 from unnest(?::text[]) n where position(convert_to(n, 'UTF8') in body) > 0)", (object)needles);
        session.QueueSqlCommand(
            $"delete from {schema}.mt_doc_deadletterevent where exists (select 1 from unnest(?::text[]) n where strpos(data::text, n) > 0)", (object)needles);
        return messages;
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
            var events = await session.Events.FetchStreamAsync(key, token: ct);
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
