using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.CalculatedAttributes;

/// <summary>
/// When a calculated attribute is computed (issue 16 §7): count, sum, minimum, maximum, last value, last timestamp and
/// unique list are synchronous, as in the product — the ingestion writer computes them for the person inside the
/// transaction that stores the batch, so the batch's own enrichment and a read right after the 202 count its events.
/// The others (average, most frequent, unique values count, first value, first timestamp) stay asynchronous (the
/// daemon). Audiences' hidden event counters stay asynchronous whatever their type: audiences are evaluated by the daemon.
/// </summary>
public static class CalculationModes
{
    public const string Sync = "sync";
    public const string Async = "async";

    public static bool IsSynchronous(string? calculationType) => CalculationTypes.Canonical(calculationType) is
        CalculationTypes.Count or CalculationTypes.Sum or CalculationTypes.Min or CalculationTypes.Max
        or CalculationTypes.LastValue or CalculationTypes.LastTimestamp or CalculationTypes.UniqueList;

    /// <summary>The mode a calculated attribute shows (its active definition's type, else its draft's).</summary>
    public static string Of(CalculatedAttribute attribute) =>
        attribute.OwnerAudienceId is null && IsSynchronous((attribute.ActiveDefinition ?? attribute.DraftDefinition)?.CalculationType) ? Sync : Async;

    /// <summary>The computed synchronous definitions among <paramref name="attributes"/>, in id order (the order the projection folds them in).</summary>
    public static IReadOnlyList<ActiveDefinition> Synchronous(IEnumerable<CalculatedAttribute> attributes) =>
        attributes.Where(a => a.OwnerAudienceId is null && IsSynchronous(a.ActiveDefinition?.CalculationType))
            .Select(a => a.Computed()).OfType<ActiveDefinition>().OrderBy(d => d.Id).ToList();
}

/// <summary>The time one of the person's events shows while folding: a clock event's own time, otherwise when it was stored.</summary>
public static class CalculationTime
{
    public static DateTimeOffset Of(object data, DateTimeOffset storedAt) => data switch
    {
        AudiencesReevaluationDue due => due.At,
        ProfileAgedOut agedOut => agedOut.At,
        ProfileReactivated back => back.At,
        _ => storedAt,
    };

    /// <summary>The person's time after an event at <paramref name="at"/>: it only moves forward.</summary>
    public static DateTimeOffset Now(PersonCalculations? person, DateTimeOffset at) => person?.AsOf is { } asOf && asOf > at ? asOf : at;
}

/// <summary>
/// A person's synchronous calculated attributes (issue 16 §7), kept by the ingestion writer beside the async
/// projection's <see cref="PersonCalculations"/>: the same fold (<see cref="PersonCalculations.FoldValues"/>) over the
/// same events with the same times, restricted to the synchronous definitions, written in the transaction that
/// appends the events. It is a fold of the stream from the definitions' activations on: <see cref="StreamVersion"/> says
/// how far, <see cref="Activations"/> for which definitions (a state folded for other activations is started again from
/// the stream). The async projection still folds every definition into its own document (audiences read it; it is
/// what a rebuild gives); nothing adds the two — a reader takes one of them per definition (<see cref="Serves"/>):
/// this one when it has seen at least as much of the stream, else the projection's (after a seed, an ageing out or an
/// import appended by another writer, until the person's next batch).
/// </summary>
public sealed class SynchronousCalculations
{
    public long Mpid { get; set; }
    /// <summary>Every event of the stream up to this version has been folded in (or did not concern calculations).</summary>
    public long StreamVersion { get; set; }
    /// <summary>The activations of the synchronous definitions this state was folded for since their start.</summary>
    public List<Guid> Activations { get; set; } = [];
    /// <summary>The values (only the synchronous definitions'); no audiences.</summary>
    public PersonCalculations Values { get; set; } = new();

    public static SynchronousCalculations Start(long mpid, IReadOnlyList<ActiveDefinition> definitions) => new()
    {
        Mpid = mpid, Activations = definitions.Select(d => d.Activation).ToList(), Values = PersonCalculations.For(mpid),
    };

    /// <summary>Whether this state was folded for every one of <paramref name="definitions"/> from its start.</summary>
    public bool Covers(IEnumerable<ActiveDefinition> definitions) => definitions.All(d => Activations.Contains(d.Activation));

    /// <summary>
    /// Folds one of the person's events (a type the projection reads) exactly as the projection does.
    /// <paramref name="sequence"/>: its position in the store, or <see cref="long.MaxValue"/> for an event being appended
    /// now (not numbered yet, and after every activation the writer knows of).
    /// </summary>
    public void Fold(object data, long version, long sequence, DateTimeOffset storedAt, IReadOnlyList<ActiveDefinition> definitions)
    {
        var now = CalculationTime.Now(Values, CalculationTime.Of(data, storedAt));
        PersonCalculations.FoldValues(Values, Mpid, data, sequence, now, definitions);
        Values.Advance(now);
        Values.StreamVersion = version;
        Through(version);
    }

    /// <summary>Every event up to <paramref name="version"/> has been looked at.</summary>
    public void Through(long version)
    {
        if (version > StreamVersion) StreamVersion = version;
    }

    /// <summary>
    /// Whether this state gives <paramref name="definition"/>'s value rather than the projection's <paramref name="projected"/>:
    /// folded for this activation, and the projection has folded nothing this state has not seen.
    /// </summary>
    public bool Serves(ActiveDefinition definition, PersonCalculations? projected) =>
        Activations.Contains(definition.Activation) && StreamVersion >= (projected?.StreamVersion ?? 0);
}
