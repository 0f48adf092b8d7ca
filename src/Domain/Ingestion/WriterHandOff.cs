namespace EventProfiles.Domain.Ingestion;

/// <summary>
/// Which resolved batches a free ingestion writer takes as its group (issue 15, goal 1). One queue for all writers
/// instead of routing a person to writer <c>mpid mod writers</c>:
/// <list type="bullet">
/// <item>A free writer takes everything it may (up to <c>maxGroup</c>) when no group is in flight; while one is, it
/// starts another only once <c>overlapAt</c> batches could go into it. At low concurrency there is one large group at
/// a time (its statements and round trips are shared by more batches); under load several groups overlap, so one
/// group's round trips and COMMIT no longer wait for the other's. When at least twice <c>overlapAt</c> wait and
/// several writers are free, a writer takes only its share (at least <c>overlapAt</c>), leaving the rest to the next.</item>
/// <item>Per-person order: a batch holds its person from the moment a writer takes it until it is answered (committed
/// or failed), so a person is in at most one group in flight, and a later batch of that person waits, in acceptance
/// order, also while an earlier one is sent back for a retry. A retried batch waits only for groups in flight (never for
/// another retried batch), so holds cannot wait on each other in a cycle.</item>
/// <item>One rule set per group: batches resolved by other identity rules (rare: the settings changed) wait for a
/// group of their own.</item>
/// </list>
/// Thread-safe; it decides only, the caller does the waiting and the I/O.
/// </summary>
public sealed class WriterHandOff<T>(int writers, int overlapAt, int maxGroup, Func<T, long> personOf, Func<T, object?> ruleSetOf,
    Func<T, bool> isRetry, Func<T, bool> isAnswered) where T : class
{
    private readonly Lock _lock = new();
    private List<T> _waiting = [];
    /// <summary>Batches taken and not yet answered, by the persons they hold.</summary>
    private readonly Dictionary<long, List<T>> _holders = new();
    private readonly Dictionary<T, List<long>> _held = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<T> _inGroup = new(ReferenceEqualityComparer.Instance);
    private int _groups;

    public int Waiting
    {
        get { lock (_lock) return _waiting.Count; }
    }

    public int GroupsInFlight
    {
        get { lock (_lock) return _groups; }
    }

    /// <summary>Resolved batches, in acceptance order.</summary>
    public void Enqueue(IEnumerable<T> batches)
    {
        lock (_lock) _waiting.AddRange(batches);
    }

    /// <summary>The group a free writer commits now, in acceptance order, or null: it waits for the next change.</summary>
    public List<T>? TryTakeGroup()
    {
        lock (_lock)
        {
            if (_groups >= writers || _waiting.Count == 0 || (_groups > 0 && _waiting.Count < overlapAt)) return null;
            var group = new List<T>();
            var passed = new HashSet<long>(); // persons with a batch left waiting: their later batches wait too
            object? rules = null;
            foreach (var batch in _waiting)
            {
                if (group.Count == maxGroup) break;
                var person = personOf(batch);
                // A retried batch goes before the later batches of its person that wait behind it.
                if (passed.Contains(person) && !isRetry(batch)) continue;
                if (IsHeldFor(batch, person) || (group.Count > 0 && !ReferenceEquals(rules, ruleSetOf(batch))))
                {
                    passed.Add(person);
                    continue;
                }
                if (group.Count == 0) rules = ruleSetOf(batch);
                group.Add(batch);
            }
            // Overlapping a group in flight with a small one would cost more per batch than waiting for it.
            if (group.Count == 0 || (_groups > 0 && group.Count < overlapAt)) return null;
            // Enough for several groups and several writers free: share it, so the groups overlap at once. (One writer
            // taking everything would leave the others idle until its clients, all answered at its commit, send again.)
            var free = writers - _groups;
            if (free > 1 && group.Count >= 2 * overlapAt)
                group.RemoveRange(Math.Max(overlapAt, (group.Count + free - 1) / free), group.Count - Math.Max(overlapAt, (group.Count + free - 1) / free));

            var taken = new HashSet<T>(group, ReferenceEqualityComparer.Instance);
            _waiting = _waiting.Where(b => !taken.Contains(b)).ToList();
            foreach (var batch in group)
            {
                _inGroup.Add(batch);
                Hold(batch, personOf(batch));
            }
            _groups++;
            return group;
        }
    }

    /// <summary>The writer is done with the group: answered batches let their persons go; the others (sent back for a retry) keep them.</summary>
    public void GroupEnded(IReadOnlyList<T> group)
    {
        lock (_lock)
        {
            _groups--;
            foreach (var batch in group)
            {
                _inGroup.Remove(batch);
                if (isAnswered(batch)) Let(batch);
            }
        }
    }

    /// <summary>The batch was answered (after a retry, or by any path): its persons go.</summary>
    /// <returns>Whether that let a person go while batches wait (one may now be free to go).</returns>
    public bool Answered(T batch)
    {
        lock (_lock) return !_inGroup.Contains(batch) && Let(batch) && _waiting.Count > 0;
    }

    private bool IsHeldFor(T batch, long person) =>
        _holders.TryGetValue(person, out var holders)
        && holders.Exists(h => !ReferenceEquals(h, batch) && (_inGroup.Contains(h) || !isRetry(batch)));

    private void Hold(T batch, long person)
    {
        if (!_held.TryGetValue(batch, out var persons)) _held[batch] = persons = [];
        if (persons.Contains(person)) return;
        persons.Add(person);
        if (!_holders.TryGetValue(person, out var holders)) _holders[person] = holders = [];
        holders.Add(batch);
    }

    private bool Let(T batch)
    {
        if (!_held.Remove(batch, out var persons)) return false;
        foreach (var person in persons)
        {
            var holders = _holders[person];
            holders.Remove(batch);
            if (holders.Count == 0) _holders.Remove(person);
        }
        return true;
    }
}
