using Marten;
using Weasel.Postgresql.Tables;

namespace EventProfiles.Commands.Ingestion;

/// <summary>
/// Write-side bookkeeping tables of ingestion, created and migrated by Marten with the rest of the schema.
/// They are dedupe keys, not read models: written by the ingestion writer in the same transaction as the append.
/// </summary>
public static class IngestionStorage
{
    /// <summary>(input, source_request_id) of accepted batches: a repeated request id is answered 202 and not appended again.</summary>
    public const string RequestsTable = "ep_ingest_requests";

    /// <summary>(mpid, source_message_id) of stored events: a repeated message id in the same stream is stored once.</summary>
    public const string MessagesTable = "ep_event_message_ids";

    public static StoreOptions AddIngestionTables(this StoreOptions opts)
    {
        var schema = opts.DatabaseSchemaName;

        var requests = new Table($"{schema}.{RequestsTable}");
        requests.AddColumn<string>("input").AsPrimaryKey();
        requests.AddColumn<string>("source_request_id").AsPrimaryKey();
        requests.AddColumn<long>("mpid").NotNull();
        requests.AddColumn<DateTimeOffset>("received_at").NotNull();
        opts.Storage.ExtendedSchemaObjects.Add(requests);

        var messages = new Table($"{schema}.{MessagesTable}");
        messages.AddColumn<long>("mpid").AsPrimaryKey();
        messages.AddColumn<string>("source_message_id").AsPrimaryKey();
        opts.Storage.ExtendedSchemaObjects.Add(messages);
        return opts;
    }
}
