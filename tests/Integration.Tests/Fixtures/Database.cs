using Npgsql;

namespace EventProfiles.Integration.Tests.Fixtures;

/// <summary>Row counts of everything ingestion writes, to prove a rejected request changed nothing.</summary>
public sealed record StoreCounts(long Events, long Streams, long Profiles, long Identities, long Requests, long Messages);

public static class Database
{
    public static async Task<StoreCounts> Counts(this AppFixture app)
    {
        var s = app.Schema;
        await using var command = app.Db.CreateCommand(
            $"select (select count(*) from {s}.mt_events), (select count(*) from {s}.mt_streams), (select count(*) from {s}.mt_doc_profile), " +
            $"(select count(*) from {s}.ep_identity_index), (select count(*) from {s}.ep_ingest_requests), (select count(*) from {s}.ep_event_message_ids)");
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return new StoreCounts(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5));
    }

    /// <summary>How many events of a type a person's stream holds.</summary>
    public static async Task<long> EventCount(this AppFixture app, long mpid, string eventType)
    {
        await using var command = app.Db.CreateCommand($"select count(*) from {app.Schema}.mt_events where stream_id = $1 and type = $2");
        command.Parameters.Add(new NpgsqlParameter { Value = mpid.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        command.Parameters.Add(new NpgsqlParameter { Value = eventType });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Every row of every table of our schema that contains one of the needles, as "table: row".</summary>
    public static async Task<List<string>> Traces(this AppFixture app, params string[] needles)
    {
        var found = new List<string>();
        var tables = new List<(string Table, List<string> Bytea)>();
        await using (var command = app.Db.CreateCommand(
            "select table_name, coalesce(array_agg(column_name::text) filter (where data_type = 'bytea'), '{}') from information_schema.columns where table_schema = $1 group by 1"))
        {
            command.Parameters.AddWithValue(app.Schema);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync()) tables.Add((reader.GetString(0), reader.GetFieldValue<string[]>(1).ToList()));
        }
        foreach (var (table, bytea) in tables)
            foreach (var needle in needles)
            {
                var bytes = string.Concat(bytea.Select(c => $" or position(convert_to($1, 'UTF8') in t.\"{c}\") > 0"));
                await using var command = app.Db.CreateCommand($"select t::text from {app.Schema}.\"{table}\" t where strpos(t::text, $1) > 0{bytes} limit 3");
                command.Parameters.AddWithValue(needle);
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync()) found.Add($"{table} ({needle}): {reader.GetString(0)[..Math.Min(200, reader.GetString(0).Length)]}");
            }
        return found;
    }
}
