using System.Collections.Immutable;
using System.Text.Json;
using EventProfiles.Domain.Consent;
using EventProfiles.Domain.Identity;

namespace EventProfiles.Domain.Profiles;

/// <summary>
/// The unified profile of one person, folded from their stream. It is both the state the ingestion
/// decision reads (most-recent-wins needs each attribute's time, change detection needs current consent and
/// devices) and the read model the Profile API serves, so one fold serves both and a rebuild equals the live value.
/// </summary>
public sealed record Profile
{
    /// <summary>Stream key: the MPID as invariant decimal text (see <see cref="StreamKey"/>).</summary>
    public string Id { get; init; } = "";
    public long Mpid { get; init; }
    public DateTimeOffset CreatedAt { get; init; }
    /// <summary>Earliest time we know of the person: creation, or an older event timestamp (historical data).</summary>
    public DateTimeOffset FirstSeenAt { get; init; }
    /// <summary>Latest receive time or event timestamp.</summary>
    public DateTimeOffset LastSeenAt { get; init; }
    /// <summary>When a batch for the person was last stored (Profile API <c>last_stored_timestamp_ms</c>).</summary>
    public DateTimeOffset LastStoredAt { get; init; }
    public ImmutableList<ProfileIdentity> Identities { get; init; } = [];
    /// <summary>Placeholder identities the person sent that were never used to match them (<see cref="UserIdentityIgnored"/>).</summary>
    public ImmutableList<ProfileIdentity> IgnoredIdentities { get; init; } = [];
    public ImmutableSortedDictionary<int, WorkspaceProfile> Workspaces { get; init; } = ImmutableSortedDictionary<int, WorkspaceProfile>.Empty;
    /// <summary>Aliases this profile took part in, as source or destination.</summary>
    public ImmutableList<ProfileAlias> Aliases { get; init; } = [];
    /// <summary>Splits and merges this profile took part in (issue 21 §1), oldest first.</summary>
    public ImmutableList<ProfileMove> Moves { get; init; } = [];
    /// <summary>Links the merge guards held (issue 21 §4), until an operator accepts them: the person is flagged while any is here.</summary>
    public ImmutableList<HeldMerge> HeldMerges { get; init; } = [];
    /// <summary>Stored with the document, so the list of flagged people is an indexed query.</summary>
    public bool HasHeldMerges => HeldMerges.Count > 0;
    public bool IsOptedOut { get; init; }
    /// <summary>Set while the profile is aged out (no data within its lifetime); cleared on reactivation.</summary>
    public DateTimeOffset? AgedOutAt { get; init; }
    public bool IsLive => AgedOutAt is null;
    /// <summary>When the person last came back after ageing out. An IDSync call or a seed brings them back without a batch,
    /// so the lifetime counts from here too; retention still counts from <see cref="LastStoredAt"/> (a batch).</summary>
    public DateTimeOffset? ReactivatedAt { get; init; }
    /// <summary>Where the profile lifetime counts from: the last batch stored, or the return, whichever is later.</summary>
    public DateTimeOffset LifetimeFrom => ReactivatedAt is { } back && back > LastStoredAt ? back : LastStoredAt;
    public DateTimeOffset? OptOutChangedAt { get; init; }
    public bool? LimitAdTracking { get; init; }
    public DateTimeOffset? LimitAdTrackingChangedAt { get; init; }

    public static Profile Create(ProfileCreated e) => new()
    {
        Id = StreamKey.For(e.Mpid),
        Mpid = e.Mpid,
        CreatedAt = e.At,
        FirstSeenAt = e.At,
        LastSeenAt = e.At,
        LastStoredAt = e.At,
    };

    public WorkspaceProfile Workspace(int workspaceId) =>
        Workspaces.TryGetValue(workspaceId, out var ws) ? ws : WorkspaceProfile.Empty;

    public ProfileIdentity? UserIdentity(string type) =>
        Identities.FirstOrDefault(i => i.Type == type && !IsDeviceType(i.Type));

    public bool HasIdentity(string type, string value) => Identities.Any(i => i.Type == type && i.Value == value);

