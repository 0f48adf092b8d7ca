using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;
using EventProfiles.Domain.Identity;

namespace EventProfiles.Domain.Privacy;

// OpenDSR v3 (retention-and-privacy.md §4): requests of data subjects, per workspace.

public static class DsrTypes
{
    public const string Erasure = "erasure";
    public const string Access = "access";
    public const string Portability = "portability";
    public static readonly IReadOnlyList<string> All = [Access, Portability, Erasure];
    public static readonly IReadOnlyList<string> Regulations = ["gdpr", "ccpa"];
}

public static class DsrStatuses
{
    public const string Pending = "pending";
    public const string InProgress = "in_progress";
    public const string Completed = "completed";
    public const string Cancelled = "cancelled";
}

/// <summary>An identity as OpenDSR sends it.</summary>
public sealed record DsrIdentity(
    [property: JsonPropertyName("value")] string? Value,
    [property: JsonPropertyName("encoding")] string? Encoding);

/// <summary>OpenDSR identity names → our identity types (§4.2), and the extension's own (mpid aside).</summary>
public static class DsrIdentityTypes
{
    public const string Mpid = "mpid";

    private static readonly Dictionary<string, string> Standard = new()
    {
        ["controller_customer_id"] = IdentityTypes.CustomerId.Name,
        ["email"] = IdentityTypes.Email.Name,
        ["android_advertising_id"] = IdentityTypes.AndroidAdvertisingId.Name,
        ["android_id"] = IdentityTypes.AndroidUuid.Name,
        ["fire_advertising_id"] = IdentityTypes.FireAdvertisingId.Name,
        ["ios_advertising_id"] = IdentityTypes.IosAdvertisingId.Name,
        ["ios_vendor_id"] = IdentityTypes.IosIdfv.Name,
        ["microsoft_advertising_id"] = IdentityTypes.MicrosoftAdvertisingId.Name,
        ["microsoft_publisher_id"] = IdentityTypes.MicrosoftPublisherId.Name,
        ["roku_advertising_id"] = IdentityTypes.RokuAdvertisingId.Name,
        ["roku_publishing_id"] = IdentityTypes.RokuPublisherId.Name,
        ["roku_publisher_id"] = IdentityTypes.RokuPublisherId.Name,
    };

    private static readonly Dictionary<string, string> Extension = new()
    {
        ["other"] = IdentityTypes.Other.Name, ["other2"] = IdentityTypes.OtherId2.Name, ["other3"] = IdentityTypes.OtherId3.Name,
        ["other4"] = IdentityTypes.OtherId4.Name, ["other5"] = IdentityTypes.OtherId5.Name, ["other6"] = IdentityTypes.OtherId6.Name,
        ["other7"] = IdentityTypes.OtherId7.Name, ["other8"] = IdentityTypes.OtherId8.Name, ["other9"] = IdentityTypes.OtherId9.Name,
        ["other10"] = IdentityTypes.OtherId10.Name, ["mobile_number"] = IdentityTypes.MobileNumber.Name,
        ["phone_number_2"] = IdentityTypes.PhoneNumber2.Name, ["phone_number_3"] = IdentityTypes.PhoneNumber3.Name,
    };

    private static readonly Dictionary<string, string> StandardOf = Standard.GroupBy(kv => kv.Value).ToDictionary(g => g.Key, g => g.First().Key);
    private static readonly Dictionary<string, string> ExtensionOf = Extension.ToDictionary(kv => kv.Value, kv => kv.Key);

    public static IEnumerable<string> StandardNames => Standard.Keys;
    /// <summary>Our identity type → its OpenDSR name, standard or extension (null: OpenDSR has no name for it).</summary>
    public static string? ToStandard(string type) => StandardOf.GetValueOrDefault(type);
    public static string? ToExtension(string type) => ExtensionOf.GetValueOrDefault(type);
    public static IEnumerable<string> ExtensionNames => Extension.Keys.Append(Mpid);
    public static string? FromStandard(string name) => Standard.GetValueOrDefault(name);
    public static string? FromExtension(string name) => Extension.GetValueOrDefault(name);
}

/// <summary>
/// A data-subject request of one workspace. Once carried out, the identities it named are kept only as hashes: the
/// record of the request stays (§1: up to a year) without holding what was erased.
/// </summary>
public sealed class DataSubjectRequest
{
    public Guid Id { get; set; }
    public int WorkspaceId { get; set; }
    public string Regulation { get; set; } = "";
    public string Type { get; set; } = "";
    public DateTimeOffset SubmittedTime { get; set; }
    public DateTimeOffset ReceivedTime { get; set; }
    /// <summary>Our identity type → value (or, after completion, "sha256:" + hash).</summary>
    public Dictionary<string, string> Identities { get; set; } = [];
    public long? Mpid { get; set; }
    public string? GroupId { get; set; }
    public List<string> CallbackUrls { get; set; } = [];
    public bool SkipWaitingPeriod { get; set; }
    public string Status { get; set; } = DsrStatuses.Pending;
    public DateTimeOffset ProcessAt { get; set; }
    public DateTimeOffset? CompletedAt { get; set; }
    public int ProfilesMatched { get; set; }
    /// <summary>The request as received (base64), echoed in the 201 (§4.3); dropped once carried out.</summary>
    public string? EncodedRequest { get; set; }

    public static readonly TimeSpan WaitingPeriod = TimeSpan.FromDays(7);
    public static readonly TimeSpan ProcessingAllowance = TimeSpan.FromHours(48);

    public DateTimeOffset? ExpectedCompletion => Status == DsrStatuses.Cancelled ? null : ProcessAt + ProcessingAllowance;

    /// <summary>Forget the personal data the request carried, keeping proof of what kind of identity it named.</summary>
    public void Redact()
    {
        Identities = Identities.ToDictionary(kv => kv.Key, kv => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(kv.Value))));
        Mpid = null;
        EncodedRequest = null;
    }

    /// <summary>Two requests ask the same thing: same type and identities.</summary>
    public bool SameAs(DataSubjectRequest other) =>
        Type == other.Type && Mpid == other.Mpid && Identities.Count == other.Identities.Count && Identities.All(kv => other.Identities.GetValueOrDefault(kv.Key) == kv.Value);
}
