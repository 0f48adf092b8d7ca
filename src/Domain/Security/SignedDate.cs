using System.Globalization;
using System.Text.RegularExpressions;

namespace EventProfiles.Domain.Security;

/// <summary>
/// The <c>Date</c> header of a signed (HMAC) request, as the SDKs write it (native-sdks.md §2.3): RFC 1123 in GMT (iOS),
/// or the same pattern in the device's own zone with a short name (Android: <c>CEST</c>, <c>PDT</c>, <c>GMT+05:30</c>).
/// The signature covers the Date, so a fresh Date is what stops a captured request from being replayed later.
/// </summary>
/// <param name="WallClock">Date and time as written, in the writer's zone.</param>
/// <param name="EarliestOffset">The smallest UTC offset the zone can mean.</param>
/// <param name="LatestOffset">The largest; equal to the earliest when the zone is unambiguous.</param>
public sealed record SignedDate(DateTime WallClock, TimeSpan EarliestOffset, TimeSpan LatestOffset)
{
    /// <summary>Real UTC offsets run from −12:00 to +14:00: a zone we cannot name is somewhere in that 26-hour span.</summary>
    public static readonly TimeSpan MinRealOffset = TimeSpan.FromHours(-12);
    public static readonly TimeSpan MaxRealOffset = TimeSpan.FromHours(14);

    public bool IsZoneKnown => EarliestOffset == LatestOffset;

    /// <summary>The earliest and latest instants the header can mean.</summary>
    public (DateTimeOffset Earliest, DateTimeOffset Latest) Instants()
    {
        var wall = DateTime.SpecifyKind(WallClock, DateTimeKind.Unspecified);
        // A larger offset means the same wall clock happened earlier in UTC.
        return (new DateTimeOffset(wall - LatestOffset, TimeSpan.Zero), new DateTimeOffset(wall - EarliestOffset, TimeSpan.Zero));
    }

    /// <summary>
    /// Why a signed request with this Date must be refused, or null when the Date is within <paramref name="maxSkew"/> of
    /// <paramref name="now"/> for some offset its zone can mean (an unknown zone: any real offset, rather than refusing a device).
    /// </summary>
    public static string? Rejection(string? header, DateTimeOffset now, TimeSpan maxSkew)
    {
        if (string.IsNullOrWhiteSpace(header)) return "A signed request needs its Date header.";
        if (Parse(header) is not { } date)
            return "The Date header is not a date (expected RFC 1123, e.g. \"Tue, 04 Jun 2024 14:14:05 GMT\").";
        var (earliest, latest) = date.Instants();
        if (latest < now - maxSkew)
            return $"The Date header is {Describe(now - latest)} behind the server's clock; a signed request must be dated within {Describe(maxSkew)} of it.";
        if (earliest > now + maxSkew)
            return $"The Date header is {Describe(earliest - now)} ahead of the server's clock; a signed request must be dated within {Describe(maxSkew)} of it.";
        return null;
    }

    // [Day, ] dd Mon yyyy HH:mm[:ss] [zone]; the day name is not checked (it adds nothing the date does not say).
    private static readonly Regex Pattern = new(
        @"^(?:[A-Za-z]{3,9},?\s+)?(?<d>\d{1,2})[\s-]+(?<mon>[A-Za-z]{3})[\s-]+(?<y>\d{4})\s+(?<h>\d{1,2}):(?<min>\d{2})(?::(?<s>\d{2}))?\s*(?<zone>\S*)\s*$",
        RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(50));

    private static readonly Regex NumericZone = new(
        @"^(?:GMT|UTC|UT)?(?<sign>[+-])(?<h>\d{1,2})(?::?(?<m>\d{2}))?$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, TimeSpan.FromMilliseconds(50));

    private static readonly string[] Months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

    /// <summary>The header's date, or null when it is not one.</summary>
    public static SignedDate? Parse(string header)
    {
        if (header.Length > 100) return null;
        var m = Pattern.Match(header.Trim());
        if (!m.Success) return null;
        var month = Array.IndexOf(Months, m.Groups["mon"].Value.ToLowerInvariant()) + 1;
        if (month == 0) return null;
        int Int(string group) => m.Groups[group].Success ? int.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture) : 0;
        var (year, day, hour, minute, second) = (Int("y"), Int("d"), Int("h"), Int("min"), Int("s"));
        if (year < 1 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 60) return null;
        var wall = new DateTime(year, month, day, hour, minute, Math.Min(second, 59), DateTimeKind.Unspecified);

        return Zone(m.Groups["zone"].Value) is { } zone ? new SignedDate(wall, zone.Earliest, zone.Latest) : null;
    }

