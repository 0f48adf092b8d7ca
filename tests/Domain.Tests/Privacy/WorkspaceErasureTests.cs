using System.Text.Json;
using EventProfiles.Domain.Consent;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Privacy;
using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.Tests.Privacy;

public class WorkspaceErasureTests
{
    private static readonly DateTimeOffset T0 = new(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly JsonElement Gold = JsonSerializer.Deserialize<JsonElement>("\"gold\"");

    private static readonly object[] InBoth =
    [
        new ProfileCreated(7, T0),
        new UserIdentityAdded(1, "customer_id", "c-1", T0, "server"),
        new UserIdentityAdded(2, "email", "a@example.org", T0, "other-server"),
        new UserAttributeSet(1, "tier", Gold, T0, "server"),
        new UserAttributeSet(2, "secret", Gold, T0, "other-server"),
        new ConsentStateChanged(2, Regulations.Gdpr, "marketing", new ConsentRecord(true, T0, null, null, null), "other-server"),
        new DeviceSeen(2, "ios_idfv:X", T0, null, new Dictionary<string, string> { ["ios_idfv"] = "X" }, "iOS", null, null, null),
        new OptOutChanged(2, true, T0),
        new UserIdentityIgnored(2, "android_uuid", "unknown", "a placeholder value", T0, "other-server"),
    ];

    private static Profile Fold(IEnumerable<object> events) =>
        events.Skip(1).Aggregate(Profile.Create((ProfileCreated)events.First()), (p, e) => p.Evolve(e));

    [Fact]
    public void a_workspace_matches_only_people_with_data_in_it_and_reaches_the_whole_person_only_when_it_is_the_only_one()
    {
        var both = Fold(InBoth);
        WorkspaceErasure.Reach(both, 2).ShouldBe(ErasureReach.Workspace);
        WorkspaceErasure.Reach(both, 3).ShouldBe(ErasureReach.None);
        var onlyOne = Fold(InBoth.Where(e => e is not (UserIdentityAdded { WorkspaceId: 1 } or UserAttributeSet { WorkspaceId: 1 })));
        WorkspaceErasure.Reach(onlyOne, 2).ShouldBe(ErasureReach.Person);
        WorkspaceErasure.Matches(onlyOne, 1).ShouldBeFalse();
    }

    [Fact]
    public void the_workspaces_events_go_and_the_fold_of_what_is_left_keeps_identities_and_the_other_workspace()
    {
        var left = InBoth.Where(e => !WorkspaceErasure.IsWorkspaceData(e, 2)).Append(new WorkspaceDataErased(2, T0.AddDays(1))).ToList();
        left.OfType<UserAttributeSet>().ShouldAllBe(a => a.WorkspaceId == 1);
        left.OfType<DeviceSeen>().ShouldBeEmpty();
        left.OfType<ConsentStateChanged>().ShouldBeEmpty();
        left.OfType<UserIdentityIgnored>().ShouldBeEmpty(); // the placeholder as workspace 2 received it is its data too
        left.OfType<OptOutChanged>().ShouldHaveSingleItem(); // a person-wide preference: not undone by one workspace's erasure

        var profile = Fold(left);
        profile.Workspaces.Keys.ShouldBe([1]); // the identity linked through workspace 2 no longer makes them known there
        profile.IsKnownIn(2).ShouldBeFalse();
        profile.Identities.Select(i => i.Value).ShouldBe(["c-1", "a@example.org"]);
        profile.Workspace(1).CurrentAttributes().Single().Key.ShouldBe("tier");
        profile.IsOptedOut.ShouldBeTrue();
        profile.IgnoredIdentities.ShouldBeEmpty();
        Fold(InBoth.Append(new WorkspaceDataErased(2, T0.AddDays(1)))).IgnoredIdentities.ShouldBeEmpty(); // also when only the marker is folded
    }

    [Fact]
    public void new_data_after_the_erasure_makes_the_person_known_in_the_workspace_again()
    {
        var profile = Fold(InBoth.Append(new WorkspaceDataErased(2, T0.AddDays(1))).Append(new UserAttributeSet(2, "tier", Gold, T0.AddDays(2), "other-server")));
        profile.IsKnownIn(2).ShouldBeTrue();
        profile.Workspace(2).CurrentAttributes().Select(a => a.Key).ShouldBe(["tier"]);
    }
}
