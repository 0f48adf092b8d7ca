namespace EventProfiles.Domain.Identity;

/// <summary>
/// One kind of identity, with the three names mParticle uses for it: the Events API key
/// (<c>user_identities.customer_id</c> or a <c>device_info</c> field), the IDSync name (<c>customerid</c>)
/// and the Profile API type (<c>customer_id</c>, <c>ios_vendor_id</c>, ...).
/// We store and index identities under <see cref="Name"/>, the Events API spelling.
/// </summary>
public sealed record IdentityType(string Name, string IdSyncName, string ProfileApiName, bool IsDeviceIdentity)
{
    public override string ToString() => Name;
}

public static class IdentityTypes
{
    public static readonly IdentityType CustomerId = User("customer_id", "customerid");
    public static readonly IdentityType Email = User("email", "email");
    public static readonly IdentityType Other = User("other", "other");
    public static readonly IdentityType OtherId2 = User("other_id_2", "other2");
    public static readonly IdentityType OtherId3 = User("other_id_3", "other3");
    public static readonly IdentityType OtherId4 = User("other_id_4", "other4");
    public static readonly IdentityType OtherId5 = User("other_id_5", "other5");
    public static readonly IdentityType OtherId6 = User("other_id_6", "other6");
    public static readonly IdentityType OtherId7 = User("other_id_7", "other7");
    public static readonly IdentityType OtherId8 = User("other_id_8", "other8");
    public static readonly IdentityType OtherId9 = User("other_id_9", "other9");
    public static readonly IdentityType OtherId10 = User("other_id_10", "other10");
    public static readonly IdentityType MobileNumber = User("mobile_number", "mobile_number");
    public static readonly IdentityType PhoneNumber2 = User("phone_number_2", "phone_number_2");
    public static readonly IdentityType PhoneNumber3 = User("phone_number_3", "phone_number_3");
    public static readonly IdentityType Facebook = User("facebook", "facebook");
    public static readonly IdentityType Twitter = User("twitter", "twitter");
    public static readonly IdentityType Google = User("google", "google");
    public static readonly IdentityType Microsoft = User("microsoft", "microsoft");
    public static readonly IdentityType Yahoo = User("yahoo", "yahoo");
    public static readonly IdentityType Alias = User("alias", "alias");
    public static readonly IdentityType FacebookCustomAudienceId = User("facebook_custom_audience_id", "facebookcustomaudienceid");

    public static readonly IdentityType IosAdvertisingId = Device("ios_advertising_id", "ios_idfa", "ios_advertising_id");
    public static readonly IdentityType IosIdfv = Device("ios_idfv", "ios_idfv", "ios_vendor_id");
    public static readonly IdentityType AndroidAdvertisingId = Device("android_advertising_id", "android_aaid", "google_advertising_id");
    public static readonly IdentityType AndroidUuid = Device("android_uuid", "android_uuid", "android_id");
    public static readonly IdentityType PushToken = Device("push_token", "push_token", "push_notification_token");
    public static readonly IdentityType RokuAdvertisingId = Device("roku_advertising_id", "roku_aid", "roku_advertising_id");
    public static readonly IdentityType RokuPublisherId = Device("roku_publisher_id", "roku_publisher_id", "roku_publisher_id");
    public static readonly IdentityType FireAdvertisingId = Device("fire_advertising_id", "fire_aid", "fire_advertising_id");
    public static readonly IdentityType MicrosoftAdvertisingId = Device("microsoft_advertising_id", "microsoft_aid", "microsoft_advertising_id");
    public static readonly IdentityType MicrosoftPublisherId = Device("microsoft_publisher_id", "microsoft_publisher_id", "microsoft_publisher_id");
    public static readonly IdentityType AmpId = Device("amp_id", "amp_id", "amp_id");
    /// <summary>The batch's <c>mp_deviceid</c>.</summary>
    public static readonly IdentityType DeviceApplicationStamp = Device("device_application_stamp", "device_application_stamp", "device_application_stamp");

    /// <summary>Default identity priority of the spec (identity.md §7), highest first; types not listed follow in declaration order.</summary>
    public static readonly IReadOnlyList<IdentityType> DefaultPriority =
    [
        CustomerId, MobileNumber, Email, Other, Facebook, Google, Twitter, Microsoft, Yahoo,
        IosAdvertisingId, IosIdfv, AndroidAdvertisingId, AndroidUuid, RokuAdvertisingId, RokuPublisherId,
        MicrosoftPublisherId, MicrosoftAdvertisingId, DeviceApplicationStamp,
    ];

    public static readonly IReadOnlyList<IdentityType> All =
    [
        CustomerId, Email, Other, OtherId2, OtherId3, OtherId4, OtherId5, OtherId6, OtherId7, OtherId8, OtherId9, OtherId10,
        MobileNumber, PhoneNumber2, PhoneNumber3, Facebook, Twitter, Google, Microsoft, Yahoo, Alias, FacebookCustomAudienceId,
        IosAdvertisingId, IosIdfv, AndroidAdvertisingId, AndroidUuid, PushToken, RokuAdvertisingId, RokuPublisherId,
        FireAdvertisingId, MicrosoftAdvertisingId, MicrosoftPublisherId, AmpId, DeviceApplicationStamp,
    ];

    private static readonly Dictionary<string, IdentityType> ByName = All.ToDictionary(t => t.Name, StringComparer.Ordinal);

    /// <summary>Events API <c>user_identities</c> keys, including the Node/Python/Ruby SDK spellings (<c>customerid</c>).</summary>
    private static readonly Dictionary<string, IdentityType> ByUserIdentityKey = BuildUserIdentityKeys();

    private static readonly Dictionary<IdentityType, int> DeclarationOrder =
        All.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => x.i);

    private static readonly Dictionary<string, IdentityType> ByIdSyncName = All.ToDictionary(t => t.IdSyncName, StringComparer.Ordinal);

    public static IdentityType? FromName(string name) => ByName.GetValueOrDefault(name);

    public static IdentityType? FromUserIdentityKey(string key) => ByUserIdentityKey.GetValueOrDefault(key);

    public static IdentityType? FromIdSyncName(string name) => ByIdSyncName.GetValueOrDefault(name);

    /// <summary>Position in <see cref="DefaultPriority"/>; unlisted types rank after all listed ones.</summary>
    public static int PriorityOf(IdentityType type, IReadOnlyList<IdentityType>? priority = null)
    {
        var list = priority ?? DefaultPriority;
        for (var i = 0; i < list.Count; i++)
            if (list[i] == type) return i;
        return list.Count + DeclarationOrder[type];
    }

    private static IdentityType User(string name, string idSyncName) => new(name, idSyncName, name, false);

    private static IdentityType Device(string name, string idSyncName, string profileApiName) =>
        new(name, idSyncName, profileApiName, true);

    private static Dictionary<string, IdentityType> BuildUserIdentityKeys()
    {
        var keys = All.Where(t => !t.IsDeviceIdentity).ToDictionary(t => t.Name, StringComparer.Ordinal);
        // The S2S SDKs and the IDSync API spell some keys differently; both mean the same identity.
        foreach (var t in All.Where(t => !t.IsDeviceIdentity))
            keys.TryAdd(t.IdSyncName, t);
        return keys;
    }
}
