using EventProfiles.Domain.Ingestion;

namespace EventProfiles.Domain.CalculatedAttributes;

/// <summary>What the writer's synchronous part gives for one group: each person's state to store, and per batch the values its enrichment shows.</summary>
public sealed record SynchronousOutcome(IReadOnlyList<SynchronousCalculations> States, IReadOnlyDictionary<Guid, SynchronousCalculations> ByBatch);

/// <summary>
/// The synchronous calculated attributes of a group (issue 16 §7), pure: each person's state (caught up with their
/// stored stream) folds the events the group appends to their stream, in stream order, with the versions they will get
/// and the time they will be stored with; a batch's enrichment shows the values right after its own events (a later
/// batch of the same person in the group is not counted in an earlier one's).
/// </summary>
public static class SynchronousGroup
{
    /// <param name="storedVersions">Each existing stream's version before the group (absent: a new stream).</param>
    /// <param name="loaded">The existing people's states, caught up with their streams (absent: nothing to start from).</param>
    /// <param name="storedAt">The time the group's events are stored with.</param>
    /// <param name="folded">Whether an event is of a type the projection folds.</param>
    public static SynchronousOutcome Fold(GroupOutcome outcome, IReadOnlyDictionary<long, long> storedVersions,
        IReadOnlyDictionary<long, SynchronousCalculations> loaded, DateTimeOffset storedAt, IReadOnlyList<ActiveDefinition> definitions,
        Func<object, bool> folded)
    {
        var streams = outcome.Streams.ToDictionary(s => s.Mpid, s => s.Events);
        var states = new Dictionary<long, SynchronousCalculations>();
        var positions = new Dictionary<long, int>();
        var lastBatch = outcome.Batches.Select((d, i) => (d.Batch.Resolution.Mpid, i)).GroupBy(x => x.Mpid).ToDictionary(g => g.Key, g => g.Max(x => x.i));
        var byBatch = new Dictionary<Guid, SynchronousCalculations>();
        for (var i = 0; i < outcome.Batches.Count; i++)
        {
            var decided = outcome.Batches[i];
            var mpid = decided.Batch.Resolution.Mpid;
            var stored = storedVersions.GetValueOrDefault(mpid);
            if (!states.TryGetValue(mpid, out var state))
            {
                states[mpid] = state = loaded.GetValueOrDefault(mpid) ?? SynchronousCalculations.Start(mpid, definitions);
                // Rows of deactivated definitions are dropped; the state now stands for the current ones.
                state.Activations = definitions.Select(d => d.Activation).ToList();
                state.Through(stored);
            }
            var events = streams.GetValueOrDefault(mpid) ?? [];
            var position = positions.GetValueOrDefault(mpid);
            if (decided.Events.Count > 0)
            {
                // The stream holds the batch's events after any reactivation events that precede them.
                var last = decided.Events[^1];
                for (; position < events.Count; position++)
                {
                    var e = events[position];
                    if (folded(e)) state.Fold(e, stored + position + 1, long.MaxValue, storedAt, definitions);
                    state.Through(stored + position + 1);
                    if (ReferenceEquals(e, last)) { position++; break; }
                }
                positions[mpid] = position;
            }
            byBatch[decided.Batch.BatchId] = lastBatch[mpid] == i ? state : Copy(state);
        }
        return new SynchronousOutcome(states.Values.ToList(), byBatch);
    }

    private static SynchronousCalculations Copy(SynchronousCalculations state) => new()
    {
        Mpid = state.Mpid, StreamVersion = state.StreamVersion, Activations = state.Activations, Values = state.Values.CopyValues(),
    };
}
