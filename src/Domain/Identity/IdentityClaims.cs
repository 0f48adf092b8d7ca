namespace EventProfiles.Domain.Identity;

/// <summary>One batch to resolve: its identities and the MPID it names, if any.</summary>
public readonly record struct ResolutionRequest(IReadOnlyList<IdentityKey> Identities, long? MpidHint);

/// <summary>A database lookup of the identity index in progress; taken before the query is sent.</summary>
public readonly record struct LookupTicket(long Epoch);

/// <summary>What one batch was resolved to, and what it claims until its transaction commits or fails.</summary>
public sealed class IdentityClaim
{
    internal IdentityClaim(IdentityResolutionResult resolution, IReadOnlyList<IdentityKey> identities, IReadOnlyList<IdentityKey> contested,
        bool joinsPersonInFlight)
    {
        Resolution = resolution;
        Identities = identities;
        Contested = contested;
        JoinsPersonInFlight = joinsPersonInFlight;
    }

    public IdentityResolutionResult Resolution { get; }
    /// <summary>The identities this batch links that the database did not show on its profile.</summary>
    public IReadOnlyList<IdentityKey> Identities { get; }
    /// <summary>
    /// The identities this batch gives a person the database does not show yet (new, or being created in flight) that the
    /// database gave nobody at lookup: another node may be giving them to a person of its own at this moment. The writer
    /// locks them across nodes and reads them again (<see cref="IdentityClaims.LostRace"/>); empty for every other batch,
    /// so a batch for a known person costs no extra statement. Placeholder values are never contested.
    /// </summary>
    public IReadOnlyList<IdentityKey> Contested { get; }
    /// <summary>
    /// Resolved to a person another batch in flight is creating (the database did not show it). If that creation does not
    /// commit, this batch must not create the person itself: its writer finds no stream and resolves it again
    /// (<see cref="IsOrphaned"/>).
    /// </summary>
    public bool JoinsPersonInFlight { get; }
    public long Mpid => Resolution.Mpid;
    public bool IsNewProfile => Resolution.IsNewProfile;
    /// <summary>0 while in flight; the epoch of its commit once released after commit.</summary>
    internal long CommittedAt { get; set; }
    internal bool Released { get; set; }
}

/// <summary>
/// What the resolver has promised but a database lookup may not show: identities claimed by batches in flight and the
/// MPIDs of profiles being created. This is what makes two concurrent batches for the same new customer end in one
/// profile on this node; the unique index catches any other writer.
/// A lookup is read before the claims are merged into it, so a claim committed and released in between would be in
/// neither: a committed claim is therefore kept until every lookup that started before its release is resolved.
/// <paramref name="defaultRules"/> are the identity rules of a <see cref="Resolve"/> that names none.
/// </summary>
public sealed class IdentityClaims(IdentitySettings defaultRules, Func<long> newMpid)
{
    private readonly Lock _lock = new();
    private long _epoch;
    /// <summary>Epochs of the lookups taken and not yet resolved (one entry per lookup).</summary>
    private readonly List<long> _lookups = [];
    private readonly HashSet<IdentityClaim> _inFlight = [];
    /// <summary>Committed claims a lookup in progress may have missed, in commit order.</summary>
    private readonly List<IdentityClaim> _committed = [];

    /// <summary>Claims in flight plus committed claims still kept for earlier lookups (for tests and diagnostics).</summary>
    public int Count
    {
        get { lock (_lock) return _inFlight.Count + _committed.Count; }
    }

    /// <summary>Call before sending the database lookup; resolve (or abandon) the ticket afterwards.</summary>
    public LookupTicket BeginLookup()
    {
        lock (_lock)
        {
            _lookups.Add(_epoch);
            return new LookupTicket(_epoch);
        }
    }

    /// <summary>The lookup failed and nothing will be resolved against it.</summary>
    public void Abandon(LookupTicket ticket)
    {
        lock (_lock) EndLookup(ticket);
    }

    /// <summary>Profiles that claims the lookup cannot have seen are linking these identities to.</summary>
    public IReadOnlyList<long> ClaimedOwnersOf(LookupTicket ticket, IEnumerable<IdentityKey> identities)
    {
        lock (_lock)
        {
            var wanted = identities.ToHashSet();
            return Unseen(ticket).Where(c => c.Identities.Any(wanted.Contains)).Select(c => c.Mpid).Distinct().ToList();
        }
    }

