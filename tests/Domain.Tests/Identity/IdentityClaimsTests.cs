using EventProfiles.Domain.Identity;

namespace EventProfiles.Domain.Tests.Identity;

/// <summary>
/// The resolver's promises between a database lookup and the commit: a lookup is read before the claims are merged
/// into it, so what commits in between must still be seen (issue 15: a second new profile for the same customer).
/// </summary>
public class IdentityClaimsTests
{
    private static readonly IdentityKey Customer1 = new("customer_id", "c-1");
    private static readonly IdentityKey Email = new("email", "a@example.org");
    private static readonly IdentityKey Idfv = new("ios_idfv", "IDFV-1");
    private static readonly IdentityLookup NothingStored = IdentityLookup.Empty;

    /// <summary>New MPIDs 1001, 1002, … in order, so tests can tell a second new profile from the first.</summary>
    private static IdentityClaims NewClaims()
    {
        var next = 1000L;
        return new IdentityClaims(IdentitySettings.Default, () => ++next);
    }

    private static IdentityClaim ResolveOne(IdentityClaims claims, IdentityLookup fromDatabase, IReadOnlyList<IdentityKey> identities, long? hint = null) =>
        claims.Resolve(claims.BeginLookup(), [new ResolutionRequest(identities, hint)], fromDatabase).Single();

    [Fact]
    public void a_customer_in_flight_is_resolved_to_the_profile_being_created()
    {
        var claims = NewClaims();
        var first = ResolveOne(claims, NothingStored, [Customer1]);
        var second = ResolveOne(claims, NothingStored, [Customer1, Email]);

        first.IsNewProfile.ShouldBeTrue();
        second.Mpid.ShouldBe(first.Mpid);
        second.IsNewProfile.ShouldBeFalse();
        second.Identities.ShouldBe([Customer1, Email]); // the database shows neither on that profile yet
    }

    [Fact]
    public void a_group_resolved_by_changed_rules_uses_them_and_claims_made_before_stay_as_they_were_made()
    {
        var claims = NewClaims();
        var first = ResolveOne(claims, NothingStored, [Customer1, Idfv]);
        // The org adds the device id to its placeholders: the next group is resolved by the new rules.
        var changed = IdentitySettings.Default with { IgnoredValues = IdentitySettings.IgnoredSet([.. IdentitySettings.DefaultIgnoredValues, Idfv.Value]) };
        var second = claims.Resolve(claims.BeginLookup(), [new ResolutionRequest([Idfv], null)], NothingStored, changed).Single();

        second.Mpid.ShouldNotBe(first.Mpid); // the placeholder joins nobody, not even the person being created in flight
        second.IsNewProfile.ShouldBeTrue();
        second.Identities.ShouldBeEmpty();
        first.Identities.ShouldBe([Customer1, Idfv]);
    }

    [Fact]
    public void batches_of_one_group_see_each_others_claims()
    {
        var claims = NewClaims();
        var group = claims.Resolve(claims.BeginLookup(),
            [new ResolutionRequest([Customer1], null), new ResolutionRequest([Customer1, Idfv], null)], NothingStored);

        group[1].Mpid.ShouldBe(group[0].Mpid);
    }

    [Fact]
    public void a_claim_committed_between_a_lookup_and_its_resolution_is_still_seen()
    {
        // The race: group B's lookup is read, then group A commits customer c-1 and releases its claim, then B resolves
        // with a lookup that does not show c-1. Before the fix c-1 was in neither, and B created a second profile.
        var claims = NewClaims();
        var lookupOfB = claims.BeginLookup();
        var a = ResolveOne(claims, NothingStored, [Customer1]);
        claims.Release(a, committed: true);

        var b = claims.Resolve(lookupOfB, [new ResolutionRequest([Customer1], null)], NothingStored).Single();

        b.Mpid.ShouldBe(a.Mpid);
        b.IsNewProfile.ShouldBeFalse();
    }

