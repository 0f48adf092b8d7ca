using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.Tests.Identity;

/// <summary>Issue 14 item 5: a key-only (web key) call cannot take an identity from a known person.</summary>
public class KeyOnlyAuthorityTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
    private static readonly IdentitySettings Settings = IdentitySettings.Default; // customer id login+unique, email unique
    private static readonly IdentityKey Customer = new("customer_id", "c-1");
    private static readonly IdentityKey Email = new("email", "a@example.org");
    private static readonly IdentityKey Other = new("other", "o-1");
    private static readonly IdentityKey Device = new("device_application_stamp", "D");
    private const long Known = 5, Anonymous = 6;

    /// <summary>Profile 5 is a known customer (c-1, its email, its other id, device D); profile 6 is anonymous with email b@.</summary>
    private static IdentityLookup Lookup(params (IdentityKey Identity, long Mpid)[] extra)
    {
        (IdentityKey Identity, long Mpid)[] links = [(Customer, Known), (Email, Known), (Other, Known), (Device, Known), .. extra];
        return new(
            links.GroupBy(l => l.Identity).ToDictionary(g => g.Key, g => (IReadOnlyList<IdentityOwner>)g.Select(l => new IdentityOwner(l.Mpid, T0)).ToList()),
            new Dictionary<long, IReadOnlyList<IdentityKey>> { [Known] = [Customer] },
            links.Select(l => l.Mpid).Append(Anonymous).ToHashSet());
    }

    private static IdSyncOutcome Identify(IdentityAuthority authority, params IdentityKey[] known) =>
        IdSync.Decide(new IdSyncRequest(IdSyncCall.Identify, known, null, authority), Lookup(), Settings, () => 99)!;

    [Fact]
    public void a_key_only_identify_with_a_customers_email_gets_a_new_profile_without_the_email()
    {
        var outcome = Identify(IdentityAuthority.KeyOnly, Email);

        outcome.Mpid.ShouldBe(99); // as the strategy says: a known profile is not returned without its login identity
        outcome.ToLink.ShouldBeEmpty();
        outcome.ToTake.ShouldBeEmpty();
    }

    [Fact]
    public void a_key_only_identify_neither_shares_a_customers_user_identity_nor_stops_sharing_a_device()
    {
        var outcome = Identify(IdentityAuthority.KeyOnly, Other, Device);

        outcome.ToLink.ShouldBe([Device]); // devices are shared by nature (a family computer) and taken from nobody
        outcome.ToTake.ShouldBeEmpty();
    }

    [Fact]
    public void a_server_authenticated_identify_keeps_todays_rules()
    {
        var outcome = Identify(IdentityAuthority.Server, Email);

        outcome.Mpid.ShouldBe(99);
        outcome.ToLink.ShouldBe([Email]);
        outcome.ToTake.ShouldBe([(Email, Known)]);
    }

    [Fact]
    public void a_key_only_call_may_still_take_an_identity_from_an_anonymous_profile()
    {
        var emailB = new IdentityKey("email", "b@example.org");
        var other = Profile.Create(new ProfileCreated(7, T0));
        var outcome = IdentityModification.Decide(other, [new IdentityChange("email", null, emailB.Value)], Lookup((emailB, Anonymous)), Settings,
            new IdentitySource(1, "web", T0), IdentityAuthority.KeyOnly);

        outcome.Events.ShouldHaveSingleItem().ShouldBeOfType<UserIdentityAdded>();
        outcome.Taken.ShouldHaveSingleItem().Mpid.ShouldBe(Anonymous);
    }

    [Fact]
    public void a_known_customer_logging_in_key_only_is_still_returned_and_gets_a_new_device()
    {
        var newDevice = new IdentityKey("device_application_stamp", "D2");
        var outcome = Identify(IdentityAuthority.KeyOnly, Customer, newDevice);

        outcome.Mpid.ShouldBe(Known);
        outcome.ToLink.ShouldBe([newDevice]);
        outcome.IsLoggedIn.ShouldBeTrue();
    }

    [Fact]
    public void a_key_only_modify_cannot_take_a_customers_email_but_a_server_modify_can()
    {
        var anonymous = Profile.Create(new ProfileCreated(Anonymous, T0));
        IdentityChange[] changes = [new("email", null, Email.Value)];
        var source = new IdentitySource(1, "web", T0);

        var keyOnly = IdentityModification.Decide(anonymous, changes, Lookup(), Settings, source, IdentityAuthority.KeyOnly);
        keyOnly.Events.ShouldBeEmpty();
        keyOnly.Taken.ShouldBeEmpty();

        var server = IdentityModification.Decide(anonymous, changes, Lookup(), Settings, source, IdentityAuthority.Server);
        server.Events.ShouldHaveSingleItem().ShouldBeOfType<UserIdentityAdded>().Value.ShouldBe(Email.Value);
        server.Taken.ShouldHaveSingleItem().Mpid.ShouldBe(Known);
    }

    [Fact]
    public void a_key_only_modify_still_changes_what_nobody_known_holds()
    {
        var anonymous = Profile.Create(new ProfileCreated(Anonymous, T0));
        var outcome = IdentityModification.Decide(anonymous, [new IdentityChange("email", null, "fresh@example.org")], Lookup(), Settings,
            new IdentitySource(1, "web", T0), IdentityAuthority.KeyOnly);
        outcome.Events.ShouldHaveSingleItem().ShouldBeOfType<UserIdentityAdded>();
    }
}
