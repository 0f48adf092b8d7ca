using System.Text.Json;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Privacy;
using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.Tests.Privacy;

public class LifetimeAndRetentionTests
{
    private static readonly DateTimeOffset T0 = new(2024, 5, 1, 0, 0, 0, TimeSpan.Zero);

    private static Profile AgedOut() => Profile.Create(new ProfileCreated(7, T0))
        .Evolve(new BatchReceived(Guid.NewGuid(), 1, "server", "development", T0, null, false, JsonSerializer.Deserialize<JsonElement>("{}")))
        .Evolve(new UserIdentityAdded(1, "customer_id", "c-1", T0, "server"))
        .Evolve(new UserIdentityAdded(1, "ios_idfv", "OLD", T0, "server"))
        .Evolve(new DeviceSeen(1, "ios_idfv:OLD", T0, null, new Dictionary<string, string> { ["ios_idfv"] = "OLD" }, "iOS", null, null, null))
        .Evolve(new UserAttributeSet(1, "tier", JsonSerializer.Deserialize<JsonElement>("\"gold\""), T0, "server"))
        .Evolve(new UserAttributeRemoved(1, "plan", T0, "server"))
        .Evolve(new Consent.ConsentStateChanged(1, Consent.Regulations.Gdpr, "marketing", new Consent.ConsentRecord(true, T0, null, null, null), "server"))
        .Evolve(new InstallAttributed(1, null, "ads", "spring", T0))
        .Evolve(new OptOutChanged(1, true, T0))
        .Evolve(new ProfileAgedOut(T0.AddDays(31), T0));

    [Fact]
    public void a_returning_person_keeps_mpid_user_identities_and_opt_out_but_starts_attributes_consent_and_devices_afresh()
    {
        var profile = AgedOut();
        profile.IsLive.ShouldBeFalse();

        var events = Reactivation.Events(profile, T0.AddDays(40), "server");
        events.OfType<UserIdentityRemoved>().Select(r => r.Value).ShouldBe(["OLD"]); // also out of the identity index
        var back = events.Aggregate(profile, (p, e) => p.Evolve(e));
        back.IsLive.ShouldBeTrue();
        back.Mpid.ShouldBe(7);
        back.Identities.Select(i => i.Type).ShouldBe(["customer_id"]);
        back.IsOptedOut.ShouldBeTrue(); // a privacy choice, not profile data: never forgotten by ageing out
        var workspace = back.Workspace(1);
        (workspace.Attributes.Count, workspace.Gdpr.Count, workspace.Devices.Count, workspace.InstallAttribution).ShouldBe((0, 0, 0, null));
        back.IsKnownIn(1).ShouldBeTrue(); // where and when the person was seen stays
        workspace.FirstSeenAt.ShouldBe(T0);
        // A value from before the return, sent again, is set again (no tombstone or old value stands in its way).
        back.Evolve(new UserAttributeSet(1, "plan", JsonSerializer.Deserialize<JsonElement>("\"pro\""), T0.AddDays(-1), "server"))
            .Workspace(1).CurrentAttributes().Single().Key.ShouldBe("plan");
    }

    [Fact]
    public void the_lifetime_of_a_person_brought_back_without_a_batch_counts_from_the_return()
    {
        var profile = AgedOut();
        profile.LifetimeFrom.ShouldBe(T0);
        var back = Reactivation.Events(profile, T0.AddDays(40), "idsync").Aggregate(profile, (p, e) => p.Evolve(e));
        back.LifetimeFrom.ShouldBe(T0.AddDays(40));
        back.LastStoredAt.ShouldBe(T0); // retention counts from the last batch: unchanged
        var later = back.Evolve(new BatchReceived(Guid.NewGuid(), 1, "server", "development", T0.AddDays(50), null, false, JsonSerializer.Deserialize<JsonElement>("{}")));
        later.LifetimeFrom.ShouldBe(T0.AddDays(50));
    }

    private static Profile Stored(long mpid, DateTimeOffset at) =>
        Profile.Create(new ProfileCreated(mpid, at));

    private static Profile AliasedTo(Profile source, long destination) =>
        source.Evolve(new ProfileAliasedTo(destination, $"alias-{source.Mpid}", T0, T0, T0));

    [Fact]
    public void an_alias_source_counts_retention_from_its_destination_when_that_was_updated_later()
    {
        var source = AliasedTo(Stored(1, T0), 2);
        var destination = Stored(2, T0.AddDays(100));
        RetentionClock.LastUpdate(source, new Dictionary<long, Profile> { [2] = destination }).ShouldBe(T0.AddDays(100));
        RetentionClock.LastUpdate(source, new Dictionary<long, Profile>()).ShouldBe(T0); // the destination is gone: its own clock
        RetentionClock.LastUpdate(destination, new Dictionary<long, Profile> { [1] = source }).ShouldBe(T0.AddDays(100)); // only the source borrows

        // Along a chain, and never backwards: an older destination does not shorten the source's life.
        var middle = AliasedTo(Stored(2, T0.AddDays(5)), 3);
        var end = Stored(3, T0.AddDays(200));
        RetentionClock.LastUpdate(source, new Dictionary<long, Profile> { [2] = middle, [3] = end }).ShouldBe(T0.AddDays(200));
        RetentionClock.LastUpdate(AliasedTo(Stored(4, T0.AddDays(10)), 5), new Dictionary<long, Profile> { [5] = Stored(5, T0) }).ShouldBe(T0.AddDays(10));
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

    [Fact]
    public void the_event_sweep_finishes_its_pass_then_waits_for_the_interval_from_the_pass_start()
    {
        EventSweep.IsDue(cursor: 0, passStartedAt: null, T0).ShouldBeTrue(); // the first pass
        EventSweep.IsDue(cursor: 5_000, passStartedAt: T0, T0.AddMinutes(1)).ShouldBeTrue(); // under way: goes on
        EventSweep.IsDue(cursor: 5_000, passStartedAt: T0, T0.AddHours(3)).ShouldBeTrue(); // a long pass is not cut short
        EventSweep.IsDue(cursor: 0, passStartedAt: T0, T0.AddMinutes(2)).ShouldBeFalse(); // ended: no new pass yet
        EventSweep.IsDue(cursor: 0, passStartedAt: T0, T0 + EventSweep.Interval - TimeSpan.FromSeconds(1)).ShouldBeFalse();
        EventSweep.IsDue(cursor: 0, passStartedAt: T0, T0 + EventSweep.Interval).ShouldBeTrue();
    }
}
