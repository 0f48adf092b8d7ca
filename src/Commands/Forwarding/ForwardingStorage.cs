using EventProfiles.Domain.Forwarding;
using Marten;
using Npgsql;
using Weasel.Postgresql.Tables;

namespace EventProfiles.Commands.Forwarding;

public static class ForwardingStorage
{
    public const string CountersTable = "ep_output_counters";

    /// <summary>Outputs and connections are documents; delivery counters a small table updated in the transactions that change them.</summary>
    public static StoreOptions AddForwarding(this StoreOptions opts)
    {
        opts.Schema.For<Output>().DocumentAlias("output");
        opts.Schema.For<Connection>().DocumentAlias("connection").Index(c => c.Input);
        var counters = new Table($"{opts.DatabaseSchemaName}.{CountersTable}");
        counters.AddColumn<string>("output_id").AsPrimaryKey();
        counters.AddColumn<long>("enqueued").NotNull().DefaultValueByExpression("0");
        counters.AddColumn<long>("delivered").NotNull().DefaultValueByExpression("0");
        opts.Storage.ExtendedSchemaObjects.Add(counters);
        return opts;
    }

    /// <summary>The upsert that counts deliveries queued for outputs, as part of the ingestion transaction.</summary>
    public static void CountEnqueued(this IDocumentSession session, IReadOnlyDictionary<string, int> perOutput)
    {
        if (perOutput.Count == 0) return;
        session.QueueSqlCommand(
            $"insert into {session.DocumentStore.Options.DatabaseSchemaName}.{CountersTable} as c (output_id, enqueued) " +
            "select * from unnest(?::text[], ?::bigint[]) on conflict (output_id) do update set enqueued = c.enqueued + excluded.enqueued",
            perOutput.Keys.ToArray(), perOutput.Values.Select(v => (long)v).ToArray());
    }
}

/// <summary>Delivered and enqueued counts per output.</summary>
public sealed class OutputCounters(NpgsqlDataSource db, IDocumentStore store)
{
    private string Table => $"{store.Options.DatabaseSchemaName}.{ForwardingStorage.CountersTable}";

    public async Task DeliveredAsync(string outputId, CancellationToken ct)
    {
        await using var command = db.CreateCommand(
            $"insert into {Table} as c (output_id, delivered) values ($1, 1) on conflict (output_id) do update set delivered = c.delivered + 1");
        command.Parameters.Add(new NpgsqlParameter { Value = outputId });
        await command.ExecuteNonQueryAsync(ct);
    }

    public async Task<(long Enqueued, long Delivered)> ReadAsync(string outputId, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"select enqueued, delivered from {Table} where output_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = outputId });
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? (reader.GetInt64(0), reader.GetInt64(1)) : (0, 0);
    }
}
