using System.Text.Json;
using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.Tests.Profiles;

public class ProfileTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_800_000_000_000);
    private static JsonElement Json(string s) => JsonSerializer.Deserialize<JsonElement>(s);

    private static Profile Fold(params object[] events) =>
        events.Aggregate(Profile.Create(new ProfileCreated(1, T0)), (p, e) => p.Evolve(e));

    [Fact]
    public void the_most_recent_value_wins_whatever_the_order_of_arrival()
    {
        var newer = new UserAttributeSet(1, "tier", Json("\"gold\""), T0.AddMinutes(2), "a");
        var older = new UserAttributeSet(1, "tier", Json("\"silver\""), T0.AddMinutes(1), "b");

        Fold(newer, older).Workspace(1).Attributes["tier"].Value!.Value.GetString().ShouldBe("gold");
        Fold(older, newer).Workspace(1).Attributes["tier"].Value!.Value.GetString().ShouldBe("gold");
    }

    [Fact]
    public void attributes_consent_and_devices_are_kept_per_workspace()
    {
        var profile = Fold(
            new BatchReceived(Guid.NewGuid(), 1, "a", "development", T0, null, false, Json("{}")),
            new UserAttributeSet(1, "tier", Json("\"gold\""), T0, "a"),
            new UserAttributeSet(2, "tier", Json("\"bronze\""), T0, "b"));

        profile.Workspace(1).Attributes["tier"].Value!.Value.GetString().ShouldBe("gold");
        profile.Workspace(2).Attributes["tier"].Value!.Value.GetString().ShouldBe("bronze");
        profile.IsKnownIn(1).ShouldBeTrue();
        profile.IsKnownIn(3).ShouldBeFalse();
    }

    [Fact]
    public void the_latest_opt_out_decision_wins()
    {
        Fold(new OptOutChanged(1, true, T0.AddMinutes(2)), new OptOutChanged(1, false, T0.AddMinutes(1))).IsOptedOut.ShouldBeTrue();
    }

    [Fact]
    public void the_stream_key_is_the_invariant_decimal_mpid()
    {
        StreamKey.For(-8765432109876543210).ShouldBe("-8765432109876543210");
        StreamKey.TryParse("-8765432109876543210", out var mpid).ShouldBeTrue();
        mpid.ShouldBe(-8765432109876543210);
    }
}
