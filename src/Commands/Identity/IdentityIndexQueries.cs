using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;
using EventProfiles.Projections.Identity;
using Npgsql;

namespace EventProfiles.Commands.Identity;

/// <summary>The reads of the identity index that ingestion and IDSync share: who holds these identities, which of these profiles exist, what login identities they hold.</summary>
public static class IdentityIndexQueries
{
    public static NpgsqlBatchCommand Owners(string schema, IReadOnlyCollection<IdentityKey> identities) => Command(
        $"select i.identity_type, i.identity_value, i.mpid, i.linked_at from {schema}.{IdentityIndexProjection.TableName} i " +
        "join unnest($1::text[], $2::text[]) q(t, v) on i.identity_type = q.t and i.identity_value = q.v",
        [identities.Select(i => i.Type).ToArray(), identities.Select(i => i.Value).ToArray()]);

    public static async Task ReadOwnersAsync(NpgsqlDataReader reader, Dictionary<IdentityKey, List<IdentityOwner>> owners)
    {
        while (await reader.ReadAsync())
        {
            var key = new IdentityKey(reader.GetString(0), reader.GetString(1));
            if (!owners.TryGetValue(key, out var list)) owners[key] = list = [];
            list.Add(new IdentityOwner(reader.GetInt64(2), reader.GetFieldValue<DateTimeOffset>(3)));
        }
    }

    public static NpgsqlBatchCommand ExistingStreams(string schema, IEnumerable<long> mpids) =>
        Command($"select id from {schema}.mt_streams where id = any($1)", [mpids.Select(StreamKey.For).ToArray()]);

    public static async Task ReadExistingStreamsAsync(NpgsqlDataReader reader, HashSet<long> known)
    {
        while (await reader.ReadAsync()) if (StreamKey.TryParse(reader.GetString(0), out var mpid)) known.Add(mpid);
    }

    public static NpgsqlBatchCommand Logins(string schema, IEnumerable<long> mpids, IEnumerable<string> loginTypes) => Command(
        $"select identity_type, identity_value, mpid from {schema}.{IdentityIndexProjection.TableName} where mpid = any($1) and identity_type = any($2)",
        [mpids.ToArray(), loginTypes.ToArray()]);

    public static async Task ReadLoginsAsync(NpgsqlDataReader reader, Dictionary<long, List<IdentityKey>> logins)
    {
        while (await reader.ReadAsync())
        {
            var mpid = reader.GetInt64(2);
            if (!logins.TryGetValue(mpid, out var list)) logins[mpid] = list = [];
            list.Add(new IdentityKey(reader.GetString(0), reader.GetString(1)));
        }
    }

    /// <summary>
    /// The whole picture IDSync decides on, in two round trips: owners of the identities, then which of the owners and
    /// the given MPIDs exist and which login identities they hold. Placeholder values match nobody.
    /// </summary>
    public static async Task<IdentityLookup> LookupAsync(NpgsqlDataSource db, string schema, IReadOnlyCollection<IdentityKey> identities,
        IReadOnlyCollection<long> mpids, IdentitySettings settings, CancellationToken ct)
    {
        // A placeholder (all-zero advertising id, "unknown") names nobody, also in rows indexed before it was ignored:
        // IDSync, modify, data-subject requests and seeding must not find everyone who ever sent it.
        identities = identities.Where(settings.IsMatchable).ToList();
        var owners = new Dictionary<IdentityKey, List<IdentityOwner>>();
        await using (var batch = db.CreateBatch())
        {
            batch.BatchCommands.Add(Owners(schema, identities));
            await using var reader = await batch.ExecuteReaderAsync(ct);
            await ReadOwnersAsync(reader, owners);
        }

        var profiles = owners.Values.SelectMany(o => o).Select(o => o.Mpid).Concat(mpids).Distinct().ToList();
        var known = new HashSet<long>();
        var logins = new Dictionary<long, List<IdentityKey>>();
        await using (var batch = db.CreateBatch())
        {
            batch.BatchCommands.Add(ExistingStreams(schema, profiles));
            batch.BatchCommands.Add(Logins(schema, profiles, settings.LoginTypes));
            await using var reader = await batch.ExecuteReaderAsync(ct);
            await ReadExistingStreamsAsync(reader, known);
            await reader.NextResultAsync(ct);
            await ReadLoginsAsync(reader, logins);
        }
        return new IdentityLookup(new ListMapView<IdentityKey, IdentityOwner>(owners), new ListMapView<long, IdentityKey>(logins), known);
    }

    // Not `params object[]`: a single string[] argument would be taken as the parameter list itself.
    private static NpgsqlBatchCommand Command(string sql, IReadOnlyList<object> parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var p in parameters) command.Parameters.Add(new NpgsqlParameter { Value = p });
        return command;
    }
}