    // One copy of the record, not two (this runs for every batch).
    public Profile Apply(BatchReceived e) => this with
    {
        Workspaces = Workspaces.SetItem(e.WorkspaceId, Workspace(e.WorkspaceId).Seen(e.ReceivedAt)),
        LastStoredAt = Max(LastStoredAt, e.ReceivedAt),
        LastSeenAt = Max(LastSeenAt, e.ReceivedAt),
    };

    /// <summary>True once the person sent data to this workspace: only then may the workspace see the profile.</summary>
    public bool IsKnownIn(int workspaceId) => Workspaces.ContainsKey(workspaceId);

    // Most captured events move neither bound: then no copy (this runs for every event).
    public Profile Apply(EventCaptured e) =>
        e.Timestamp >= FirstSeenAt && e.Timestamp <= LastSeenAt
            ? this
            : this with
            {
                FirstSeenAt = e.Timestamp < FirstSeenAt ? e.Timestamp : FirstSeenAt,
                LastSeenAt = Max(LastSeenAt, e.Timestamp),
            };

    // An identity linked through a workspace's input (a batch or an IDSync call) makes the person known there.
    public Profile Apply(UserIdentityAdded e) =>
        HasIdentity(e.IdentityType, e.Value)
            ? this
            : WithWorkspace(e.WorkspaceId, ws => ws.Seen(e.At)) with
            {
                Identities = Identities.Add(new ProfileIdentity(e.IdentityType, e.Value, e.At, e.WorkspaceId, e.Input)),
                // Linked after all (IDSync, modify, an accept): no longer held.
                HeldMerges = HeldMerges.Count == 0 ? HeldMerges : HeldMerges.RemoveAll(h => h.Type == e.IdentityType && h.Value == e.Value),
            };

    public Profile Apply(MergeHeld e) => this with
    {
        HeldMerges = HeldMerges.AddRange(e.Identities
            .Where(i => !HeldMerges.Any(h => h.Type == i.Type && h.Value == i.Value))
            .Select(i => new HeldMerge(i.Type, i.Value, i.Reason, e.At, e.WorkspaceId, e.Input, e.BatchId))),
    };

    public Profile Apply(MergeAccepted e) => this with { HeldMerges = [] };

    public Profile Apply(UserIdentityChanged e)
    {
        var old = Identities.FirstOrDefault(i => i.Type == e.IdentityType && i.Value == e.OldValue);
        var without = old is null ? Identities : Identities.Remove(old);
        return WithWorkspace(e.WorkspaceId, ws => ws.Seen(e.At)) with
        {
            Identities = without.Add(new ProfileIdentity(e.IdentityType, e.NewValue, e.At, e.WorkspaceId, e.Input)),
        };
    }

    public bool HasIgnored(string type, string value) => IgnoredIdentities.Any(i => i.Type == type && i.Value == value);

    public Profile Apply(UserIdentityIgnored e) =>
        HasIgnored(e.IdentityType, e.Value)
            ? this
            : WithWorkspace(e.WorkspaceId, ws => ws.Seen(e.At)) with // the person did send it to this workspace
            {
                IgnoredIdentities = IgnoredIdentities.Add(new ProfileIdentity(e.IdentityType, e.Value, e.At, e.WorkspaceId, e.Input)),
            };

    public Profile Apply(UserIdentityRemoved e) =>
        this with { Identities = Identities.RemoveAll(i => i.Type == e.IdentityType && i.Value == e.Value) };

    public Profile Apply(UserAttributeSet e) =>
        WithWorkspace(e.WorkspaceId, ws => ws.SetAttribute(e.Name, new AttributeEntry(e.Value, e.EffectiveAt, false)));

    public Profile Apply(UserAttributeRemoved e) =>
        WithWorkspace(e.WorkspaceId, ws => ws.SetAttribute(e.Name, new AttributeEntry(null, e.EffectiveAt, true)));

    public Profile Apply(ConsentStateChanged e) =>
        WithWorkspace(e.WorkspaceId, ws => ws.SetConsent(e.Regulation, e.Purpose, e.Record));