    [Fact]
    public void a_profile_created_between_a_lookup_and_its_resolution_is_known_by_its_mpid()
    {
        var claims = NewClaims();
        var lookupOfB = claims.BeginLookup();
        var a = ResolveOne(claims, NothingStored, [Idfv]);
        claims.Release(a, committed: true);

        var b = claims.Resolve(lookupOfB, [new ResolutionRequest([], a.Mpid)], NothingStored).Single();

        b.Mpid.ShouldBe(a.Mpid);
        b.IsNewProfile.ShouldBeFalse();
    }

    [Fact]
    public void a_claim_that_did_not_commit_is_forgotten_at_once()
    {
        var claims = NewClaims();
        var lookupOfB = claims.BeginLookup();
        var a = ResolveOne(claims, NothingStored, [Customer1]);
        claims.Release(a, committed: false); // its transaction failed: nothing of it is in the database

        var b = claims.Resolve(lookupOfB, [new ResolutionRequest([Customer1], null)], NothingStored).Single();

        b.IsNewProfile.ShouldBeTrue();
        b.Mpid.ShouldNotBe(a.Mpid);
    }

    [Fact]
    public void a_committed_claim_is_kept_only_until_every_earlier_lookup_is_resolved()
    {
        var claims = NewClaims();
        var lookupOfB = claims.BeginLookup();
        var a = ResolveOne(claims, NothingStored, [Customer1]);
        claims.Release(a, committed: true);
        claims.Count.ShouldBe(1);

        claims.Resolve(lookupOfB, [], NothingStored);

        // Lookups from now on read the database after the commit: it, not memory, answers for c-1.
        claims.Count.ShouldBe(0);
        var later = claims.BeginLookup();
        claims.ClaimedOwnersOf(later, [Customer1]).ShouldBeEmpty();
        claims.Abandon(later);
    }

    [Fact]
    public void a_lookup_that_began_after_the_commit_does_not_need_the_claim()
    {
        var claims = NewClaims();
        var a = ResolveOne(claims, NothingStored, [Customer1]);
        var slow = claims.BeginLookup();   // began before the commit: keeps the claim
        claims.Release(a, committed: true);
        var fresh = claims.BeginLookup();  // began after the commit: the database shows c-1

        claims.ClaimedOwnersOf(slow, [Customer1]).ShouldBe([a.Mpid]);
        claims.ClaimedOwnersOf(fresh, [Customer1]).ShouldBeEmpty();

        claims.Abandon(slow);
        claims.Abandon(fresh);
        claims.Count.ShouldBe(0);
    }

    [Fact]
    public void a_unique_identity_the_database_gives_to_another_profile_stays_there()
    {
        var claims = NewClaims();
        var stored = new IdentityLookup(
            new Dictionary<IdentityKey, IReadOnlyList<IdentityOwner>> { [Email] = [new IdentityOwner(5, DateTimeOffset.UnixEpoch)] },
            new Dictionary<long, IReadOnlyList<IdentityKey>> { [5] = [new IdentityKey("customer_id", "c-2")] }, new HashSet<long> { 5 });

        var b = ResolveOne(claims, stored, [Customer1, Email]);

        b.Identities.ShouldBe([Customer1]); // a new customer; the email stays with profile 5
        b.IsNewProfile.ShouldBeTrue();
    }

    // ---- issue 18 §2: what a writer must lock across nodes

    private static IdentityLookup Stored(IdentityKey identity, long mpid) => new(
        new Dictionary<IdentityKey, IReadOnlyList<IdentityOwner>> { [identity] = [new IdentityOwner(mpid, DateTimeOffset.UnixEpoch)] },
        new Dictionary<long, IReadOnlyList<IdentityKey>>(), new HashSet<long>());

