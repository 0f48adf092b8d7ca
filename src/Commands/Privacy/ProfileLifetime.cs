using EventProfiles.Commands.Streams;
using EventProfiles.Domain.Privacy;
using EventProfiles.Domain.Profiles;
using EventProfiles.Projections.Profiles;
using Marten;
using Npgsql;

namespace EventProfiles.Commands.Privacy;

/// <summary>
/// Profile lifetime (retention-and-privacy.md R2–R4, §3): a person with no data within the lifetime ages out — a
/// <see cref="ProfileAgedOut"/> on their stream (the projection takes them out of every audience, with removal messages;
/// the Profile API stops answering for them), then, once the daemon has applied it, their stream is archived with
/// Marten's archiving. New data un-archives the stream and reactivates them (<see cref="ProfileReactivated"/>).
/// Found through the index on the profile's last-stored time: only the people whose moment has come are read.
/// </summary>
public static class ProfileLifetime
{
    private const int PeoplePerRound = 100;

    /// <summary>Ages out the people past the lifetime, then archives those the daemon has caught up with. Returns (aged out, archived).</summary>
    public static async Task<(int AgedOut, int Archived)> RunAsync(IDocumentStore store, NpgsqlDataSource db, RetentionSettings settings, DateTimeOffset now, CancellationToken ct)
    {
        var cutoff = now - TimeSpan.FromDays(settings.ProfileLifetimeDays);
        var agedOut = 0;
        while (true)
        {
            await using var session = store.LightweightSession();
            // The lifetime counts from the last batch or the return, whichever is later (Profile.LifetimeFrom).
            var due = await session.Query<Profile>()
                .Where(p => p.LastStoredAt < cutoff && p.AgedOutAt == null && (p.ReactivatedAt == null || p.ReactivatedAt < cutoff))
                .OrderBy(p => p.LastStoredAt).Take(PeoplePerRound).ToListAsync(ct);
            if (due.Count == 0) break;
            await StreamLocks.LockAsync(session, due.Select(p => p.Mpid), ct);
            // Under the lock, with what is stored now: a batch may have arrived meanwhile.
            foreach (var profile in await session.LoadManyAsync<Profile>(ct, due.Select(p => p.Id).ToArray()))
                if (profile.IsLive && profile.LifetimeFrom < cutoff)
                {
                    session.Events.Append(profile.Id, new ProfileAgedOut(now, profile.LastStoredAt));
                    agedOut++;
                }
            await session.SaveChangesAsync(ct);
        }

        var archived = 0;
        var schema = store.Options.DatabaseSchemaName;
        while (true)
        {
            var keys = new List<string>();
            // Ordered by the partial index's key, so the planner walks only the aged-out people (ix_profile_aged_out);
            // it has no statistics for the predicate and would otherwise scan every profile.
            await using (var command = db.CreateCommand(
                $"select p.id from {schema}.{ProfileProjection.TableName} p join {schema}.mt_streams s on s.id = p.id where p.{ProfileProjection.AgedOutPredicate} and s.is_archived = false order by (p.data ->> 'Mpid')::bigint limit 1000"))
            {
                await using var reader = await command.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct)) keys.Add(reader.GetString(0));
            }
            if (keys.Count == 0) break;
            var ceiling = await ProcessDataSubjectRequestHandler.DeletionCeilingAsync(db, schema, ct);
            var before = archived;
            foreach (var chunk in keys.Chunk(PeoplePerRound))
            {
                await using var session = store.LightweightSession();
                var locked = await StreamLocks.LockAsync(session, chunk.Select(k => long.Parse(k, System.Globalization.CultureInfo.InvariantCulture)), ct);
                await using var last = ((NpgsqlConnection)session.Connection!).CreateCommand();
                last.CommandText = $"select stream_id, max(seq_id) from {schema}.mt_events where stream_id = any($1) group by 1";
                last.Parameters.Add(new NpgsqlParameter { Value = locked });
                var applied = new HashSet<string>();
                await using (var reader = await last.ExecuteReaderAsync(ct))
                    while (await reader.ReadAsync(ct))
                        if (reader.GetInt64(1) <= ceiling) applied.Add(reader.GetString(0));
                foreach (var profile in await session.LoadManyAsync<Profile>(ct, locked))
                    if (!profile.IsLive && applied.Contains(profile.Id))
                    {
                        session.Events.ArchiveStream(profile.Id);
                        archived++;
                    }
                await session.SaveChangesAsync(ct);
            }
            if (archived == before) break; // the daemon has not applied the rest yet: next round
        }
        return (agedOut, archived);
    }

    /// <summary>
    /// For writers other than ingestion and IDSync (alias, seeding): lock the streams, load the profiles, and take the
    /// aged-out ones out of the archive so events can be appended. Returns the profiles by MPID.
    /// </summary>
    public static async Task<Dictionary<long, Profile>> LockAndUnarchiveAsync(IDocumentSession session, IEnumerable<long> mpids, CancellationToken ct)
    {
        var keys = await StreamLocks.LockAsync(session, mpids, ct);
        var profiles = (await session.LoadManyAsync<Profile>(ct, keys)).ToDictionary(p => p.Mpid);
        var agedOut = profiles.Values.Where(p => !p.IsLive).Select(p => p.Id).ToArray();
        if (agedOut.Length > 0) await UnarchiveAsync((NpgsqlConnection)session.Connection!, session.DocumentStore.Options.DatabaseSchemaName, agedOut);
        return profiles;
    }

    /// <summary>Takes streams out of the archive (Marten has no API for it: its flags are cleared), inside the caller's transaction.</summary>
    public static async Task UnarchiveAsync(NpgsqlConnection connection, string schema, string[] keys)
    {
        await using var batch = connection.CreateBatch();
        var streams = new NpgsqlBatchCommand($"update {schema}.mt_streams set is_archived = false where id = any($1) and is_archived");
        streams.Parameters.Add(new NpgsqlParameter { Value = keys });
        var events = new NpgsqlBatchCommand($"update {schema}.mt_events set is_archived = false where stream_id = any($1) and is_archived");
        events.Parameters.Add(new NpgsqlParameter { Value = keys });
        batch.BatchCommands.Add(streams);
        batch.BatchCommands.Add(events);
        await batch.ExecuteNonQueryAsync();
    }
}
