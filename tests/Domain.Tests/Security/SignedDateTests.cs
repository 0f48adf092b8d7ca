using EventProfiles.Domain.Security;

namespace EventProfiles.Domain.Tests.Security;

/// <summary>Issue 14 item 6: the Date a signed request carries, in every form the SDKs write (native-sdks.md §2.3).</summary>
public class SignedDateTests
{
    // Tue, 04 Jun 2024 14:14:05 UTC
    private static readonly DateTimeOffset Now = new(2024, 6, 4, 14, 14, 5, TimeSpan.Zero);
    private static readonly TimeSpan Skew = TimeSpan.FromMinutes(15);

    [Theory]
    [InlineData("Tue, 04 Jun 2024 14:14:05 GMT")]      // iOS
    [InlineData("Tue, 04 Jun 2024 16:14:05 CEST")]     // Android in Berlin
    [InlineData("Tue, 04 Jun 2024 07:14:05 PDT")]      // Android in California
    [InlineData("Tue, 04 Jun 2024 19:44:05 GMT+05:30")] // Android where Java has no short name
    [InlineData("Tue, 04 Jun 2024 19:44:05 +0530")]
    [InlineData("Tue, 04 Jun 2024 14:14:05 UTC")]
    [InlineData("04 Jun 2024 14:14:05 GMT")]
    [InlineData("tue, 4 jun 2024 14:14:05 gmt")]
    [InlineData("Tue, 04 Jun 2024 22:14:05 CST")]      // China Standard Time: CST is also US Central, either may be meant
    [InlineData("Tue, 04 Jun 2024 08:14:05 CST")]      // US Central
    public void a_fresh_date_in_each_form_is_accepted(string header) => SignedDate.Rejection(header, Now, Skew).ShouldBeNull();

    [Fact]
    public void the_zone_decides_the_instant()
    {
        var cest = SignedDate.Parse("Tue, 04 Jun 2024 16:14:05 CEST")!;
        cest.IsZoneKnown.ShouldBeTrue();
        cest.Instants().Earliest.ShouldBe(Now);
        SignedDate.Parse("Tue, 04 Jun 2024 07:14:05 PDT")!.Instants().Latest.ShouldBe(Now);
        SignedDate.Parse("Tue, 04 Jun 2024 19:44:05 GMT+05:30")!.Instants().Earliest.ShouldBe(Now);
    }

    [Theory]
    [InlineData("Mon, 03 Jun 2024 14:14:05 GMT", "behind")]  // a day old: a replay
    [InlineData("Tue, 04 Jun 2024 13:58:00 GMT", "behind")]  // just over 15 minutes
    [InlineData("Tue, 04 Jun 2024 14:30:00 GMT", "ahead")]
    [InlineData("Tue, 04 Jun 2024 14:14:05 CEST", "behind")] // the right wall clock in the wrong zone is two hours old
    public void a_date_too_far_from_the_servers_clock_is_refused(string header, string direction) =>
        SignedDate.Rejection(header, Now, Skew)!.ShouldContain(direction);

    [Theory]
    [InlineData("Tue, 04 Jun 2024 14:14:05 XYZT")]  // now
    [InlineData("Wed, 05 Jun 2024 04:00:00 XYZT")]  // UTC+13:46 would make it now (e.g. the Chatham Islands in summer)
    [InlineData("Tue, 04 Jun 2024 02:30:00 XYZT")]  // UTC−11:44 would
    [InlineData("Tue, 04 Jun 2024 20:00:00")]       // no zone written at all
    public void an_unknown_zone_is_accepted_when_some_real_offset_makes_the_date_fresh(string header) =>
        SignedDate.Rejection(header, Now, Skew).ShouldBeNull();

    [Theory]
    [InlineData("Wed, 05 Jun 2024 05:00:00 XYZT")]  // would need UTC+14:46
    [InlineData("Tue, 04 Jun 2024 01:30:00 XYZT")]  // would need UTC−12:44
    [InlineData("Mon, 03 Jun 2024 14:14:05 XYZT")]  // a day old whatever the zone
    public void an_unknown_zone_is_refused_when_no_real_offset_makes_the_date_fresh(string header) =>
        SignedDate.Rejection(header, Now, Skew).ShouldNotBeNull();

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    [InlineData("yesterday")]
    [InlineData("1717510445")]
    [InlineData("Tue, 31 Feb 2024 14:14:05 GMT")]
    [InlineData("Tue, 04 Foo 2024 14:14:05 GMT")]
    [InlineData("Tue, 04 Jun 2024 25:14:05 GMT")]
    [InlineData("Tue, 04 Jun 2024 14:14:05 GMT+99:00")]
    [InlineData("Tue, 04 Jun 2024 14:14:05 G1T")]
    public void a_missing_or_garbled_date_is_refused(string? header)
    {
        var reason = SignedDate.Rejection(header, Now, Skew);
        reason.ShouldNotBeNull();
        reason.ShouldContain("Date");
    }
}
