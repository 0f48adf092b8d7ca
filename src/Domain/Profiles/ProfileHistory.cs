using System.Text.Json;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Privacy;

namespace EventProfiles.Domain.Profiles;

/// <summary>
/// One event of a person's stream as history reads it: its position, when it was stored (what "as it stood then"
/// means: what we knew at that moment, not the time a client wrote on the event) and the event itself.
/// </summary>
public sealed record StoredEvent(long Version, long Sequence, DateTimeOffset StoredAt, object Data);

/// <summary>
/// A person as they stood at an instant (issue 21 §2), folded from their stream with the profile's own fold
/// (<see cref="Profile.Evolve"/>) and the calculations' own fold (<see cref="PersonCalculations.FoldValues"/>), so the
/// past is computed by the code that computed the present.
/// Erasure and expiry reach back: an erasure deletes the erased events from the stream (so no fold can see them) and
/// records <see cref="WorkspaceDataErased"/>; an ageing out records <see cref="ProfileAgedOut"/>. Both are applied to the
/// past state even when they happened after the instant, so a date before an erasure or an expiry never shows what
/// was erased or expired.
/// Splits and merges are today's corrections and reach back the same way: every read of the past takes only the
/// stream's visible events (<see cref="Past"/>), so a moved version is hidden at every instant and the receiving
/// person's copies count from their original stored times.
/// </summary>
public static class ProfileAsOf
{
    /// <summary>Events whose effect holds for every earlier instant too.</summary>
    public static bool ReachesBack(object data) => data is WorkspaceDataErased or ProfileAgedOut;

    /// <summary>
    /// The events a read of the past folds: the visible ones, with the hidden set computed over the whole stream (as of
    /// its end, undos included), whatever instant is read. Pass the whole stream, never a prefix cut at the instant:
    /// a split after the instant must hide what it moved before it.
    /// </summary>
    public static IReadOnlyList<StoredEvent> Past(IEnumerable<StoredEvent> stream) =>
        MovedEvents.Visible(stream as IReadOnlyList<StoredEvent> ?? stream.ToList(), e => e.Version, e => e.Data);

    /// <param name="stream">The person's events in stream order.</param>
    /// <returns>null when the person did not exist yet at <paramref name="instant"/>.</returns>
    public static Profile? Fold(IEnumerable<StoredEvent> stream, DateTimeOffset instant)
    {
        Profile? profile = null;
        foreach (var e in Past(stream))
        {
            if (e.StoredAt <= instant)
                profile = e.Data is ProfileCreated created ? profile ?? Profile.Create(created) : profile?.Evolve(e.Data);
            else if (profile is not null && ReachesBack(e.Data))
                profile = profile.Evolve(e.Data);
        }
        return profile;
    }

    /// <summary>
    /// The person's calculated-attribute state at <paramref name="instant"/>: every event stored by then, folded by each
    /// definition as the live projection folds it (no part left to a replay: the whole stream is at hand), with the
    /// person's own clock. Values are read at the instant (<see cref="CalculatedAttributeValues.ValueAt"/>), so rolling
    /// windows stand as they stood then.
    /// </summary>
    public static PersonCalculations? Calculations(IEnumerable<StoredEvent> stream, long mpid, DateTimeOffset instant, IReadOnlyList<ActiveDefinition> definitions)
    {
        var live = definitions.Select(d => d with { LiveAfterSequence = 0 }).ToList();
        PersonCalculations? person = null;
        // Stored by the instant, not a prefix: a merge's copies sit after later events with their original stored times.
        foreach (var e in Past(stream))
        {
            if (e.StoredAt > instant) continue;
            var now = CalculationTime.Now(person, CalculationTime.Of(e.Data, e.StoredAt));
            person = PersonCalculations.FoldValues(person, mpid, e.Data, e.Sequence, now, live);
            person?.Advance(now);
            if (person is not null) person.StreamVersion = e.Version;
        }
        person?.Tidy(live, instant);
        return person;
    }
}

/// <summary>Where an attribute's value came from: the input, the batch when a batch carried it, and its times.</summary>
/// <param name="EffectiveAt">The time that orders competing writes (the batch's receive time, or a change event's own time).</param>
/// <param name="StoredAt">When the value was stored.</param>
/// <param name="Applied">False for a late write older than the value held: stored, but the newer value stayed (most recent wins).</param>
public sealed record AttributeChange(
    long Version, string Name, JsonElement? Value, bool Removed, string Input, Guid? BatchId, DateTimeOffset EffectiveAt, DateTimeOffset StoredAt, bool Applied);

