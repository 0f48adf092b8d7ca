using System.Globalization;
using System.Text.Json.Nodes;
using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.Privacy;

/// <summary>
/// The message an output gets when a person of its workspace is erased (issue 16, item 5; retention-and-privacy.md §4.5
/// "Erasure forwarding"): the partner DSR message, OpenDSR v3-shaped, naming the person as they were just before the
/// erasure — the identities of the request first (they win over the profile's), then every identity the profile held,
/// and the MPID. It is built before anything is deleted and is the only thing about the person that outlives the erasure.
/// </summary>
public static class ErasureNotice
{
    /// <summary>The <c>input</c> of a notice's delivery: tells a notice from a forwarded batch by its stored key, not its body.</summary>
    public const string InputPrefix = "erasure:";

    public static string InputOf(Guid requestId) => InputPrefix + requestId.ToString("D");

    public static bool IsNotice(string input) => input.StartsWith(InputPrefix, StringComparison.Ordinal);

    public static JsonObject Build(DataSubjectRequest request, Profile? person, long mpid)
    {
        var identities = request.Identities.Select(kv => (Type: kv.Key, Value: kv.Value))
            .Concat((person?.Identities ?? []).Select(i => (i.Type, i.Value)))
            .Distinct().ToList();
        var standard = new JsonObject();
        var extension = new JsonObject { [DsrIdentityTypes.Mpid] = Raw(mpid.ToString(CultureInfo.InvariantCulture)) };
        foreach (var (type, value) in identities)
        {
            // One value per OpenDSR name (the first: the request's, else the profile's oldest); every value is in "identities".
            if (DsrIdentityTypes.ToStandard(type) is { } name) { if (!standard.ContainsKey(name)) standard[name] = Raw(value); }
            else if (DsrIdentityTypes.ToExtension(type) is { } ext && !extension.ContainsKey(ext)) extension[ext] = Raw(value);
        }
        return new JsonObject
        {
            ["type"] = "dsr_processing_request",
            ["subject_request_id"] = request.Id.ToString("D"),
            ["subject_request_type"] = DsrTypes.Erasure,
            ["submitted_time"] = request.SubmittedTime.ToUnixTimeSeconds(),
            ["regulation"] = request.Regulation,
            ["api_version"] = "3.0",
            ["controller_id"] = request.WorkspaceId.ToString(CultureInfo.InvariantCulture),
            ["mpid"] = mpid.ToString(CultureInfo.InvariantCulture), // a string: 64-bit, beyond JavaScript's exact integers
            ["subject_identities"] = standard,
            ["extensions"] = new JsonObject
            {
                ["opendsr.mparticle.com"] = new JsonObject
                {
                    ["subject_identities"] = extension,
                    ["identities"] = new JsonArray(identities.Select(i => (JsonNode?)new JsonObject { ["identity_type"] = i.Type, ["identity"] = i.Value }).ToArray()),
                },
            },
        };
    }

    private static JsonObject Raw(string value) => new() { ["value"] = value, ["encoding"] = "raw" };
}
