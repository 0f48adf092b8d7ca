using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.Tests.Identity;

/// <summary>Issue 21 §4: which links the merge guards hold, from the profile and the other holders' count alone.</summary>
public class MergeGuardsTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 12, 0, 0, TimeSpan.Zero);
    private static readonly IdentitySettings Settings = IdentitySettings.Default;

    private static Profile PersonWith(params (string Type, string Value, DateTimeOffset At)[] identities) =>
        identities.Aggregate(Profile.Create(new ProfileCreated(7, Now.AddDays(-30))),
            (p, i) => p.Evolve(new UserIdentityAdded(1, i.Type, i.Value, i.At, "server")));

    [Fact]
    public void an_ordinary_link_is_not_held()
    {
        var profile = PersonWith(("email", "a@example.org", Now.AddDays(-3)));
        MergeGuards.Check(profile, [new IdentityKey("ios_idfv", "D-1")], null, Settings, Now).ShouldBeEmpty();
    }

    [Fact]
    public void a_value_already_on_five_other_people_is_held()
    {
        var device = new IdentityKey("ios_idfv", "shared-tablet");
        var profile = PersonWith();
        MergeGuards.Check(profile, [device], new Dictionary<IdentityKey, int> { [device] = 4 }, Settings, Now).ShouldBeEmpty();
        MergeGuards.Check(profile, [device], new Dictionary<IdentityKey, int> { [device] = 5 }, Settings, Now)
            .ShouldBe([new HeldIdentity("ios_idfv", "shared-tablet", MergeHoldReasons.ValueSharedByPeople)]);
    }

    [Fact]
    public void the_eleventh_identity_of_one_type_in_a_day_is_held_and_older_ones_do_not_count()
    {
        var recent = Enumerable.Range(0, 10).Select(i => ("android_uuid", $"A-{i}", Now.AddHours(-20))).ToArray();
        var old = Enumerable.Range(0, 10).Select(i => ("android_uuid", $"OLD-{i}", Now.AddDays(-2))).ToArray();
        var profile = PersonWith([.. old, .. recent.Take(9)]);
        // The tenth of the day passes, the eleventh (in the same batch) is held.
        MergeGuards.Check(profile, [new IdentityKey("android_uuid", "A-9"), new IdentityKey("android_uuid", "A-10")], null, Settings, Now)
            .ShouldBe([new HeldIdentity("android_uuid", "A-10", MergeHoldReasons.IdentitiesPerTypePerDay)]);
    }

    [Fact]
    public void the_twenty_first_new_device_within_an_hour_is_held_whatever_its_type()
    {
        string[] types = ["ios_idfv", "android_uuid", "push_token", "ios_advertising_id"];
        var profile = PersonWith(Enumerable.Range(0, 20).Select(i => (types[i % 4], $"D-{i}", Now.AddMinutes(-30))).ToArray());
        MergeGuards.Check(profile, [new IdentityKey("amp_id", "D-20")], null, Settings, Now)
            .ShouldBe([new HeldIdentity("amp_id", "D-20", MergeHoldReasons.DevicesPerHour)]);
        // An hour later the window has moved on.
        MergeGuards.Check(profile, [new IdentityKey("amp_id", "D-20")], null, Settings, Now.AddHours(1)).ShouldBeEmpty();
    }

    [Fact]
    public void a_held_identity_stays_held_with_its_reason_until_accepted_and_is_recorded_once()
    {
        var device = new IdentityKey("ios_idfv", "shared-tablet");
        var profile = PersonWith().Evolve(new MergeHeld(1, Guid.NewGuid(), "server", Now.AddDays(-1),
            [new HeldIdentity(device.Type, device.Value, MergeHoldReasons.ValueSharedByPeople)]));
        profile.HasHeldMerges.ShouldBeTrue();
        MergeGuards.Check(profile, [device], null, Settings, Now)
            .ShouldBe([new HeldIdentity(device.Type, device.Value, MergeHoldReasons.ValueSharedByPeople)]);
        profile.Evolve(new MergeHeld(1, Guid.NewGuid(), "server", Now, [new HeldIdentity(device.Type, device.Value, MergeHoldReasons.DevicesPerHour)]))
            .HeldMerges.Count.ShouldBe(1);
    }

    [Fact]
    public void a_policy_of_zeros_holds_nothing()
    {
        var device = new IdentityKey("ios_idfv", "shared-tablet");
        MergeGuards.Check(PersonWith(), [device], new Dictionary<IdentityKey, int> { [device] = 500 }, Settings with { MergeGuards = MergeGuardPolicy.Off }, Now)
            .ShouldBeEmpty();
    }

    [Fact]
    public void accepting_links_the_held_identities_skips_a_unique_one_taken_meanwhile_and_clears_the_flag()
    {
        var profile = PersonWith().Evolve(new MergeHeld(1, Guid.NewGuid(), "server", Now.AddHours(-1),
        [
            new HeldIdentity("ios_idfv", "D-1", MergeHoldReasons.ValueSharedByPeople),
            new HeldIdentity("email", "taken@example.org", MergeHoldReasons.IdentitiesPerTypePerDay),
        ]));
        var events = MergeGuards.Accept(profile, new Dictionary<IdentityKey, IReadOnlyList<long>>
        {
            [new IdentityKey("ios_idfv", "D-1")] = [1, 2, 3],
            [new IdentityKey("email", "taken@example.org")] = [99],
        }, Settings, Now, "admin");

        events.OfType<UserIdentityAdded>().Select(e => (e.IdentityType, e.Value, e.At)).ShouldBe([("ios_idfv", "D-1", Now)]);
        var accepted = events.OfType<MergeAccepted>().Single();
        accepted.Linked.ShouldBe([new IdentityKey("ios_idfv", "D-1")]);
        accepted.Skipped.ShouldBe([new IdentityKey("email", "taken@example.org")]);
        var after = events.Aggregate(profile, (p, e) => p.Evolve(e));
        after.HasHeldMerges.ShouldBeFalse();
        after.HasIdentity("ios_idfv", "D-1").ShouldBeTrue();
        MergeGuards.Accept(after, new Dictionary<IdentityKey, IReadOnlyList<long>>(), Settings, Now, "admin").ShouldBeEmpty();
    }
}
