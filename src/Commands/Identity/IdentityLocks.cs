using System.Text;
using EventProfiles.Domain.Identity;
using Npgsql;

namespace EventProfiles.Commands.Identity;

/// <summary>
/// Cross-node claims of identities nobody holds yet (issue 18 §2). The resolver's in-flight claims only protect one
/// process, and devices have no unique index: two nodes receiving the first batches of one new device at once would
/// each create a person. A writer that gives contested identities to a person the database does not show yet takes a
/// transaction-scoped advisory lock on each (sorted, before the stream locks, in its load's round trip) and reads their
/// holders again: whoever waited sees the winner's commit and resolves again.
/// Locks use PostgreSQL's two-int4 key space (a 64-bit hash split in two), which does not overlap the single-bigint key
/// space Marten, Wolverine and our jobs lock in.
/// </summary>
public static class IdentityLocks
{
    /// <summary>Locks the identities in hash order (every writer takes them in the same order, so two cannot deadlock).</summary>
    public static NpgsqlBatchCommand Command(IEnumerable<IdentityKey> identities)
    {
        var keys = identities.Distinct().Select(Hash).Distinct().Order().ToArray();
        var command = new NpgsqlBatchCommand("select count(pg_advisory_xact_lock(h, l)) from unnest($1::int[], $2::int[]) k(h, l)");
        command.Parameters.Add(new NpgsqlParameter { Value = keys.Select(k => (int)(k >> 32)).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = keys.Select(k => (int)k).ToArray() });
        return command;
    }

    /// <summary>FNV-1a over "type\0value": stable across processes and versions (string.GetHashCode is not).</summary>
    public static long Hash(IdentityKey identity)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes($"{identity.Type}\0{identity.Value}"))
        {
            hash ^= b;
            hash *= 1099511628211UL;
        }
        return unchecked((long)hash);
    }
}