/// <summary>
/// Where every value of a user attribute came from (issue 21 §3): the attribute events of one workspace in stream
/// order, each with the batch that carried it — the <see cref="BatchReceived"/> that precedes it in the same
/// transaction (same stored time) from the same input; attributes set without a batch (seeds) have none.
/// </summary>
public static class AttributeHistory
{
    /// <param name="stream">The whole stream (moves hide versions at every instant, <see cref="ProfileAsOf.Past"/>).</param>
    /// <param name="asOf">Only the events stored by then (the whole stream when null).</param>
    public static IReadOnlyList<AttributeChange> Of(IEnumerable<StoredEvent> stream, int workspaceId, string? name = null, DateTimeOffset? asOf = null)
    {
        var changes = new List<AttributeChange>();
        BatchReceived? batch = null;
        var batchStoredAt = DateTimeOffset.MinValue;
        var current = WorkspaceProfile.Empty;
        foreach (var e in ProfileAsOf.Past(stream))
        {
            if (e.StoredAt > asOf) continue;
            switch (e.Data)
            {
                case BatchReceived b:
                    batch = b;
                    batchStoredAt = e.StoredAt;
                    break;
                case UserAttributeSet s when s.WorkspaceId == workspaceId:
                    Add(e, s.Name, s.Value, false, s.Input, s.EffectiveAt);
                    break;
                case UserAttributeRemoved r when r.WorkspaceId == workspaceId:
                    Add(e, r.Name, null, true, r.Input, r.EffectiveAt);
                    break;
                // A return after ageing out starts the attributes afresh, as the profile's fold does.
                case ProfileReactivated:
                    current = WorkspaceProfile.Empty;
                    break;
                case WorkspaceDataErased erased when erased.WorkspaceId == workspaceId:
                    current = WorkspaceProfile.Empty;
                    break;
            }
        }
        return changes;

        void Add(StoredEvent e, string attribute, JsonElement? value, bool removed, string input, DateTimeOffset effectiveAt)
        {
            var before = current.Attributes.GetValueOrDefault(attribute);
            current = current.SetAttribute(attribute, new AttributeEntry(value, effectiveAt, removed));
            if (name is not null && attribute != name) return;
            var fromBatch = batch is { } b && batchStoredAt == e.StoredAt && b.WorkspaceId == workspaceId && b.Input == input ? b.BatchId : (Guid?)null;
            changes.Add(new AttributeChange(e.Version, attribute, value, removed, input, fromBatch, effectiveAt, e.StoredAt,
                !ReferenceEquals(before, current.Attributes.GetValueOrDefault(attribute))));
        }
    }

    /// <summary>Per current attribute of the workspace, the change that gave it its value.</summary>
    public static IReadOnlyDictionary<string, AttributeChange> Provenance(IEnumerable<StoredEvent> stream, int workspaceId, DateTimeOffset? asOf = null)
    {
        var result = new Dictionary<string, AttributeChange>(StringComparer.Ordinal);
        foreach (var change in Of(stream, workspaceId, asOf: asOf).Where(c => c.Applied))
            if (change.Removed) result.Remove(change.Name);
            else result[change.Name] = change;
        return result;
    }
}

/// <summary>One value a calculated attribute took for a person, with what produced it.</summary>
/// <param name="At">When the value took effect (the person's time: the event's stored time).</param>
/// <param name="EventsFrom">The earliest timestamp of the events the value counts (within its window).</param>
/// <param name="EventsTo">The latest timestamp of the events the value counts.</param>
public sealed record CalculatedChange(long Version, CalculatedValue? Value, DateTimeOffset At, Guid? BatchId, string? Input, DateTimeOffset? EventsFrom, DateTimeOffset? EventsTo, bool Seeded);

/// <summary>
/// Every value a calculated attribute took for a person (issue 21 §3): the stream folded event by event with the
/// calculations' fold, a change recorded wherever the value read right after an event differs from the one before.
/// </summary>
public static class CalculatedHistory
{
    public static IReadOnlyList<CalculatedChange> Of(IEnumerable<StoredEvent> stream, long mpid, ActiveDefinition definition)
    {
        var live = definition with { LiveAfterSequence = 0 };
        IReadOnlyList<ActiveDefinition> definitions = [live];
        var inputs = new Dictionary<Guid, string>();
        var observed = new List<DateTimeOffset>();
        var changes = new List<CalculatedChange>();
        PersonCalculations? person = null;
        CalculatedValue? previous = null;
        foreach (var e in ProfileAsOf.Past(stream))
        {
            if (e.Data is BatchReceived b) inputs[b.BatchId] = b.Input;
            var now = CalculationTime.Now(person, CalculationTime.Of(e.Data, e.StoredAt));
            person = PersonCalculations.FoldValues(person, mpid, e.Data, e.Sequence, now, definitions);
            person?.Advance(now);
            if (e.Data is ProfileAgedOut) observed.Clear();
            var counts = e.Data is EventCaptured captured && live.Observe(captured).Any();
            if (counts) observed.Add(((EventCaptured)e.Data).Timestamp);
            var value = person?.Definitions.GetValueOrDefault(live.Id) is { } calculation ? CalculatedAttributeValues.ValueAt(live, now, calculation) : null;
            if (Same(value, previous)) continue;
            previous = value;
            var counted = live.Period.IsRolling
                ? observed.Where(t => Calculation.Expiry(Calculation.BucketStart(t, live.BucketWidth), live) > now).ToList()
                : observed;
            // Only an event the value counts names a batch; a value that moved for another reason (a window left behind) names none.
            var batchId = counts ? ((EventCaptured)e.Data).BatchId : (Guid?)null;
            changes.Add(new CalculatedChange(e.Version, value, now, batchId, batchId is { } id ? inputs.GetValueOrDefault(id) : null,
                counted.Count > 0 ? counted.Min() : null, counted.Count > 0 ? counted.Max() : null, e.Data is CalculatedAttributeSeeded));
        }
        return changes;
    }

    private static bool Same(CalculatedValue? a, CalculatedValue? b) =>
        a is null || b is null ? a is null && b is null
        : a.Text == b.Text && (a.List is null || b.List is null ? a.List is null && b.List is null : a.List.SequenceEqual(b.List));
}
