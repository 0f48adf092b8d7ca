using Marten;
using Npgsql;
using Weasel.Postgresql.Tables;

namespace EventProfiles.Commands.Security;

/// <summary>
/// Failed sign-ins per (credential path, name, client address), in PostgreSQL so every node of an install counts the same
/// guesses. A row is one fixed window: it starts at the first failure and is replaced by the next failure after it ended.
/// </summary>
public static class SecurityStorage
{
    public const string FailuresTable = "ep_credential_failures";

    public static StoreOptions AddSecurityTables(this StoreOptions opts)
    {
        var failures = new Table($"{opts.DatabaseSchemaName}.{FailuresTable}");
        failures.AddColumn<string>("scope").AsPrimaryKey();
        failures.AddColumn<string>("name").AsPrimaryKey();
        failures.AddColumn<string>("address").AsPrimaryKey();
        failures.AddColumn<DateTimeOffset>("window_start").NotNull();
        failures.AddColumn<int>("failures").NotNull();
        failures.Indexes.Add(new IndexDefinition($"{FailuresTable}_window_start") { Columns = ["window_start"] }); // expiry
        opts.Storage.ExtendedSchemaObjects.Add(failures);
        return opts;
    }
}

/// <summary>Our SQL against <see cref="SecurityStorage.FailuresTable"/>: one statement per question, atomic under concurrency.</summary>
public sealed class CredentialFailures(NpgsqlDataSource db, IDocumentStore store)
{
    private string Table => $"{store.Options.DatabaseSchemaName}.{SecurityStorage.FailuresTable}";

    /// <summary>Counts one failure (atomically: concurrent guesses each count) and returns the window it fell in.</summary>
    public async Task<(int Failures, DateTimeOffset WindowStart)> AddAsync(string scope, string name, string address, DateTimeOffset now, TimeSpan window, CancellationToken ct)
    {
        // A window that has ended starts again at this failure; SET reads the row's old values, so both columns agree.
        await using var command = db.CreateCommand(
            $"insert into {Table} as f (scope, name, address, window_start, failures) values ($1, $2, $3, $4, 1) " +
            "on conflict (scope, name, address) do update set " +
            "failures = case when f.window_start <= $4 - $5 then 1 else f.failures + 1 end, " +
            "window_start = case when f.window_start <= $4 - $5 then $4 else f.window_start end " +
            "returning failures, window_start");
        Add(command, scope, name, address, now, window);
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return (reader.GetInt32(0), reader.GetFieldValue<DateTimeOffset>(1));
    }

    /// <summary>The failures of the window still running at <paramref name="now"/> (none: 0).</summary>
    public async Task<(int Failures, DateTimeOffset WindowStart)> ReadAsync(string scope, string name, string address, DateTimeOffset now, TimeSpan window, CancellationToken ct)
    {
        await using var command = db.CreateCommand(
            $"select failures, window_start from {Table} where scope = $1 and name = $2 and address = $3 and window_start > $4 - $5");
        Add(command, scope, name, address, now, window);
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? (reader.GetInt32(0), reader.GetFieldValue<DateTimeOffset>(1)) : (0, now);
    }

    /// <summary>Forgets windows that have ended (their failures no longer count).</summary>
    public async Task ExpireAsync(DateTimeOffset now, TimeSpan window, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"delete from {Table} where window_start <= $1");
        command.Parameters.Add(new NpgsqlParameter { Value = now - window });
        await command.ExecuteNonQueryAsync(ct);
    }

    private static void Add(NpgsqlCommand command, string scope, string name, string address, DateTimeOffset now, TimeSpan window)
    {
        command.Parameters.Add(new NpgsqlParameter { Value = scope });
        command.Parameters.Add(new NpgsqlParameter { Value = name });
        command.Parameters.Add(new NpgsqlParameter { Value = address });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        command.Parameters.Add(new NpgsqlParameter { Value = window });
    }
}
