using System.Globalization;
using System.Text.Json.Nodes;

namespace EventProfiles.Domain.Forwarding;

/// <summary>
/// The message outputs get when a split, a merge or an undo moved stored batches from one person to another (issue 21
/// §1, docs/identity.md "Downstream"): one per person and output, <c>type: identity_change</c>. Every kind gets the same
/// JSON; a warehouse output's also carries the person's profile as it is now (<c>profile</c>, null when they have no data
/// in the workspace any more). Told from a forwarded batch by its stored input, never its body.
/// </summary>
public static class IdentityChangeNotice
{
    public const string Type = "identity_change";

    /// <summary>The <c>input</c> of a notice's delivery: <c>identity:&lt;change id&gt;</c>.</summary>
    public const string InputPrefix = "identity:";

    public static bool IsNotice(string input) => input.StartsWith(InputPrefix, StringComparison.Ordinal);

    /// <summary>What an output that keeps rows needs of a notice.</summary>
    /// <param name="Gave">True on the notice of the person the batches moved away from.</param>
    /// <param name="BatchIds">The batches that moved from the giver to the receiver.</param>
    /// <param name="Profile">With <see cref="HasProfile"/>: the person now (a resync-shaped batch), or null when they have no data left there.</param>
    public sealed record Parsed(string Id, string Change, long Mpid, long OtherMpid, bool Gave, IReadOnlyList<Guid> BatchIds, string Identities,
        DateTimeOffset At, string? Reason, string? By, bool HasProfile, JsonObject? Profile)
    {
        public long Giver => Gave ? Mpid : OtherMpid;
        public long Receiver => Gave ? OtherMpid : Mpid;
    }

    public static Parsed? Parse(JsonObject notice)
    {
        if (notice["type"]?.GetValue<string>() != Type) return null;
        if (!long.TryParse(notice["mpid"]?.GetValue<string>(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var mpid)
            || !long.TryParse(notice["other_mpid"]?.GetValue<string>(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var other)) return null;
        var batches = (notice["batch_ids"] as JsonArray ?? []).Select(b => Guid.TryParse(b?.GetValue<string>(), out var g) ? g : Guid.Empty)
            .Where(g => g != Guid.Empty).ToList();
        var at = notice["timestamp_unixtime_ms"] is JsonValue v && v.TryGetValue<long>(out var ms) ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : DateTimeOffset.UnixEpoch;
        return new Parsed(notice["id"]?.GetValue<string>() ?? "", notice["change"]?.GetValue<string>() ?? "", mpid, other, notice["gave"]?.GetValue<bool>() ?? false,
            batches, notice["identities"]?.ToJsonString() ?? "[]", at, notice["reason"]?.GetValue<string>(), notice["by"]?.GetValue<string>(),
            notice.ContainsKey("profile"), notice["profile"] as JsonObject);
    }
}