    public Profile Apply(DeviceSeen e) => WithWorkspace(e.WorkspaceId, ws => ws.SeeDevice(e));

    public Profile Apply(InstallAttributed e) => WithWorkspace(e.WorkspaceId, ws => ws.Attribute(e));

    public Profile Apply(ProfileAliasedTo e) =>
        this with { Aliases = Aliases.Add(new ProfileAlias(e.AliasId, Mpid, e.DestinationMpid, e.WindowStart, e.WindowEnd, 0, e.At)) };

    /// <summary>The source's first seen overwrites the destination's (identity.md §9).</summary>
    public Profile Apply(ProfileAliasedFrom e) => this with
    {
        FirstSeenAt = e.SourceFirstSeenAt,
        Aliases = Aliases.Add(new ProfileAlias(e.AliasId, e.SourceMpid, Mpid, e.WindowStart, e.WindowEnd, e.EventsCopied, e.At)),
    };

    public Profile Apply(OptOutChanged e) =>
        OptOutChangedAt is { } at && at > e.At ? this : this with { IsOptedOut = e.IsOptedOut, OptOutChangedAt = e.At };

    public Profile Apply(LimitAdTrackingChanged e) =>
        LimitAdTrackingChangedAt is { } at && at > e.At
            ? this
            : this with { LimitAdTracking = e.LimitAdTracking, LimitAdTrackingChangedAt = e.At };

    public Profile Apply(ProfileAgedOut e) => this with { AgedOutAt = e.At };

    /// <summary>
    /// Live again, starting afresh (issue 16 §2): the profile's real-time state begins at the return. The MPID, user
    /// identities, aliases and opt-out stay (identity resolution and privacy have their own life), and so does where and
    /// when the person was seen; attributes (tombstones too), consent, devices and install attribution from before do not
    /// (device identities go with <see cref="Reactivation"/>'s removals). The events stay in the stream for retention-backed
    /// reads (standard audiences, data replay, the User Activity View).
    /// </summary>
    public Profile Apply(ProfileReactivated e) => this with
    {
        AgedOutAt = null,
        ReactivatedAt = e.At,
        Workspaces = Workspaces.ToImmutableSortedDictionary(w => w.Key, w => WorkspaceProfile.Empty with { FirstSeenAt = w.Value.FirstSeenAt, LastSeenAt = w.Value.LastSeenAt }),
    };

    /// <summary>The workspace erased its data of the person: nothing of that workspace remains, and the person is no longer known there.</summary>
    public Profile Apply(Privacy.WorkspaceDataErased e) => this with
    {
        Workspaces = Workspaces.Remove(e.WorkspaceId),
        IgnoredIdentities = IgnoredIdentities.RemoveAll(i => i.WorkspaceId == e.WorkspaceId),
    };

    /// <summary>Folds a sequence of events onto this state (the decision uses it to see its own effect).</summary>
    public Profile Evolve(object @event) => @event switch
    {
        BatchReceived e => Apply(e),
        EventCaptured e => Apply(e),
        UserIdentityAdded e => Apply(e),
        UserIdentityChanged e => Apply(e),
        UserIdentityRemoved e => Apply(e),
        UserIdentityIgnored e => Apply(e),
        UserAttributeSet e => Apply(e),
        UserAttributeRemoved e => Apply(e),
        ConsentStateChanged e => Apply(e),
        DeviceSeen e => Apply(e),
        InstallAttributed e => Apply(e),
        OptOutChanged e => Apply(e),
        ProfileAliasedTo e => Apply(e),
        ProfileAliasedFrom e => Apply(e),
        LimitAdTrackingChanged e => Apply(e),
        ProfileAgedOut e => Apply(e),
        ProfileReactivated e => Apply(e),
        Privacy.WorkspaceDataErased e => Apply(e),
        PersonSplit e => this with { Moves = Moves.Add(ProfileMove.Of(e, Mpid)) },
        PeopleMerged e => this with { Moves = Moves.Add(ProfileMove.Of(e, Mpid)) },
        MergeHeld e => Apply(e),
        MergeAccepted e => Apply(e),
        _ => this,
    };

