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
}