    [Fact]
    public void a_new_device_only_person_contests_its_device_and_a_batch_joining_it_in_flight_does_too()
    {
        var claims = NewClaims();
        var first = ResolveOne(claims, NothingStored, [Idfv]);
        var second = ResolveOne(claims, NothingStored, [Idfv]); // the person is still being created: another node may win it

        first.Contested.ShouldBe([Idfv]);
        second.Mpid.ShouldBe(first.Mpid);
        second.Contested.ShouldBe([Idfv]);
    }

    [Fact]
    public void a_batch_for_a_person_the_database_shows_contests_nothing()
    {
        var claims = NewClaims();
        var b = ResolveOne(claims, Stored(Customer1, 5), [Customer1, Idfv]); // a new device for a known customer

        b.Mpid.ShouldBe(5);
        b.Identities.ShouldBe([Idfv]);
        b.Contested.ShouldBeEmpty();
    }

    [Fact]
    public void a_placeholder_is_never_contested()
    {
        var claims = NewClaims();
        var placeholder = new IdentityKey("ios_idfa", "00000000-0000-0000-0000-000000000000");
        var b = ResolveOne(claims, NothingStored, [Customer1, placeholder]);

        b.Contested.ShouldBe([Customer1]);
    }

    [Fact]
    public void the_race_is_lost_when_a_contested_identity_has_another_holder_now_and_not_when_it_is_our_own()
    {
        var claims = NewClaims();
        var b = ResolveOne(claims, NothingStored, [Idfv]);

        IdentityClaims.LostRace(b, new Dictionary<IdentityKey, List<IdentityOwner>>()).ShouldBeFalse();
        IdentityClaims.LostRace(b, new Dictionary<IdentityKey, List<IdentityOwner>> { [Idfv] = [new IdentityOwner(b.Mpid, DateTimeOffset.UnixEpoch)] }).ShouldBeFalse();
        IdentityClaims.LostRace(b, new Dictionary<IdentityKey, List<IdentityOwner>> { [Idfv] = [new IdentityOwner(7, DateTimeOffset.UnixEpoch)] }).ShouldBeTrue();
    }

    [Fact]
    public void a_retry_of_a_person_that_was_not_created_is_not_drawn_back_to_it_by_batches_that_joined_it()
    {
        // Node B created device D's person first. Here the new person 1001 lost; a batch that joined 1001 in flight is
        // still queued. The retry must resolve to B's person, not to 1001 (which it would then create without a lock).
        var claims = NewClaims();
        var first = ResolveOne(claims, NothingStored, [Idfv]);
        var joined = ResolveOne(claims, NothingStored, [Idfv]);
        claims.Release(first, committed: false);

        var retry = ResolveOne(claims, Stored(Idfv, 5), [Idfv]);

        joined.Mpid.ShouldBe(first.Mpid);
        retry.Mpid.ShouldBe(5);
    }

    [Fact]
    public void a_batch_that_joined_a_person_in_flight_is_orphaned_when_that_person_was_not_created()
    {
        // The hole the joiners' locks alone left: the lookup already showed node B's person for the device, but this
        // node's claim (a more recent link) drew the batch to the person still being created here, which then lost.
        var claims = NewClaims();
        var first = ResolveOne(claims, NothingStored, [Idfv]);
        var joined = ResolveOne(claims, Stored(Idfv, 5), [Idfv]);

        first.JoinsPersonInFlight.ShouldBeFalse();
        joined.Mpid.ShouldBe(first.Mpid);
        joined.JoinsPersonInFlight.ShouldBeTrue();
        IdentityClaims.IsOrphaned(joined, streamExists: false, createdInGroup: false).ShouldBeTrue();
        IdentityClaims.IsOrphaned(joined, streamExists: true, createdInGroup: false).ShouldBeFalse();
        IdentityClaims.IsOrphaned(joined, streamExists: false, createdInGroup: true).ShouldBeFalse();
        IdentityClaims.IsOrphaned(ResolveOne(claims, Stored(Customer1, 7), [Customer1]), streamExists: false, createdInGroup: false)
            .ShouldBeFalse(); // a person the database showed (erased since, say) is not this rule's business
    }
}