    private Profile WithWorkspace(int workspaceId, Func<WorkspaceProfile, WorkspaceProfile> change) =>
        this with { Workspaces = Workspaces.SetItem(workspaceId, change(Workspace(workspaceId))) };

    private static bool IsDeviceType(string type) => IdentityTypes.FromName(type)?.IsDeviceIdentity ?? false;

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a >= b ? a : b;
}

/// <summary>A split or merge as the profile shows it: which one, with whom, what moved, who did it and why.</summary>
public sealed record ProfileMove(string Kind, string Id, long OtherMpid, bool Gave, IReadOnlyList<IdentityKey> Identities, int EventsMoved,
    string? UndoesSplit, string Reason, string By, DateTimeOffset At)
{
    public static ProfileMove Of(PersonSplit e, long mpid) =>
        new("split", e.SplitId, mpid == e.OriginalMpid ? e.NewMpid : e.OriginalMpid, mpid == e.OriginalMpid, e.Identities, e.EventsMoved, null, e.Reason, e.By, e.At);

    public static ProfileMove Of(PeopleMerged e, long mpid) =>
        new(e.UndoesSplit is null ? "merge" : "split_undone", e.MergeId, mpid == e.SourceMpid ? e.DestinationMpid : e.SourceMpid, mpid == e.SourceMpid,
            e.Identities, e.EventsMoved, e.UndoesSplit, e.Reason, e.By, e.At);
}

public sealed record ProfileAlias(string Id, long SourceMpid, long DestinationMpid, DateTimeOffset WindowStart, DateTimeOffset WindowEnd, int EventsCopied, DateTimeOffset At);

/// <summary>An identity the person holds, with when and through which input it was linked.</summary>
public sealed record ProfileIdentity(string Type, string Value, DateTimeOffset AddedAt, int WorkspaceId, string Input);

/// <summary>
/// A user attribute's current state. Removed attributes stay as tombstones with their removal time, so a
/// late-arriving older write cannot bring them back (most recent wins, also for deletions).
/// </summary>
public sealed record AttributeEntry(JsonElement? Value, DateTimeOffset UpdatedAt, bool Removed);

/// <summary>What the person has in one workspace: attributes, consent and devices are workspace-scoped.</summary>
public sealed record WorkspaceProfile
{
    public static readonly WorkspaceProfile Empty = new();

    /// <summary>First and latest batch the workspace received for the person.</summary>
    public DateTimeOffset? FirstSeenAt { get; init; }
    public DateTimeOffset? LastSeenAt { get; init; }

    public ImmutableSortedDictionary<string, AttributeEntry> Attributes { get; init; } =
        ImmutableSortedDictionary.Create<string, AttributeEntry>(StringComparer.Ordinal);

    /// <summary>GDPR purposes (lower-case) → latest record.</summary>
    public ImmutableSortedDictionary<string, ConsentRecord> Gdpr { get; init; } =
        ImmutableSortedDictionary.Create<string, ConsentRecord>(StringComparer.Ordinal);

    /// <summary>CCPA <c>data_sale_opt_out</c>.</summary>
    public ConsentRecord? Ccpa { get; init; }

    public ImmutableSortedDictionary<string, DeviceRecord> Devices { get; init; } =
        ImmutableSortedDictionary.Create<string, DeviceRecord>(StringComparer.Ordinal);

    /// <summary>Current, non-removed attributes.</summary>
    public IEnumerable<KeyValuePair<string, JsonElement?>> CurrentAttributes() =>
        Attributes.Where(a => !a.Value.Removed).Select(a => KeyValuePair.Create(a.Key, a.Value.Value));

    public ConsentRecord? Consent(string regulation, string purpose) =>
        regulation == Regulations.Ccpa ? Ccpa : Gdpr.GetValueOrDefault(purpose);