    private static (TimeSpan Earliest, TimeSpan Latest)? Zone(string zone)
    {
        if (zone.Length == 0) return (MinRealOffset, MaxRealOffset); // no zone written: it could be any
        var numeric = NumericZone.Match(zone);
        if (numeric.Success)
        {
            var hours = int.Parse(numeric.Groups["h"].Value, CultureInfo.InvariantCulture);
            var minutes = numeric.Groups["m"].Success ? int.Parse(numeric.Groups["m"].Value, CultureInfo.InvariantCulture) : 0;
            if (hours > 14 || minutes > 59) return null;
            var offset = new TimeSpan(hours, minutes, 0) * (numeric.Groups["sign"].Value == "-" ? -1 : 1);
            return (offset, offset);
        }
        if (!zone.All(char.IsAsciiLetter) || zone.Length > 6) return null;
        if (Abbreviations.TryGetValue(zone, out var offsets)) return (offsets.Min(), offsets.Max());
        return (MinRealOffset, MaxRealOffset); // a zone name we do not know: do not refuse the device, allow every real offset
    }

    /// <summary>
    /// Short zone names Java (Android, Locale US) writes, with every offset each can mean where it is ambiguous
    /// (CST: US Central or China; IST: India, Ireland or Israel); a Date is fresh if any of them makes it so.
    /// </summary>
    private static readonly Dictionary<string, TimeSpan[]> Abbreviations = new(StringComparer.OrdinalIgnoreCase)
    {
        ["GMT"] = [H(0)], ["UTC"] = [H(0)], ["UT"] = [H(0)], ["Z"] = [H(0)], ["WET"] = [H(0)], ["WEST"] = [H(1)],
        ["BST"] = [H(1), H(6)], ["IST"] = [H(1), H(2), H(5.5)], ["CET"] = [H(1)], ["CEST"] = [H(2)], ["MET"] = [H(1)], ["MEST"] = [H(2)],
        ["EET"] = [H(2)], ["EEST"] = [H(3)], ["MSK"] = [H(3)], ["TRT"] = [H(3)], ["SAST"] = [H(2)], ["CAT"] = [H(2)], ["EAT"] = [H(3)],
        ["WAT"] = [H(1)], ["GST"] = [H(4)], ["PKT"] = [H(5)], ["NPT"] = [H(5.75)], ["BDT"] = [H(6)], ["ICT"] = [H(7)], ["WIB"] = [H(7)],
        ["SGT"] = [H(8)], ["HKT"] = [H(8)], ["AWST"] = [H(8)], ["PHT"] = [H(8)], ["JST"] = [H(9)], ["KST"] = [H(9)],
        ["ACST"] = [H(9.5)], ["ACDT"] = [H(10.5)], ["AEST"] = [H(10)], ["AEDT"] = [H(11)], ["NZST"] = [H(12)], ["NZDT"] = [H(13)],
        ["EST"] = [H(-5)], ["EDT"] = [H(-4)], ["CST"] = [H(-6), H(-5), H(8)], ["CDT"] = [H(-5), H(-4)], ["MST"] = [H(-7)], ["MDT"] = [H(-6)],
        ["PST"] = [H(-8), H(8)], ["PDT"] = [H(-7)], ["AKST"] = [H(-9)], ["AKDT"] = [H(-8)], ["HST"] = [H(-10)], ["HDT"] = [H(-9)],
        ["AST"] = [H(-4), H(3)], ["ADT"] = [H(-3)], ["NST"] = [H(-3.5)], ["NDT"] = [H(-2.5)], ["BRT"] = [H(-3)], ["ART"] = [H(-3)],
    };

    private static TimeSpan H(double hours) => TimeSpan.FromHours(hours);

    private static string Describe(TimeSpan span) =>
        span >= TimeSpan.FromHours(2) ? $"{Math.Floor(span.TotalHours):0} hours"
        : span >= TimeSpan.FromMinutes(2) ? $"{Math.Floor(span.TotalMinutes):0} minutes"
        : $"{Math.Floor(span.TotalSeconds):0} seconds";
}
