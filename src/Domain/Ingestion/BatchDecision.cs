using System.Text.Json;
using EventProfiles.Domain.Consent;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;

namespace EventProfiles.Domain.Ingestion;

/// <summary>Everything the decision needs besides the batch and the profile; gathered by the caller, so the decision stays pure.</summary>
public sealed record IngestionContext(
    long Mpid,
    bool IsNewProfile,
    int WorkspaceId,
    string Input,
    InputKind InputKind,
    string Environment,
    Guid BatchId,
    DateTimeOffset ReceivedAt,
    bool IsHistorical,
    IReadOnlyList<IdentityKey> IdentitiesToLink,
    IReadOnlySet<string> KnownMessageIds,
    IdentitySettings Identity,
    IReadOnlyDictionary<IdentityKey, int>? OtherHolders = null);

/// <summary>
/// The ingestion decision: (current profile, batch) → the events to append to the person's stream.
/// Pure: no clock, no I/O. What changes nothing produces no event (an unchanged attribute, a repeated
/// <c>source_message_id</c>, an older write than what the profile holds).
/// </summary>
public static class BatchDecision
{
    public static IReadOnlyList<object> Decide(Profile? current, ParsedBatch parsed, IngestionContext ctx) => DecideAndFold(current, parsed, ctx).Events;

    /// <summary>
    /// The decision's events and the profile they fold to from <paramref name="current"/>. The decision folds each event
    /// as it emits it (to see its own effect), so the group writer takes this profile instead of folding the events again:
    /// the fold's record copies were ~7 % of the Host's allocations per batch.
    /// </summary>
    public static (IReadOnlyList<object> Events, Profile Profile) DecideAndFold(Profile? current, ParsedBatch parsed, IngestionContext ctx)
    {
        var decided = new List<object>();
        var profile = current;
        void Emit(object e)
        {
            decided.Add(e);
            profile = profile is null ? Profile.Create((ProfileCreated)e) : profile.Evolve(e);
        }

        if (profile is null) Emit(new ProfileCreated(ctx.Mpid, ctx.ReceivedAt));
        var batch = parsed.Batch;
        var ws = ctx.WorkspaceId;

        Emit(new BatchReceived(ctx.BatchId, ws, ctx.Input, ctx.Environment, ctx.ReceivedAt, batch.SourceRequestId, ctx.IsHistorical, parsed.Envelope));

        var source = new IdentitySource(ws, ctx.Input, ctx.ReceivedAt);
        // Merge guards: links that look like damage (a value on too many people, too many new identities) are held.
        var held = ctx.IdentitiesToLink.Count == 0 ? [] : MergeGuards.Check(profile!, ctx.IdentitiesToLink.Where(ctx.Identity.IsMatchable), ctx.OtherHolders, ctx.Identity, ctx.ReceivedAt);
        foreach (var identity in ctx.IdentitiesToLink.Where(ctx.Identity.IsMatchable))
        {
            // An SDK batch repeats what its IDSync calls already settled, possibly late: it adds, it never replaces.
            if (ctx.InputKind.IsSdk() && profile!.UserIdentity(identity.Type) is not null) continue;
            if (held.Count > 0 && held.Any(h => h.Type == identity.Type && h.Value == identity.Value)) continue;
            if (IdentityLinking.Link(profile!, identity, ctx.Identity, source) is { } change) Emit(change);
        }
        if (held.Count > 0 && held.Where(h => !profile!.HeldMerges.Any(m => m.Type == h.Type && m.Value == h.Value)).ToList() is { Count: > 0 } newlyHeld)
            Emit(new MergeHeld(ws, ctx.BatchId, ctx.Input, ctx.ReceivedAt, newlyHeld));
        // Placeholders stay in the batch and on the device record as sent; the profile notes once that they were ignored.
        foreach (var identity in parsed.Identities())
            if (IdentityLinking.Ignored(profile!, identity, ctx.Identity, source) is { } ignored) Emit(ignored);

        // Server inputs write batch attributes straight to the profile at receive time; SDK batches carry a
        // snapshot that may be stale, so for them only user_attribute_change events count (events-api.md §8).
        if (ctx.InputKind == InputKind.Server)
        {
            foreach (var (name, value) in batch.UserAttributes ?? [])
                if (SetAttribute(profile!, ws, name, value, ctx.ReceivedAt, ctx.Input) is { } set) Emit(set);
            foreach (var name in batch.DeletedUserAttributes ?? [])
                if (name is not null && RemoveAttribute(profile!, ws, name, ctx.ReceivedAt, ctx.Input) is { } removed) Emit(removed);
        }

        foreach (var change in ConsentChanges(profile!, batch.ConsentState, ctx)) Emit(change);

        foreach (var deviceEvent in DeviceChanges(profile!, parsed, ctx)) Emit(deviceEvent);

        var seenMessageIds = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < parsed.Events.Count; i++)
        {
            var envelope = parsed.Events[i];
            var data = envelope.Data ?? new EventData();
            var messageId = data.SourceMessageId;
            if (messageId is not null && (ctx.KnownMessageIds.Contains(messageId) || !seenMessageIds.Add(messageId)))
                continue; // already stored in this stream: a client retry

            var at = data.TimestampUnixtimeMs is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : ctx.ReceivedAt;
            var type = envelope.EventType!;
            Emit(new EventCaptured(ctx.BatchId, ws, type, at, messageId, data.EventName ?? data.ScreenName, parsed.EventData[i]));

            foreach (var derived in DerivedFromEvent(profile!, type, data, at, parsed.DeviceKey(), ctx)) Emit(derived);
        }

