using EventProfiles.Domain.Identity;

namespace EventProfiles.Domain.Tests.Identity;

public class IdentityResolutionTests
{
    private static readonly IdentityKey Customer1 = new("customer_id", "c-1");
    private static readonly IdentityKey Customer2 = new("customer_id", "c-2");
    private static readonly IdentityKey Email = new("email", "a@example.org");
    private static readonly IdentityKey Idfv = new("ios_idfv", "IDFV-1");
    private static readonly IdentityKey Das = new("device_application_stamp", "D-1");
    private static readonly IdentitySettings Settings = IdentitySettings.Default; // customer id login+unique, email unique
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);

    private static IdentityLookup Lookup(
        Dictionary<IdentityKey, long>? owners = null,
        Dictionary<long, IReadOnlyList<IdentityKey>>? logins = null,
        params long[] known) =>
        new((owners ?? []).ToDictionary(o => o.Key, o => (IReadOnlyList<IdentityOwner>)[new IdentityOwner(o.Value, T0)]), logins ?? [], known.ToHashSet());

    private static IdentityResolutionResult Resolve(IReadOnlyList<IdentityKey> identities, IdentityLookup lookup, long? hint = null) =>
        IdentityResolution.Resolve(identities, hint, lookup, Settings, () => 777);

    [Fact]
    public void a_known_mpid_wins()
    {
        var result = Resolve([Customer1], Lookup(new() { [Customer1] = 5 }, known: 9), hint: 9);
        result.Mpid.ShouldBe(9);
        result.IsNewProfile.ShouldBeFalse();
        result.IdentitiesToLink.ShouldBeEmpty(); // c-1 belongs to profile 5 and stays there
    }

    [Fact]
    public void an_unknown_mpid_falls_back_to_the_identities()
    {
        Resolve([Email], Lookup(new() { [Email] = 5 }), hint: 9).Mpid.ShouldBe(5);
    }

    [Fact]
    public void the_highest_priority_identity_decides()
    {
        var result = Resolve([Email, Customer1], Lookup(new() { [Email] = 5, [Customer1] = 6 }));
        result.Mpid.ShouldBe(6);
    }

    [Fact]
    public void a_profile_with_another_login_identity_is_not_returned_for_a_new_customer()
    {
        var lookup = Lookup(new() { [Email] = 5 }, new() { [5] = [Customer2] });
        var result = Resolve([Customer1, Email], lookup);

        result.Mpid.ShouldBe(777);
        result.IsNewProfile.ShouldBeTrue();
        result.IdentitiesToLink.ShouldBe([Customer1]); // the email stays with profile 5
    }

    [Fact]
    public void an_anonymous_profile_found_by_a_device_becomes_known()
    {
        var result = Resolve([Customer1, Idfv], Lookup(new() { [Idfv] = 5 }));
        result.Mpid.ShouldBe(5);
        result.IdentitiesToLink.ShouldBe([Customer1, Idfv], ignoreOrder: true);
    }

    [Fact]
    public void a_login_identity_is_not_linked_to_a_profile_that_already_has_another()
    {
        var lookup = Lookup(new() { [Email] = 5 }, new() { [5] = [Customer2] }, known: 5);
        var result = Resolve([Customer1, Email], lookup, hint: 5);

        result.Mpid.ShouldBe(5);
        result.IdentitiesToLink.ShouldBe([Email]);
    }

    [Fact]
    public void nothing_known_makes_a_new_profile_and_never_mpid_zero()
    {
        var next = new Queue<long>([0, 0, 31]);
        var result = IdentityResolution.Resolve([Customer1], null, Lookup(), Settings, next.Dequeue);
        result.Mpid.ShouldBe(31);
        result.IsNewProfile.ShouldBeTrue();
    }

    [Fact]
    public void a_device_shared_by_two_people_is_linked_to_the_new_one_too()
    {
        var lookup = Lookup(new() { [Das] = 5 }, new() { [5] = [Customer2] });
        var result = Resolve([Customer1, Das], lookup);

        result.IsNewProfile.ShouldBeTrue();
        result.IdentitiesToLink.ShouldBe([Customer1, Das], ignoreOrder: true); // a device is not a unique identity
    }

    [Fact]
    public void lower_priority_identities_narrow_shared_ones_and_the_most_recent_link_breaks_ties()
    {
        var owners = new Dictionary<IdentityKey, IReadOnlyList<IdentityOwner>>
        {
            [Das] = [new(5, T0), new(6, T0.AddMinutes(1)), new(7, T0.AddMinutes(2))],
            [Idfv] = [new(5, T0), new(6, T0)],
        };
        Resolve([Das, Idfv], new IdentityLookup(owners, new Dictionary<long, IReadOnlyList<IdentityKey>>(), new HashSet<long>()))
            .Mpid.ShouldBe(6); // 7 is out (no IDFV), 6 is the more recent link of the two left

        Resolve([Das], new IdentityLookup(owners, new Dictionary<long, IReadOnlyList<IdentityKey>>(), new HashSet<long>()))
            .Mpid.ShouldBe(7);
    }

    [Fact]
    public void a_unique_email_held_by_another_profile_is_not_linked()
    {
        var result = Resolve([Customer1, Email], Lookup(new() { [Customer1] = 5, [Email] = 6 }));
        result.Mpid.ShouldBe(5);
        result.IdentitiesToLink.ShouldBe([Customer1]);
    }
}
