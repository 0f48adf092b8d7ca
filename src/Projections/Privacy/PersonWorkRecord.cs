using Marten;

namespace EventProfiles.Projections.Privacy;

/// <summary>
/// Queued work that holds a person's data is recorded with the person and the workspace it belongs to, in the transaction
/// that queues it, under the work's own id (also its Wolverine envelope id): the key an erasure deletes it by, instead of
/// searching message bodies. Here, because the projection queues work too; erasure itself is in Commands (PersonWork).
/// </summary>
public static class PersonWorkRecord
{
    public const string Table = "ep_person_work";

    /// <summary>The workspace of work that belongs to the person rather than to one workspace: only a whole-person erasure deletes it.</summary>
    public const int PersonWide = 0;

    public sealed record Row(Guid WorkId, long Mpid, int WorkspaceId);

    public static void RecordWork(this IDocumentOperations session, IEnumerable<Row> rows)
    {
        var list = rows.Distinct().ToList();
        if (list.Count == 0) return;
        session.QueueSqlCommand(
            $"insert into {session.DocumentStore.Options.DatabaseSchemaName}.{Table} (work_id, mpid, workspace_id) " +
            "select * from unnest(?::uuid[], ?::bigint[], ?::int[]) on conflict do nothing",
            list.Select(r => r.WorkId).ToArray(), list.Select(r => r.Mpid).ToArray(), list.Select(r => r.WorkspaceId).ToArray());
    }
}
