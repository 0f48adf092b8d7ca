using Npgsql;

namespace EventProfiles.Commands.Ingestion;

/// <summary>
/// A read another feature needs for a writer group (the synchronous calculations' states, the forwarded batches'
/// calculated values), sent in the writer's load round trip (<see cref="IngestionStorage.LoadGroupAsync"/>) instead of
/// a round trip of its own: after the streams' locks, planned like the load's own look-ups (LookupPlans).
/// </summary>
public interface IGroupRead
{
    /// <summary>The statements, in the order their result sets are read.</summary>
    IEnumerable<NpgsqlBatchCommand> Commands();

    /// <summary>Reads this part's result sets; the reader is at the first of them and is left at the last.</summary>
    Task ReadAsync(NpgsqlDataReader reader);
}
