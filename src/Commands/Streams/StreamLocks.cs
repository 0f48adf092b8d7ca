using EventProfiles.Domain.Profiles;
using Marten;
using Npgsql;

namespace EventProfiles.Commands.Streams;

/// <summary>
/// Every writer of a person's stream (ingestion, IDSync, alias) locks the streams it is about to append to, in key
/// order, in its own transaction and before it loads their profiles. On one node ingestion already gives each stream one
/// writer; the lock is what keeps IDSync, alias jobs and other nodes from appending at the same time and losing an
/// inline profile update.
/// </summary>
public static class StreamLocks
{
    public static string[] KeysInLockOrder(IEnumerable<long> mpids) =>
        mpids.Distinct().Select(StreamKey.For).Order(StringComparer.Ordinal).ToArray();

    /// <summary>Locks the streams; returns each locked stream's (id, version, is_archived), which only its lock holder can change.</summary>
    public static NpgsqlBatchCommand Command(string schema, string[] keysInOrder)
    {
        var command = new NpgsqlBatchCommand($"select id, version, is_archived from {schema}.mt_streams where id = any($1) order by id for update");
        command.Parameters.Add(new NpgsqlParameter { Value = keysInOrder });
        return command;
    }

    /// <summary>Starts the session's transaction and locks the streams of these MPIDs in it.</summary>
    public static async Task<string[]> LockAsync(IDocumentSession session, IEnumerable<long> mpids, CancellationToken ct)
    {
        await session.BeginTransactionAsync(ct);
        var keys = KeysInLockOrder(mpids);
        await using var batch = ((NpgsqlConnection)session.Connection!).CreateBatch();
        batch.BatchCommands.Add(Command(session.DocumentStore.Options.DatabaseSchemaName, keys));
        await batch.ExecuteNonQueryAsync(ct);
        return keys;
    }
}
