using System.Text.Json;
using EventProfiles.Domain.Identity;

namespace EventProfiles.Domain.Ingestion;

/// <summary>
/// A batch as typed fields plus its original JSON: <see cref="Envelope"/> is the batch without its <c>events</c>
/// array and <see cref="EventData"/> the <c>data</c> object of each event, both verbatim.
/// </summary>
public sealed record ParsedBatch(Batch Batch, JsonElement Envelope, IReadOnlyList<JsonElement> EventData, int SizeInBytes)
{
    /// <summary>What was changed to keep the batch (server-to-server names cut to the limit), for the answer and the Live Stream.</summary>
    public IReadOnlyList<BatchWarning> Warnings { get; init; } = [];

    public IReadOnlyList<EventEnvelope> Events => (IReadOnlyList<EventEnvelope>?)Batch.Events ?? [];

    /// <summary>
    /// Every identity the batch carries: <c>user_identities</c> (either spelling), the identity fields of
    /// <c>device_info</c>, and <c>mp_deviceid</c> as the device application stamp.
    /// </summary>
    public IReadOnlyList<IdentityKey> Identities()
    {
        var result = new List<IdentityKey>();
        if (Batch.UserIdentities is { } userIdentities)
            foreach (var (key, value) in userIdentities)
                if (value is { Text: { Length: > 0 } text } && IdentityTypes.FromUserIdentityKey(key) is { } type)
                    result.Add(new IdentityKey(type.Name, text));
        result.AddRange(DeviceIdentities());
        return result.Distinct().ToList();
    }

    public IReadOnlyList<IdentityKey> DeviceIdentities()
    {
        var result = new List<IdentityKey>();
        if (Batch.DeviceInfo is { } d)
        {
            Add(IdentityTypes.IosAdvertisingId, d.IosAdvertisingId);
            Add(IdentityTypes.IosIdfv, d.IosIdfv);
            Add(IdentityTypes.AndroidAdvertisingId, d.AndroidAdvertisingId);
            Add(IdentityTypes.AndroidUuid, d.AndroidUuid);
            Add(IdentityTypes.PushToken, d.PushToken);
            Add(IdentityTypes.RokuAdvertisingId, d.RokuAdvertisingId);
            Add(IdentityTypes.RokuPublisherId, d.RokuPublisherId);
            Add(IdentityTypes.FireAdvertisingId, d.FireAdvertisingId);
            Add(IdentityTypes.MicrosoftAdvertisingId, d.MicrosoftAdvertisingId);
            Add(IdentityTypes.MicrosoftPublisherId, d.MicrosoftPublisherId);
            Add(IdentityTypes.AmpId, d.AmpId);
        }
        Add(IdentityTypes.DeviceApplicationStamp, Batch.MpDeviceId);
        return result;

        void Add(IdentityType type, string? value)
        {
            if (!string.IsNullOrEmpty(value)) result.Add(new IdentityKey(type.Name, value));
        }
    }

    /// <summary>The device this batch came from: its application stamp, else its first device identity.</summary>
    public string? DeviceKey()
    {
        var ids = DeviceIdentities();
        var stamp = ids.FirstOrDefault(i => i.Type == IdentityTypes.DeviceApplicationStamp.Name);
        if (stamp != default) return stamp.Value;
        return ids.Count > 0 ? ids[0].ToString() : null;
    }
}

/// <summary>A change made to a batch so it could be kept (a name cut to its limit): the JSON path in the batch and what was done.</summary>
public sealed record BatchWarning(string Field, string Message);
