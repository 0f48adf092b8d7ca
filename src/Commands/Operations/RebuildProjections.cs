using System.Globalization;
using EventProfiles.Commands.Streams;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Operations;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using EventProfiles.Projections.Identity;
using JasperFx.Events;
using Marten;
using Marten.Events.Archiving;
using Npgsql;

namespace EventProfiles.Commands.Operations;

public static class RebuildTargets
{
    /// <summary>The inline read models of a person: the profile and its identity-index rows.</summary>
    public const string Profiles = "profiles";
    /// <summary>The async read model: calculated attributes and real-time audience memberships.</summary>
    public const string Calculations = "calculations";
    public const string All = "all";

    public static readonly IReadOnlyList<string> Names = [Profiles, Calculations, All];
}

/// <summary>
/// Rebuilds read models from the events, person by person, in place — the chosen safety rule: <b>keep serving the old
/// read model and switch each person atomically</b>. A group of people is rebuilt in one transaction that holds their
/// stream locks (the same locks ingestion and IDSync take), reads all their events, folds them with the same Domain code
/// as the live projection and replaces their documents and identity-index rows. Readers see a person's old read model
/// until that commit, then the new one, never a half-built one; a batch for someone in the group waits for the commit
/// and then applies on top of the rebuilt state, so ingestion goes on and its events end up in the result. The cursor is
/// the last person rebuilt: a stopped rebuild resumes after it.
/// </summary>
public sealed class RebuildProjections(IDocumentStore store, NpgsqlDataSource db, WorkspaceDirectory directory, RebuildCalculations calculations) : IOperation
{
    public string Kind => OperationKinds.Rebuild;

    public async Task<string?> RunAsync(OperationJob job, JobProgress progress, CancellationToken ct)
    {
        var target = job.Parameter("projection") is { Length: > 0 } p ? p : RebuildTargets.All;
        long? person = StreamKey.TryParse(job.Parameter("mpid"), out var mpid) ? mpid : null;
        // "all": profiles first (the cursor names the part it is in), then the calculations from the rebuilt profiles.
        if (target is RebuildTargets.Profiles or RebuildTargets.All && !(job.Cursor ?? "").StartsWith(RebuildTargets.Calculations + ":", StringComparison.Ordinal))
        {
            await RebuildProfilesAsync(job, progress, person, ct);
            if (target == RebuildTargets.All) await progress.CheckpointAsync(RebuildTargets.Calculations + ":", 0, job.Events, null, ct);
        }
        if (target is RebuildTargets.Calculations or RebuildTargets.All)
            await calculations.RunAsync(job, progress, person, ct);
        return person is null ? $"rebuilt {target} for {job.Done} people ({job.Events} events)" : $"rebuilt {target} for MPID {person}";
    }

    private async Task RebuildProfilesAsync(OperationJob job, JobProgress progress, long? person, CancellationToken ct)
    {
        var schema = store.Options.DatabaseSchemaName;
        var cursor = job.Cursor ?? "";
        var (done, events) = (job.Done, job.Events);
        var total = person is null ? await PeopleInKeyOrder.CountAsync(db, schema, includeArchived: true, ct) : 1;
        await progress.CheckpointAsync(cursor, done, events, total, ct);
        while (true)
        {
            var keys = await PeopleInKeyOrder.NextGroupAsync(db, schema, person, cursor, includeArchived: true, ct);
            if (keys.Count == 0) break;
            events += await RebuildGroupAsync(keys, ct);
            done += keys.Count;
            cursor = keys[^1];
            await progress.CheckpointAsync(cursor, done, events, total, ct);
        }
    }