        return (decided, profile!); // never null: BatchReceived is always emitted
    }

    private static UserAttributeSet? SetAttribute(Profile profile, int ws, string name, JsonElement value, DateTimeOffset at, string input)
    {
        if (profile.Workspace(ws).Attributes.TryGetValue(name, out var current))
        {
            if (current.UpdatedAt > at) return null;
            if (!current.Removed && current.Value is { } v && JsonElement.DeepEquals(v, value)) return null;
        }
        return new UserAttributeSet(ws, name, value.Clone(), at, input);
    }

    private static UserAttributeRemoved? RemoveAttribute(Profile profile, int ws, string name, DateTimeOffset at, string input)
    {
        if (profile.Workspace(ws).Attributes.TryGetValue(name, out var current) && (current.Removed || current.UpdatedAt > at))
            return null;
        return new UserAttributeRemoved(ws, name, at, input);
    }

    private static IEnumerable<ConsentStateChanged> ConsentChanges(Profile profile, ConsentState? state, IngestionContext ctx)
    {
        if (state is null) yield break;
        var workspace = profile.Workspace(ctx.WorkspaceId);
        foreach (var (purpose, input) in state.Gdpr ?? [])
            if (input is not null && Changed(Regulations.Gdpr, NormalisePurpose(purpose), input) is { } e) yield return e;
        if (state.Ccpa?.GetValueOrDefault(Regulations.CcpaPurpose) is { } ccpa && Changed(Regulations.Ccpa, Regulations.CcpaPurpose, ccpa) is { } c)
            yield return c;

        ConsentStateChanged? Changed(string regulation, string purpose, ConsentRecordInput input)
        {
            var record = new ConsentRecord(
                input.Consented!.Value,
                input.TimestampUnixtimeMs is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : ctx.ReceivedAt,
                input.Document, input.Location, input.HardwareId);
            var current = workspace.Consent(regulation, purpose);
            if (current is not null && (current == record || current.At > record.At)) return null;
            return new ConsentStateChanged(ctx.WorkspaceId, regulation, purpose, record, ctx.Input);
        }
    }

    /// <summary>Purposes are matched case-insensitively and stored lower-case, as the web SDK sends them (consent.md §3).</summary>
    public static string NormalisePurpose(string purpose) => purpose.Trim().ToLowerInvariant();

    private static IEnumerable<object> DeviceChanges(Profile profile, ParsedBatch parsed, IngestionContext ctx)
    {
        var info = parsed.Batch.DeviceInfo;
        if (info?.LimitAdTracking is { } lat && profile.LimitAdTracking != lat)
            yield return new LimitAdTrackingChanged(ctx.WorkspaceId, lat, ctx.ReceivedAt);

        if (parsed.DeviceKey() is not { } key) yield break;
        var identities = parsed.DeviceIdentities().ToDictionary(i => i.Type, i => i.Value, StringComparer.Ordinal);
        JsonElement? infoJson = parsed.Envelope.TryGetProperty("device_info", out var d) && d.ValueKind == JsonValueKind.Object ? d : null;
        var attAt = info?.AttTimestampUnixtimeMs is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : (DateTimeOffset?)null;

        if (profile.Workspace(ctx.WorkspaceId).Devices.TryGetValue(key, out var known) &&
            identities.All(i => known.Identities.GetValueOrDefault(i.Key) == i.Value) &&
            (info?.Platform is null || info.Platform == known.Platform) &&
            (info?.AttAuthorizationStatus is null || info.AttAuthorizationStatus == known.AttAuthorizationStatus) &&
            (infoJson is null || known.DeviceInfo is { } k && JsonElement.DeepEquals(k, infoJson.Value)))
            yield break; // nothing new about this device

        yield return new DeviceSeen(ctx.WorkspaceId, key, ctx.ReceivedAt, parsed.Batch.MpDeviceId, identities,
            info?.Platform, info?.AttAuthorizationStatus, attAt, infoJson?.Clone());
    }

    private static IEnumerable<object> DerivedFromEvent(Profile profile, string eventType, EventData data, DateTimeOffset at, string? deviceKey, IngestionContext ctx)
    {
        switch (eventType)
        {
            case EventTypes.UserAttributeChange when data.UserAttributeName is { } name:
                // A null "new" that is not a deletion is a user tag: an attribute without a value.
                object? change = data.Deleted == true
                    ? RemoveAttribute(profile, ctx.WorkspaceId, name, at, ctx.Input)
                    : SetAttribute(profile, ctx.WorkspaceId, name, data.New ?? JsonNull, at, ctx.Input);
                if (change is not null) yield return change;
                break;

            case EventTypes.OptOut:
                var optedOut = data.IsOptedOut ?? false;
                if (profile.IsOptedOut != optedOut && (profile.OptOutChangedAt is null || profile.OptOutChangedAt <= at))
                    yield return new OptOutChanged(ctx.WorkspaceId, optedOut, at);
                break;

            case EventTypes.CustomEvent when data.CustomEventType == "attribution" && data.EventName == "attribution":
                var publisher = Text(data.CustomAttributes, "publisher");
                var campaign = Text(data.CustomAttributes, "campaign");
                if (publisher is not null && campaign is not null)
                    yield return new InstallAttributed(ctx.WorkspaceId, deviceKey, publisher, campaign, at);
                break;
        }
    }

    private static readonly JsonElement JsonNull = JsonDocument.Parse("null").RootElement;

    private static string? Text(Dictionary<string, JsonElement>? attributes, string name) =>
        attributes is not null && attributes.TryGetValue(name, out var v)
            ? v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetRawText()
            : null;
}
