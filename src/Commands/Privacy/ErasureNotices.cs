using EventProfiles.Commands.Forwarding;
using EventProfiles.Domain.Forwarding;
using EventProfiles.Domain.Privacy;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using Marten;
using Wolverine.Marten;
using Wolverine.Runtime;

namespace EventProfiles.Commands.Privacy;

/// <summary>
/// Issue 16, item 5: an erasure tells the outputs. Every output connected to an input of the requesting workspace whose
/// connection forwards erasures (<see cref="Connection.ForwardErasures"/>, on by default) gets one
/// <see cref="ErasureNotice"/> per erased person, queued in the erasure's own transaction exactly like forwarded batches:
/// rows of the delivery table under one <see cref="DeliverBatches"/> envelope per output (transactional outbox), so it
/// is signed, retried and dead-lettered as deliveries are, and its row goes once it is delivered.
/// </summary>
public static class ErasureNotices
{
    public static async Task EnlistAsync(IDocumentSession session, IWolverineRuntime runtime, WorkspaceDirectory directory, DataSubjectRequest request,
        IReadOnlyDictionary<long, Profile> before, IReadOnlyList<long> erased, CancellationToken ct)
    {
        if (erased.Count == 0) return;
        var inputs = directory.Inputs.Where(i => i.Workspace.Id == request.WorkspaceId).Select(i => i.Name).ToHashSet();
        var connections = (await session.Query<Connection>().ToListAsync(ct)).Where(c => c.ForwardErasures && inputs.Contains(c.Input)).ToList();
        if (connections.Count == 0) return;
        var outputs = (await session.LoadManyAsync<Output>(ct, connections.Select(c => c.OutputId).Distinct().ToArray())).Select(o => o.Id).ToHashSet();

        // One notice per person and output, however many of the workspace's inputs feed that output.
        var rows = new List<(Guid GroupId, int Position, DeliverBatch Delivery, int WorkspaceId)>();
        var groups = new Dictionary<string, Guid>();
        foreach (var connection in connections.Where(c => outputs.Contains(c.OutputId)).DistinctBy(c => c.OutputId))
        {
            var groupId = groups[connection.OutputId] = Guid.CreateVersion7();
            foreach (var mpid in erased)
                rows.Add((groupId, rows.Count, new DeliverBatch(connection.OutputId, connection.Id, Guid.CreateVersion7(), request.Id, mpid,
                    ErasureNotice.InputOf(request.Id), "production", ErasureNotice.Build(request, before.GetValueOrDefault(mpid), mpid).ToJsonString()),
                    request.WorkspaceId));
        }
        if (rows.Count == 0) return;
        session.QueueDeliveries(rows);
        var outbox = new MartenOutbox(runtime, session);
        foreach (var (outputId, groupId) in groups) await outbox.SendAsync(new DeliverBatches(groupId, outputId));
        session.CountEnqueued(rows.GroupBy(r => r.Delivery.OutputId).ToDictionary(g => g.Key, g => g.Count()));
    }
}