    /// <summary>Rebuilds one group's profiles and identity-index rows in one transaction under their stream locks; returns the events read.</summary>
    public async Task<int> RebuildGroupAsync(IReadOnlyList<string> keys, CancellationToken ct)
    {
        await using var session = store.LightweightSession();
        var mpids = keys.Select(k => long.Parse(k, CultureInfo.InvariantCulture)).ToArray();
        await StreamLocks.LockAsync(session, mpids, ct);
        var events = await session.Events.QueryAllRawEvents()
            .Where(e => e.MaybeArchived() && keys.Contains(e.StreamKey))
            .OrderBy(e => e.Sequence)
            .ToListAsync(ct);
        var profiles = Fold(events);

        var index = $"{store.Options.DatabaseSchemaName}.{IdentityIndexProjection.TableName}";
        session.QueueSqlCommand($"delete from {index} where mpid = any(?)", mpids);
        var rules = directory.Identity; // one rule set per chunk (the identity settings change live)
        foreach (var key in keys)
        {
            if (!profiles.TryGetValue(key, out var profile))
            {
                session.Delete<Profile>(key); // no stream (erased meanwhile) or no first event: nothing to serve
                continue;
            }
            // An archived (aged-out) person keeps their document, folded with AgedOutAt (not live), as ageing out left it
            // (Marten's archiving does not delete it): ingestion and IDSync reactivate a returning person from it, the
            // User Activity View shows them aged out. Their identity rows stay too, so a returning person is found.
            session.Store(profile);
            // The identity-index projection's rule: a value the org now ignores is not indexed, also for a person who
            // held it before it was ignored (replay and rebuild write the same rows).
            foreach (var identity in profile.Identities.Where(i => rules.IsMatchable(i.Type, i.Value)))
                session.QueueSqlCommand(
                    $"insert into {index} (identity_type, identity_value, mpid, is_unique, workspace_id, linked_at) values (?, ?, ?, ?, ?, ?)",
                    identity.Type, identity.Value, profile.Mpid, rules.IsUnique(identity.Type), identity.WorkspaceId, identity.AddedAt);
        }
        await session.SaveChangesAsync(ct);
        return events.Count;
    }

    /// <summary>The same fold as the inline projection (<see cref="Projections.Profiles.ProfileProjection"/> delegates to it).</summary>
    private static Dictionary<string, Profile> Fold(IReadOnlyList<IEvent> events)
    {
        var profiles = new Dictionary<string, Profile>(StringComparer.Ordinal);
        // Events a split or merge moved away do not count (issue 21 §1): only streams with such a move pay for the filter.
        var hidden = events.Any(e => e.Data is IMovesEvents)
            ? events.GroupBy(e => e.StreamKey!).ToDictionary(g => g.Key, g => MovedEvents.Hidden(g.Select(e => e.Data)))
            : null;
        foreach (var e in events)
        {
            if (hidden is not null && hidden.TryGetValue(e.StreamKey!, out var moved) && moved.Contains(e.Version)) continue;
            if (e.Data is ProfileCreated created) profiles[e.StreamKey!] = Profile.Create(created);
            else if (profiles.TryGetValue(e.StreamKey!, out var profile)) profiles[e.StreamKey!] = profile.Evolve(e.Data);
        }
        return profiles;
    }
}

/// <summary>
/// The people (stream keys) a rebuild walks through, in key order, a group at a time after a cursor; or the one person
/// asked for. Both rebuilds share it, so their cursors mean the same thing.
/// </summary>
public static class PeopleInKeyOrder
{
    public const int GroupSize = 500;

    /// <summary>A person's stream is keyed by their MPID; Marten keeps a stream of its own (mt_tombstone) for failed appends.</summary>
    private const string PeopleOnly = "id ~ '^-?[0-9]+$'";

    public static async Task<long> CountAsync(NpgsqlDataSource db, string schema, bool includeArchived, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"select count(*) from {schema}.mt_streams where {PeopleOnly}{(includeArchived ? "" : " and not is_archived")}");
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>The next group after the cursor; for one person, that person first and nothing after.</summary>
    public static async Task<List<string>> NextGroupAsync(NpgsqlDataSource db, string schema, long? person, string after, bool includeArchived, CancellationToken ct)
    {
        if (person is { } one) return after.Length == 0 ? [StreamKey.For(one)] : [];
        await using var command = db.CreateCommand(
            $"select id from {schema}.mt_streams where id > $1 and {PeopleOnly}{(includeArchived ? "" : " and not is_archived")} order by id limit {GroupSize}");
        command.Parameters.AddWithValue(after);
        var keys = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) keys.Add(reader.GetString(0));
        return keys;
    }
}