    /// <summary>
    /// Resolves a group against the database's answer plus every claim that answer cannot show, claiming what each
    /// batch takes; ends the ticket. <paramref name="rules"/>: the one rule set of the whole group (the org's may change
    /// between groups; claims made by earlier rules stay as they were made).
    /// </summary>
    public IReadOnlyList<IdentityClaim> Resolve(LookupTicket ticket, IReadOnlyList<ResolutionRequest> batches, IdentityLookup fromDatabase,
        IdentitySettings? rules = null)
    {
        var settings = rules ?? defaultRules;
        lock (_lock)
        {
            // One merged view per group (database + unseen claims), extended as the group's batches claim identities.
            var owners = fromDatabase.Owners.ToDictionary(x => x.Key, x => x.Value.ToList());
            var logins = fromDatabase.LoginIdentitiesOf.ToDictionary(x => x.Key, x => x.Value.ToList());
            var known = new HashSet<long>(fromDatabase.KnownMpids);
            foreach (var claim in Unseen(ticket))
            {
                foreach (var key in claim.Identities) AddOwner(key, claim.Mpid);
                if (claim.IsNewProfile) known.Add(claim.Mpid);
            }
            // Live views: what earlier batches of this group claim counts for the later ones.
            var lookup = new IdentityLookup(new ListMapView<IdentityKey, IdentityOwner>(owners), new ListMapView<long, IdentityKey>(logins), known);

            var result = new List<IdentityClaim>(batches.Count);
            try
            {
                foreach (var batch in batches)
                {
                    var resolution = IdentityResolution.Resolve(batch.Identities, batch.MpidHint is 0 ? null : batch.MpidHint, lookup, settings, newMpid);
                    var claimed = resolution.IdentitiesToLink.Where(i => !fromDatabase.OwnersOf(i).Any(o => o.Mpid == resolution.Mpid)).ToList();
                    foreach (var key in claimed) AddOwner(key, resolution.Mpid);
                    if (resolution.IsNewProfile) known.Add(resolution.Mpid);
                    var inDatabase = fromDatabase.KnownMpids.Contains(resolution.Mpid)
                        || batch.Identities.Any(i => fromDatabase.OwnersOf(i).Any(o => o.Mpid == resolution.Mpid));
                    IReadOnlyList<IdentityKey> contested = inDatabase
                        ? []
                        : claimed.Where(i => fromDatabase.OwnersOf(i).Count == 0 && settings.IsMatchable(i)).ToList();
                    var claim = new IdentityClaim(resolution, claimed, contested, !resolution.IsNewProfile && !inDatabase);
                    _inFlight.Add(claim);
                    result.Add(claim);
                }
            }
            catch
            {
                // Nobody will release claims the caller never received.
                foreach (var claim in result) _inFlight.Remove(claim);
                throw;
            }
            finally
            {
                EndLookup(ticket);
            }
            return result;

            // An identity linked in flight is the most recent link of all. A unique identity the database already
            // gives to a profile has no other holder: a claim for another profile is a race that claim will lose.
            void AddOwner(IdentityKey key, long mpid)
            {
                if (!owners.TryGetValue(key, out var list)) owners[key] = list = [];
                if (list.Any(o => o.Mpid == mpid)) return;
                if (settings.IsUnique(key.Type) && list.Count > 0) return;
                list.Add(new IdentityOwner(mpid, DateTimeOffset.MaxValue));
                if (!settings.IsLogin(key.Type)) return;
                if (!logins.TryGetValue(mpid, out var own)) logins[mpid] = own = [];
                own.Add(key);
            }
        }
    }

    /// <summary>
    /// The batch is done. Committed: its links are in the database, but lookups already under way may not show them,
    /// so the claim stays for them. Not committed: nothing was written, the claim goes at once.
    /// </summary>
    public void Release(IdentityClaim claim, bool committed)
    {
        lock (_lock)
        {
            if (claim.Released) return;
            claim.Released = true;
            _inFlight.Remove(claim);
            // The person this batch was creating may never exist (another node won its device): batches still in flight
            // that joined it must not draw a retry back to it, or the retry would create it without contesting anything.
            // They find out themselves at their commit (their contested identities have another holder by then).
            if (!committed && claim.IsNewProfile) _inFlight.RemoveWhere(c => c.Mpid == claim.Mpid);
            if (!committed || _lookups.Count == 0) return;
            claim.CommittedAt = ++_epoch;
            _committed.Add(claim);
        }
    }

    /// <summary>
    /// Read again under the cross-node locks: a contested identity that now has a holder other than the claim's person was
    /// given away by another node after our lookup, so the batch was resolved on a stale picture and must be resolved
    /// again, as after a unique-key conflict. (Our own rows are not written yet, nor are those of a person this node
    /// created earlier and committed: those name the claim's own MPID.)
    /// </summary>
    public static bool LostRace(IdentityClaim claim, IReadOnlyDictionary<IdentityKey, List<IdentityOwner>> ownersNow) =>
        TakenByOthers(claim.Contested, claim.Mpid, ownersNow);

    /// <summary>
    /// The identities a new person is about to be given that the lookup showed nobody holding: what IDSync (which has no
    /// in-flight claims) locks across nodes and reads again before it creates the person, as the ingestion writer does.
    /// </summary>
    public static IReadOnlyList<IdentityKey> ContestedByNewPerson(IEnumerable<IdentityKey> toLink, IdentityLookup lookup, IdentitySettings settings) =>
        toLink.Distinct().Where(i => lookup.OwnersOf(i).Count == 0 && settings.IsMatchable(i)).ToList();

    /// <summary>Read again under the cross-node locks: one of the contested identities now has a holder other than <paramref name="mpid"/>.</summary>
    public static bool TakenByOthers(IReadOnlyList<IdentityKey> contested, long mpid, IReadOnlyDictionary<IdentityKey, List<IdentityOwner>> ownersNow) =>
        contested.Any(i => ownersNow.TryGetValue(i, out var owners) && owners.Any(o => o.Mpid != mpid));

    /// <summary>
    /// The person this batch joined in flight does not exist at its commit (<paramref name="streamExists"/>, read under the
    /// stream locks) and no batch of the same group creates it: its creation failed, e.g. because another node won the
    /// person's identities, so the batch was resolved on a picture that no longer holds.
    /// </summary>
    public static bool IsOrphaned(IdentityClaim claim, bool streamExists, bool createdInGroup) =>
        claim.JoinsPersonInFlight && !streamExists && !createdInGroup;

    /// <summary>Claims in flight, and committed claims released after the lookup began (it may have missed them).</summary>
    private IEnumerable<IdentityClaim> Unseen(LookupTicket ticket) =>
        _inFlight.Concat(_committed.Where(c => c.CommittedAt > ticket.Epoch));

    private void EndLookup(LookupTicket ticket)
    {
        _lookups.Remove(ticket.Epoch);
        // A committed claim is needed only by lookups that began before its commit was released.
        var oldest = _lookups.Count == 0 ? long.MaxValue : _lookups.Min();
        _committed.RemoveAll(c => c.CommittedAt <= oldest);
    }
}