    internal WorkspaceProfile Seen(DateTimeOffset at) =>
        FirstSeenAt <= at && LastSeenAt >= at
            ? this // within what is known: no copy, and the workspace map keeps its node
            : this with
            {
                FirstSeenAt = FirstSeenAt is { } first && first <= at ? first : at,
                LastSeenAt = LastSeenAt is { } last && last >= at ? last : at,
            };

    internal WorkspaceProfile SetAttribute(string name, AttributeEntry entry) =>
        Attributes.TryGetValue(name, out var current) && current.UpdatedAt > entry.UpdatedAt
            ? this // an older write arrived late: the newer value stays
            : this with { Attributes = Attributes.SetItem(name, entry) };

    internal WorkspaceProfile SetConsent(string regulation, string purpose, ConsentRecord record)
    {
        var current = Consent(regulation, purpose);
        if (current is not null && current.At > record.At) return this;
        return regulation == Regulations.Ccpa ? this with { Ccpa = record } : this with { Gdpr = Gdpr.SetItem(purpose, record) };
    }

    internal WorkspaceProfile SeeDevice(DeviceSeen e)
    {
        var device = Devices.TryGetValue(e.DeviceKey, out var known)
            ? known with
            {
                LastSeenAt = known.LastSeenAt > e.At ? known.LastSeenAt : e.At,
                Identities = known.Identities.SetItems(e.Identities),
                Platform = e.Platform ?? known.Platform,
                AttAuthorizationStatus = e.AttAuthorizationStatus ?? known.AttAuthorizationStatus,
                AttStatusAt = e.AttStatusAt ?? known.AttStatusAt,
                DeviceInfo = e.DeviceInfo ?? known.DeviceInfo,
            }
            : new DeviceRecord(e.DeviceKey, e.DeviceApplicationStamp, e.At, e.At,
                ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, e.Identities),
                e.Platform, e.AttAuthorizationStatus, e.AttStatusAt, e.DeviceInfo, null);
        return this with { Devices = Devices.SetItem(e.DeviceKey, device) };
    }

    /// <summary>Latest install attribution of the person in this workspace (also kept on its device when known).</summary>
    public InstallAttribution? InstallAttribution { get; init; }

    internal WorkspaceProfile Attribute(InstallAttributed e)
    {
        var attribution = new InstallAttribution(e.Publisher, e.Campaign, e.At);
        var result = InstallAttribution is { } known && known.At > e.At ? this : this with { InstallAttribution = attribution };
        if (e.DeviceKey is null || !Devices.TryGetValue(e.DeviceKey, out var device)) return result;
        return result with { Devices = Devices.SetItem(e.DeviceKey, device with { InstallAttribution = attribution }) };
    }
}

public sealed record DeviceRecord(
    string Key,
    string? DeviceApplicationStamp,
    DateTimeOffset FirstSeenAt,
    DateTimeOffset LastSeenAt,
    ImmutableSortedDictionary<string, string> Identities,
    string? Platform,
    string? AttAuthorizationStatus,
    DateTimeOffset? AttStatusAt,
    JsonElement? DeviceInfo,
    InstallAttribution? InstallAttribution);

public sealed record InstallAttribution(string Publisher, string Campaign, DateTimeOffset At);

/// <summary>
/// What bringing an aged-out person back records (retention-and-privacy.md §3, issue 16 §2): the reactivation (the
/// profile starts afresh, see <see cref="Profile.Apply(ProfileReactivated)"/>), and the removal of every device identity —
/// only the device in use now is reliable, and the batch at hand records it again. The removals also take the old devices
/// out of the identity index.
/// </summary>
public static class Reactivation
{
    public static IReadOnlyList<object> Events(Profile profile, DateTimeOffset at, string input) =>
        profile.AgedOutAt is not { } agedOutAt
            ? []
            : [
                new ProfileReactivated(at, agedOutAt),
                .. profile.Identities
                    .Where(i => IdentityTypes.FromName(i.Type)?.IsDeviceIdentity ?? false)
                    .Select(i => (object)new UserIdentityRemoved(i.WorkspaceId, i.Type, i.Value, at, input)),
            ];
}
