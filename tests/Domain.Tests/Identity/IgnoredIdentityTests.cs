using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Tests.Ingestion;

namespace EventProfiles.Domain.Tests.Identity;

/// <summary>Issue 14 item 15: placeholder identities never match or link people.</summary>
public class IgnoredIdentityTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
    private static readonly IdentitySettings Settings = IdentitySettings.Default;
    private const string ZeroGuid = "00000000-0000-0000-0000-000000000000";
    private static readonly IdentityKey ZeroGaid = new("android_advertising_id", ZeroGuid);

    [Theory]
    [InlineData("android_advertising_id", ZeroGuid)]
    [InlineData("ios_advertising_id", ZeroGuid)]
    [InlineData("ios_idfv", ZeroGuid)]
    [InlineData("android_uuid", "0000000000000000")]
    [InlineData("email", "")]
    [InlineData("email", "   ")]
    [InlineData("email", "null")]
    [InlineData("email", "NULL")]
    [InlineData("other", " undefined ")]
    [InlineData("customer_id", "0")]
    [InlineData("customer_id", "-1")]
    [InlineData("customer_id", "Unknown")]
    [InlineData("other", "[object Object]")]
    [InlineData("other", "nan")]
    [InlineData("customer_id", "000000")]
    public void placeholder_values_are_not_matchable(string type, string value)
    {
        Settings.IsMatchable(type, value).ShouldBeFalse();
        Settings.WhyNotMatchable(type, value).ShouldNotBeNullOrWhiteSpace();
    }

    [Theory]
    [InlineData("android_advertising_id", "38400000-8cf0-11bd-b23e-10b96e40000d")]
    [InlineData("customer_id", "10")]
    [InlineData("customer_id", "-10")]
    [InlineData("email", "unknown@example.org")]
    [InlineData("other", "nullable")]
    [InlineData("android_uuid", "0000000000000001")]
    public void real_values_are_matchable(string type, string value) => Settings.IsMatchable(type, value).ShouldBeTrue();

    [Fact]
    public void the_list_is_the_orgs_and_the_all_zero_rule_can_be_turned_off()
    {
        var settings = Settings with { IgnoredValues = IdentitySettings.IgnoredSet(["guest"]), IgnoreAllZeroValues = false };
        settings.IsMatchable("customer_id", " GUEST ").ShouldBeFalse();
        settings.IsMatchable("customer_id", "unknown").ShouldBeTrue();
        settings.IsMatchable("android_uuid", "0000000000000000").ShouldBeTrue();
        settings.IsMatchable("email", "").ShouldBeFalse(); // empty never identifies anybody
    }

    [Fact]
    public void resolution_neither_matches_nor_links_a_placeholder()
    {
        var lookup = new IdentityLookup(
            new Dictionary<IdentityKey, IReadOnlyList<IdentityOwner>> { [ZeroGaid] = [new IdentityOwner(5, T0)] },
            new Dictionary<long, IReadOnlyList<IdentityKey>>(), new HashSet<long> { 5 });

        var result = IdentityResolution.Resolve([ZeroGaid], null, lookup, Settings, () => 99);

        result.Mpid.ShouldBe(99);
        result.IsNewProfile.ShouldBeTrue();
        result.IdentitiesToLink.ShouldBeEmpty();
    }

    [Fact]
    public void idsync_ignores_a_placeholder_and_reports_it()
    {
        var lookup = new IdentityLookup(
            new Dictionary<IdentityKey, IReadOnlyList<IdentityOwner>> { [ZeroGaid] = [new IdentityOwner(5, T0)] },
            new Dictionary<long, IReadOnlyList<IdentityKey>>(), new HashSet<long> { 5 });

        var outcome = IdSync.Decide(new IdSyncRequest(IdSyncCall.Identify, [ZeroGaid], null), lookup, Settings, () => 99)!;

        outcome.Mpid.ShouldBe(99);
        outcome.ToLink.ShouldBeEmpty();
        outcome.Matched.ShouldBeEmpty();
        outcome.Ignored.ShouldBe([ZeroGaid]);
        IdSync.Decide(new IdSyncRequest(IdSyncCall.Search, [ZeroGaid], null), lookup, Settings, () => 99).ShouldBeNull();
    }

    [Fact]
    public void a_batch_keeps_the_placeholder_on_its_device_and_records_once_that_it_was_ignored()
    {
        var parsed = Batches.Parse($$"""
            { "environment": "development", "mp_deviceid": "das-1", "user_identities": { "email": "unknown" },
              "device_info": { "android_advertising_id": "{{ZeroGuid}}" }, "events": [] }
            """);
        var ctx = Batches.Context(parsed); // the context links what the batch carries, placeholders included

        var events = BatchDecision.Decide(null, parsed, ctx);

        events.OfType<UserIdentityAdded>().Select(e => e.IdentityType).ShouldBe(["device_application_stamp"]);
        events.OfType<UserIdentityIgnored>().Select(e => $"{e.IdentityType}={e.Value}").ShouldBe(["email=unknown", $"android_advertising_id={ZeroGuid}"], ignoreOrder: true);
        events.OfType<DeviceSeen>().Single().Identities["android_advertising_id"].ShouldBe(ZeroGuid);

        var profile = Fold(events);
        profile.Identities.Select(i => i.Type).ShouldBe(["device_application_stamp"]);
        BatchDecision.Decide(profile, parsed, Batches.Context(parsed, isNew: false)).OfType<UserIdentityIgnored>().ShouldBeEmpty();
    }

    [Fact]
    public void modify_records_a_placeholder_as_ignored_and_takes_nothing()
    {
        var profile = Fold([new ProfileCreated(7, T0)]);
        var unknownEmail = new IdentityKey("email", "unknown");
        var lookup = new IdentityLookup(
            new Dictionary<IdentityKey, IReadOnlyList<IdentityOwner>> { [unknownEmail] = [new IdentityOwner(5, T0)] },
            new Dictionary<long, IReadOnlyList<IdentityKey>>(), new HashSet<long> { 5, 7 });

        var outcome = IdentityModification.Decide(profile, [new IdentityChange("email", null, "unknown")], lookup, Settings,
            new IdentitySource(1, "web", T0));

        outcome.Events.ShouldHaveSingleItem().ShouldBeOfType<UserIdentityIgnored>().Value.ShouldBe("unknown");
        outcome.Taken.ShouldBeEmpty();
        outcome.Errors.ShouldBeEmpty();
    }

    private static Profile Fold(IEnumerable<object> events)
    {
        Profile? profile = null;
        foreach (var e in events) profile = profile is null ? Profile.Create((ProfileCreated)e) : profile.Evolve(e);
        return profile!;
    }
}
