using System.Text.Json;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Privacy;
using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.Tests.Privacy;

public class LifetimeAndRetentionTests
{
    private static readonly DateTimeOffset T0 = new(2024, 5, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void reactivation_keeps_attributes_and_user_identities_but_drops_historical_devices()
    {
        var profile = Profile.Create(new ProfileCreated(7, T0))
            .Evolve(new UserIdentityAdded(1, "customer_id", "c-1", T0, "server"))
            .Evolve(new UserIdentityAdded(1, "ios_idfv", "OLD", T0, "server"))
            .Evolve(new DeviceSeen(1, "ios_idfv:OLD", T0, null, new Dictionary<string, string> { ["ios_idfv"] = "OLD" }, "iOS", null, null, null))
            .Evolve(new UserAttributeSet(1, "tier", JsonSerializer.Deserialize<JsonElement>("\"gold\""), T0, "server"))
            .Evolve(new ProfileAgedOut(T0.AddDays(31), T0));
        profile.IsLive.ShouldBeFalse();

        var events = Reactivation.Events(profile, T0.AddDays(40), "server");
        events.OfType<UserIdentityRemoved>().Select(r => r.Value).ShouldBe(["OLD"]); // also out of the identity index
        var back = events.Aggregate(profile, (p, e) => p.Evolve(e));
        back.IsLive.ShouldBeTrue();
        back.Identities.Select(i => i.Type).ShouldBe(["customer_id"]);
        back.Workspace(1).Devices.ShouldBeEmpty();
        back.Workspace(1).CurrentAttributes().Single().Key.ShouldBe("tier");
    }

    [Theory]
    [InlineData(730, 30, false, null)]
    [InlineData(730, 31, false, "profile_lifetime_days")] // beyond the lookback without Lifetime Profiles
    [InlineData(730, 400, true, null)]
    [InlineData(365, 400, true, "profile_lifetime_days")] // beyond retention even with them
    [InlineData(20, 10, false, "data_retention_days")]    // retention shorter than the lookback
    [InlineData(0, 1, false, "data_retention_days")]
    [InlineData(730, 0, false, "profile_lifetime_days")]
    public void settings_rules(int retention, int lifetime, bool lifetimeProfiles, string? field)
    {
        var problems = new RetentionSettings { DataRetentionDays = retention, ProfileLifetimeDays = lifetime, LifetimeProfiles = lifetimeProfiles }.Problems(30);
        if (field is null) problems.ShouldBeEmpty();
        else problems.Select(p => p.Field).ShouldContain(field);
    }

    [Fact]
    public void a_carried_out_request_keeps_only_hashes_of_what_it_named()
    {
        var request = new DataSubjectRequest { Identities = new() { ["email"] = "ana@example.org" }, Mpid = 42, EncodedRequest = "abc" };
        request.Redact();
        request.Identities["email"].ShouldStartWith("sha256:");
        request.Identities["email"].ShouldNotContain("ana");
        request.Mpid.ShouldBeNull();
        request.EncodedRequest.ShouldBeNull();
    }
}
