using System.Security.Cryptography;
using EventProfiles.Commands.Operability;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using Marten;
using EventProfiles.Commands.Privacy;
using EventProfiles.Commands.Streams;
using Npgsql;

namespace EventProfiles.Commands.Identity;

public sealed record ModifyResult(bool Found, IReadOnlyList<(IdentityChange Change, string Error)> Errors);

/// <summary>
/// Runs IDSync calls and modify against the event store: read the identity index, decide (pure Domain), then in one
/// transaction lock the streams involved, load their profiles and append the identity events (a unique identity's
/// removal on the profile that loses it first, then the links on the profile that gets it). Two concurrent calls that
/// both create the same unique identity cannot both commit; the loser starts again and finds the winner's profile.
/// </summary>
public sealed class IdentityStore(IDocumentStore store, NpgsqlDataSource db, WorkspaceDirectory directory)
{
    private const int MaxAttempts = 5;
    private string Schema => store.Options.DatabaseSchemaName;

    public async Task<IdSyncOutcome?> RunAsync(IdSyncRequest request, IdentitySource source, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            // One rule set per attempt (the org's identity settings may change between two).
            var settings = directory.Identity;
            var mpids = request.PreviousMpid is { } previous ? new[] { previous } : [];
            var lookup = await IdentityIndexQueries.LookupAsync(db, Schema, request.Known, mpids, settings, ct);
            var outcome = IdSync.Decide(request, lookup, settings, RandomMpid);
            if (outcome is null || request.Call == IdSyncCall.Search) return outcome;
            if (!outcome.IsNewProfile && outcome.ToLink.Count == 0 && outcome.Ignored.Count == 0)
            {
                Metrics.Resolution("idsync", newProfile: false);
                return outcome; // nothing changes
            }

            // A new person's identities nobody held at lookup: another node (or a concurrent call, or an ingestion writer) may
            // be giving them to a person of its own right now; devices have no unique index to stop it (IdentityLocks).
            var contested = outcome.IsNewProfile ? IdentityClaims.ContestedByNewPerson(outcome.ToLink, lookup, settings) : [];
            try
            {
                await using var session = store.IdentitySession();
                if (contested.Count > 0 && await LostRaceAsync(session, contested, outcome.Mpid, ct))
                {
                    Metrics.Race("cross_node");
                    if (attempt < MaxAttempts) continue; // decide again on what is stored now: the winner's person
                    throw new InvalidOperationException("IDSync: the identities of a new person were taken by concurrent writers on every attempt.");
                }
                var losers = outcome.ToTake.Select(t => t.From).Distinct().ToList();
                var profiles = await LockAndLoadAsync(session, [outcome.Mpid, .. losers], ct);

                foreach (var loser in losers)
                {
                    if (!profiles.TryGetValue(loser, out var held)) continue;
                    var removals = outcome.ToTake
                        .Where(t => t.From == loser && held.HasIdentity(t.Identity.Type, t.Identity.Value))
                        .Select(t => (object)Taken(t.Identity, outcome.Mpid, source))
                        .ToArray();
                    if (removals.Length > 0) session.Events.Append(StreamKey.For(loser), removals);
                }

                var events = new List<object>();
                var profile = profiles.GetValueOrDefault(outcome.Mpid);
                var stored = profile;
                if (profile is null)
                {
                    var created = new ProfileCreated(outcome.Mpid, source.At);
                    events.Add(created);
                    profile = Profile.Create(created);
                }
                // Merge guards, as for batches (unique identities are settled by the take above, so they are not guarded here).
                var guarded = MergeGuards.Check(profile, outcome.ToLink.Where(i => !settings.IsUnique(i.Type)),
                    MergeGuards.OtherHolders(lookup, outcome.ToLink, outcome.Mpid, settings), settings, source.At);
                foreach (var identity in outcome.ToLink)
                {
                    if (guarded.Count > 0 && guarded.Any(h => h.Type == identity.Type && h.Value == identity.Value)) continue;
                    if (IdentityLinking.Link(profile, identity, settings, source) is not { } linked) continue;
                    events.Add(linked);
                    profile = profile.Evolve(linked);
                }
                if (guarded.Where(h => !profile.HeldMerges.Any(m => m.Type == h.Type && m.Value == h.Value)).ToList() is { Count: > 0 } newlyHeld)
                {
                    var heldEvent = new MergeHeld(source.WorkspaceId, Guid.Empty, source.Input, source.At, newlyHeld);
                    events.Add(heldEvent);
                    profile = profile.Evolve(heldEvent);
                    foreach (var h in newlyHeld) Metrics.MergeHeld(h.Reason);
                }
                foreach (var identity in outcome.Ignored)
                {
                    if (IdentityLinking.Ignored(profile, identity, settings, source) is not { } ignored) continue;
                    events.Add(ignored);
                    profile = profile.Evolve(ignored);
                }
                // IDSync is data from the person: an aged-out profile that changes here is live again. The return drops the
                // old devices; those the request names are the ones in use now, so they are linked again on the fresh profile.
                if (events.Count > 0 && stored is { IsLive: false })
                {
                    var back = Reactivation.Events(stored, source.At, source.Input);
                    var fresh = back.Aggregate(stored, (p, e) => p.Evolve(e));
                    var inUse = request.Known
                        .Where(k => (IdentityTypes.FromName(k.Type)?.IsDeviceIdentity ?? false) && stored.HasIdentity(k.Type, k.Value))
                        .Select(k => IdentityLinking.Link(fresh, k, settings, source)).OfType<object>();
                    events.InsertRange(0, [.. back, .. inUse]);
                }
                if (events.Count > 0) session.Events.Append(StreamKey.For(outcome.Mpid), events.ToArray());
                await session.SaveChangesAsync(ct);
                Metrics.Resolution("idsync", outcome.IsNewProfile);
                Metrics.Merge("identity_taken", outcome.ToTake.Count);
                return outcome;
            }
            catch (Exception ex) when (IsUniqueViolation(ex) && attempt < MaxAttempts)
            {
                // Someone else linked one of these unique identities first: decide again on what is stored now.
            }
        }
    }

    public async Task<ModifyResult> ModifyAsync(long mpid, IReadOnlyList<IdentityChange> changes, IdentitySource source, IdentityAuthority authority,
        CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            var settings = directory.Identity;
            var added = changes.Where(c => c.NewValue is not null).Select(c => new IdentityKey(c.IdentityType, c.NewValue!)).Distinct().ToList();
            var lookup = await IdentityIndexQueries.LookupAsync(db, Schema, added, [mpid], settings, ct);
            if (!lookup.KnownMpids.Contains(mpid)) return new ModifyResult(false, []);

            try
            {
                await using var session = store.IdentitySession();
                var holders = added.Where(i => settings.IsUnique(i.Type) && settings.IsMatchable(i)).SelectMany(lookup.OwnersOf).Select(o => o.Mpid).Where(m => m != mpid).Distinct();
                var profiles = await LockAndLoadAsync(session, [mpid, .. holders], ct);
                if (!profiles.TryGetValue(mpid, out var profile)) return new ModifyResult(false, []);

                var outcome = IdentityModification.Decide(profile, changes, lookup, settings, source, authority);
                if (outcome.Errors.Count > 0) return new ModifyResult(true, outcome.Errors);

                foreach (var group in outcome.Taken.GroupBy(t => t.Mpid))
                {
                    if (!profiles.TryGetValue(group.Key, out var loser)) continue;
                    var removals = group.Select(t => t.Removal).Where(r => loser.HasIdentity(r.IdentityType, r.Value)).Cast<object>().ToArray();
                    if (removals.Length > 0) session.Events.Append(StreamKey.For(group.Key), removals);
                }
                if (outcome.Events.Count > 0)
                    session.Events.Append(StreamKey.For(mpid), [.. Reactivation.Events(profile, source.At, source.Input), .. outcome.Events]);
                await session.SaveChangesAsync(ct);
                Metrics.Merge("identity_taken", outcome.Taken.Count);
                return new ModifyResult(true, []);
            }
            catch (Exception ex) when (IsUniqueViolation(ex) && attempt < MaxAttempts)
            {
            }
        }
    }

    /// <summary>
    /// Starts the session's transaction, takes the cross-node locks of the contested identities (sorted; before any stream
    /// lock, as the ingestion writer takes them) and reads their holders under them: another holder means we lost.
    /// </summary>
    private async Task<bool> LostRaceAsync(IDocumentSession session, IReadOnlyList<IdentityKey> contested, long mpid, CancellationToken ct)
    {
        await session.BeginTransactionAsync(ct);
        await using var batch = ((NpgsqlConnection)session.Connection!).CreateBatch();
        batch.BatchCommands.Add(IdentityLocks.Command(contested));
        batch.BatchCommands.Add(IdentityIndexQueries.Owners(Schema, contested));
        await using var reader = await batch.ExecuteReaderAsync(ct);
        await reader.NextResultAsync(ct);
        var owners = new Dictionary<IdentityKey, List<IdentityOwner>>();
        await IdentityIndexQueries.ReadOwnersAsync(reader, owners);
        return IdentityClaims.TakenByOthers(contested, mpid, owners);
    }

    /// <summary>Locks the streams for this transaction, loads their profiles, and takes aged-out ones out of the archive.</summary>
    private static Task<Dictionary<long, Profile>> LockAndLoadAsync(IDocumentSession session, IReadOnlyCollection<long> mpids, CancellationToken ct) =>
        ProfileLifetime.LockAndUnarchiveAsync(session, mpids, ct);

    private static UserIdentityRemoved Taken(IdentityKey identity, long by, IdentitySource source) =>
        new(source.WorkspaceId, identity.Type, identity.Value, source.At, source.Input, by, source.RequestId);

    private static bool IsUniqueViolation(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
            if (e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation }) return true;
        return false;
    }

    private static long RandomMpid() => BitConverter.ToInt64(RandomNumberGenerator.GetBytes(8));
}
