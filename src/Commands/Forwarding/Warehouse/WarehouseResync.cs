using EventProfiles.Commands.Audiences;
using EventProfiles.Commands.Operations;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Forwarding;
using EventProfiles.Domain.Forwarding.Warehouse;
using EventProfiles.Domain.Operations;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using EventProfiles.Projections.CalculatedAttributes;
using Marten;

namespace EventProfiles.Commands.Forwarding.Warehouse;

/// <summary>
/// A full resync of one workspace to a warehouse output, as a durable job (progress in <c>/api/admin/jobs</c> and the
/// command line's <c>resync</c>): every person of the workspace, in profile id order, written as they are now — profile row,
/// and history rows for whatever differs from what the warehouse holds (dated the job's start) — through the
/// connection's filter and consent rules, one micro-batch per chunk. The cursor is the last profile id written, so a paused,
/// failed or restarted job goes on from there; writing a chunk again adds nothing. Events are not part of it: a data
/// replay to the same connection fills the <c>events</c> table (idempotently) for a time range.
/// </summary>
public sealed class WarehouseResync(IDocumentStore store, WarehouseOutputs warehouse, WorkspaceDirectory directory, EnrichmentDefinitionsCache definitions,
    TimeProvider clock) : IOperation
{
    public const int ChunkSize = 500;

    public string Kind => OperationKinds.WarehouseResync;

    public async Task<string?> RunAsync(OperationJob job, JobProgress progress, CancellationToken ct)
    {
        var workspaceId = job.WorkspaceId;
        // The last profile id done: people are walked in the primary key's order (the profile has no index on Mpid).
        var cursor = ProfileIdAfter(job.Cursor);
        // A cursor of the earlier MPID walk (a job paused or running through the upgrade) says nothing about id order:
        // the walk starts again from the first person (a person written again adds nothing to the warehouse).
        var (done, written) = cursor.Length > 0 ? (job.Done, job.Events) : (0L, 0L);
        long total;
        await using (var count = store.QuerySession()) total = await count.Query<Profile>().CountAsync(ct);
        await progress.CheckpointAsync(cursor.Length > 0 ? job.Cursor : null, done, written, total, ct);
        var at = job.StartedAt ?? clock.GetUtcNow();
        while (true)
        {
            await using var session = store.QuerySession();
            var output = await session.LoadAsync<Output>(job.Parameter("output"), ct) is { Kind: OutputKind.Warehouse } o ? o
                : throw new InvalidOperationException($"Warehouse output {job.Parameter("output")} no longer exists.");
            var inputs = directory.Inputs.Where(i => i.Workspace.Id == workspaceId).Select(i => i.Name).ToHashSet();
            var connection = (await session.Query<Connection>().Where(x => x.OutputId == output.Id).ToListAsync(ct))
                .Where(x => x.Active && inputs.Contains(x.Input)).OrderBy(x => x.Id).FirstOrDefault()
                ?? throw new InvalidOperationException($"No active connection of workspace {workspaceId} feeds output {output.Id}.");
            var people = await session.QueryAsync<Profile>($"where d.id > ? order by d.id limit {ChunkSize}", ct, cursor);
            if (people.Count == 0) break;
            var mine = people.Where(p => p.IsKnownIn(workspaceId)).ToList();
            if (mine.Count > 0)
            {
                var snapshot = await definitions.GetAsync(ct);
                var attributes = snapshot.Attributes.Where(a => a.WorkspaceId == workspaceId).ToList();
                var audiences = snapshot.Listed.Where(a => a.WorkspaceIds.Contains(workspaceId)).ToDictionary(a => a.Id);
                var mpids = mine.Select(p => p.Mpid).ToArray();
                var batch = session.CreateBatchQuery();
                var live = batch.LoadMany<PersonCalculations>().ById(mpids.Select(StreamKey.For).ToArray());
                var initialised = batch.Query<InitialisedCalculation>().Where(i => mpids.Contains(i.Mpid)).ToList();
                var members = batch.Query<AudienceMember>().Where(m => mpids.Contains(m.Mpid)).ToList();
                await batch.Execute(ct);
                var liveByMpid = (await live).ToDictionary(l => l.Mpid);
                var initialisedByMpid = (await initialised).ToLookup(i => i.Mpid);
                var membersByMpid = (await members).ToLookup(m => m.Mpid);
                var deliveries = new List<WarehouseDelivery>();
                foreach (var person in mine)
                {
                    var values = VisibleCalculatedValues.Combine(attributes, liveByMpid.GetValueOrDefault(person.Mpid), initialisedByMpid[person.Mpid], at);
                    var memberships = membersByMpid[person.Mpid].Where(m => audiences.ContainsKey(m.AudienceId)).Select(m => (m.AudienceId, audiences[m.AudienceId].Name));
                    if (WarehouseSync.Baseline(person, workspaceId, connection, values, memberships, at) is { } payload)
                        deliveries.Add(new WarehouseDelivery(job.Id, job.Id, person.Mpid, workspaceId, connection.Input, "production", payload.ToJsonString()));
                }
                await warehouse.WriteAsync(output, deliveries, ct);
                written += deliveries.Count;
            }
            cursor = people[^1].Id;
            done += people.Count;
            await progress.CheckpointAsync(IdCursor + cursor, done, written, total, ct);
        }
        return $"resynced {written} people of workspace {workspaceId} to warehouse output {job.Parameter("output")}";
    }

    /// <summary>Marks a cursor of the id walk: the earlier MPID walk's cursor was the bare MPID, which is also a valid id.</summary>
    public const string IdCursor = "id:";

    /// <summary>The profile id to go on after, or "" to start from the first person (no cursor, or one of the MPID walk).</summary>
    public static string ProfileIdAfter(string? cursor) =>
        cursor is not null && cursor.StartsWith(IdCursor, StringComparison.Ordinal) ? cursor[IdCursor.Length..] : "";
}
