using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.Tests.Identity;

public class IdSyncTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
    private static readonly IdentityKey Device = new("device_application_stamp", "D");
    private static readonly IdentityKey Customer = new("customer_id", "c-1");
    private static readonly IdentityKey Email = new("email", "a@example.org");

    private static IdentityLookup Lookup(params (IdentityKey Identity, long Mpid)[] links) => new(
        links.GroupBy(l => l.Identity).ToDictionary(g => g.Key, g => (IReadOnlyList<IdentityOwner>)g.Select(l => new IdentityOwner(l.Mpid, T0)).ToList()),
        links.Where(l => l.Identity.Type == "customer_id").GroupBy(l => l.Mpid).ToDictionary(g => g.Key, g => (IReadOnlyList<IdentityKey>)g.Select(l => l.Identity).ToList()),
        links.Select(l => l.Mpid).ToHashSet());

    private static IdSyncOutcome? Decide(IdSyncCall call, IdentityLookup lookup, long? previous = null, IdentityStrategy strategy = IdentityStrategy.ProfileConversion,
        params IdentityKey[] known) =>
        IdSync.Decide(new IdSyncRequest(call, known, previous), lookup, IdentitySettings.Default with { Strategy = strategy }, () => 99);

    [Fact]
    public void conversion_keeps_the_anonymous_mpid_when_a_new_customer_logs_in()
    {
        var outcome = Decide(IdSyncCall.Login, Lookup((Device, 5)), previous: 5, known: [Customer, Device])!;
        outcome.Mpid.ShouldBe(5);
        outcome.ToLink.ShouldBe([Customer]);
        outcome.IsLoggedIn.ShouldBeTrue();
    }

    [Fact]
    public void link_and_isolation_give_a_new_customer_a_new_mpid()
    {
        foreach (var strategy in new[] { IdentityStrategy.ProfileLink, IdentityStrategy.ProfileIsolation })
        {
            var outcome = Decide(IdSyncCall.Login, Lookup((Device, 5)), previous: 5, strategy, known: [Customer])!;
            outcome.Mpid.ShouldBe(99);
            outcome.IsNewProfile.ShouldBeTrue();
        }
    }

    [Fact]
    public void a_known_customer_logs_into_their_profile_from_any_device()
    {
        var outcome = Decide(IdSyncCall.Login, Lookup((Customer, 7), (Device, 5)), previous: 5, known: [Customer, Device])!;
        outcome.Mpid.ShouldBe(7);
        outcome.Matched.ShouldBe([Customer]);
        outcome.ToLink.ShouldBe([Device]);
    }

    [Fact]
    public void logout_makes_a_new_anonymous_profile_but_isolation_returns_to_the_devices_anonymous_one()
    {
        var lookup = Lookup((Customer, 7), (Device, 7), (Device, 5));
        Decide(IdSyncCall.Logout, lookup, previous: 7, known: [Device])!.Mpid.ShouldBe(99);
        Decide(IdSyncCall.Logout, lookup, previous: 7, IdentityStrategy.ProfileIsolation, known: [Device])!.Mpid.ShouldBe(5);
    }

    [Fact]
    public void a_logged_in_profile_is_not_returned_without_its_login_identity()
    {
        var lookup = Lookup((Customer, 7), (Device, 7));
        Decide(IdSyncCall.Identify, lookup, known: [Device])!.Mpid.ShouldBe(99);
        Decide(IdSyncCall.Search, lookup, known: [Device]).ShouldBeNull();
        Decide(IdSyncCall.Search, lookup, known: [Customer])!.Mpid.ShouldBe(7);
    }

    [Fact]
    public void a_unique_identity_assigned_to_the_returned_profile_is_taken_from_its_holder()
    {
        var outcome = Decide(IdSyncCall.Identify, Lookup((Customer, 7), (Email, 8)), known: [Customer, Email])!;
        outcome.Mpid.ShouldBe(7);
        outcome.ToTake.ShouldBe([(Email, 8L)]);
    }

    [Fact]
    public void modify_adds_replaces_removes_and_refuses_to_change_the_immutable_identity()
    {
        var profile = new[]
        {
            (object)new UserIdentityAdded(1, "customer_id", "c-1", T0, "web"),
            new UserIdentityAdded(1, "email", "old@example.org", T0, "web"),
            new UserIdentityAdded(1, "other", "o-1", T0, "web"),
        }.Aggregate(Profile.Create(new ProfileCreated(5, T0)), (p, e) => p.Evolve(e));
        var source = new IdentitySource(1, "web", T0.AddMinutes(1), "req-1");
        var lookup = Lookup((new IdentityKey("email", "new@example.org"), 8));

        var outcome = IdentityModification.Decide(profile,
            [
                new IdentityChange("email", "old@example.org", "new@example.org"),
                new IdentityChange("other", "o-1", null),
                new IdentityChange("other_id_2", null, "loyalty-55"),
                new IdentityChange("customer_id", "c-1", "c-1"),
            ], lookup, IdentitySettings.Default, source);

        outcome.Errors.ShouldBeEmpty();
        outcome.Events.Select(e => e.GetType().Name).ShouldBe(["UserIdentityChanged", "UserIdentityRemoved", "UserIdentityAdded"]);
        outcome.Taken.Single().Mpid.ShouldBe(8);
        outcome.Taken.Single().Removal.TakenBy.ShouldBe(5);

        IdentityModification.Decide(profile, [new IdentityChange("customer_id", "c-1", "c-2")], lookup, IdentitySettings.Default, source)
            .Errors.Single().Error.ShouldContain("immutable");
    }

    [Fact]
    public void alias_rules_refuse_chains_and_overlapping_windows()
    {
        var t = T0;
        var first = new AliasRequest(1, 2, t, t.AddHours(1));
        AliasRules.Rejection(new AliasRequest(1, 3, t.AddMinutes(30), t.AddHours(2)), [first]).ShouldNotBeNull();
        AliasRules.Rejection(new AliasRequest(2, 4, t, t.AddHours(1)), [first]).ShouldNotBeNull(); // 2 was a destination
        AliasRules.Rejection(new AliasRequest(5, 1, t, t.AddHours(1)), [first]).ShouldNotBeNull(); // 1 was a source
        AliasRules.Rejection(new AliasRequest(1, 3, t.AddHours(2), t.AddHours(3)), [first]).ShouldBeNull();
        new AliasRequest(1, 2, t.AddDays(-200), t).EffectiveStart(t).ShouldBe(t - AliasRequest.MaxWindow);
    }
}
