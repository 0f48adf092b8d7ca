using EventProfiles.Domain.Forwarding;
using EventProfiles.Domain.Forwarding.Warehouse;
using Marten;
using Npgsql;
using Wolverine;

namespace EventProfiles.Commands.Forwarding.Warehouse;

/// <summary>
/// The flush loop the micro-batch outputs (warehouse, files) share: under the output's flush row (skip locked: one node
/// at a time), flush when due, else schedule the envelope for when it is due (unless one is scheduled already); take
/// up to <paramref name="flushRows"/> waiting deliveries, write them, delete their rows in the same transaction, and
/// go on while full batches come back.
/// </summary>
public static class MicroBatchFlush
{
    public static async Task<object?> RunAsync(NpgsqlDataSource db, string schema, DeliverBatches group, Output output, IDocumentSession session,
        bool wasScheduled, TimeSpan interval, int flushRows, Func<IReadOnlyList<WarehouseDelivery>, Task> write,
        Action<IReadOnlyList<WarehouseDelivery>> delivered, CancellationToken ct)
    {
        var first = true;
        while (true)
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            await using var tx = await connection.BeginTransactionAsync(ct);
            var due = await WarehouseStorage.TryLockFlushAsync(connection, schema, output.Id, interval, ct);
            if (due is null)
            {
                // Another handler holds the row. A flush scheduled for later takes this group's rows: nothing to add (each
                // group used to schedule an envelope of its own here, and under load those envelopes collided again).
                // Else it may be a flush that began before these rows were committed: this envelope looks again later.
                if (await WarehouseStorage.FlushScheduledLaterAsync(connection, schema, output.Id, interval, ct)) return null;
                return group.DelayedFor(interval);
            }
            if (first && due.Value.Wait > TimeSpan.Zero)
            {
                if (due.Value.Scheduled && !wasScheduled) return null;
                session.MarkFlushScheduled(output.Id, interval);
                return group.DelayedFor(due.Value.Wait);
            }
            first = false;
            var workIds = new List<Guid>();
            var claimed = await WarehouseStorage.ClaimAsync(connection, schema, output.Id, flushRows, workIds, ct);
            if (claimed.Count == 0) return null;
            await write(claimed);
            await WarehouseStorage.FinishFlushAsync(connection, schema, output.Id, workIds.ToArray(), ct);
            await tx.CommitAsync(ct);
            delivered(claimed);
            if (claimed.Count < flushRows) return null;
        }
    }
}
