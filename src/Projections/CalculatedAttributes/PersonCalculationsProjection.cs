using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Consent;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;
using JasperFx.Events;
using JasperFx.Events.Grouping;
using Marten;
using Marten.Events.Aggregation;
using Microsoft.Extensions.Logging;

using EventProfiles.Projections.Privacy;

namespace EventProfiles.Projections.CalculatedAttributes;

/// <summary>
/// Async projection (run by the daemon) of each person's events into what is computed about them: calculated
/// attributes, and right after them (so audience criteria see current values) real-time audience memberships.
/// Definitions and audiences are created at run time, so each page of events reads them afresh, after the page was
/// fetched: a definition activated later has a <see cref="ActiveDefinition.LiveAfterSequence"/> at or beyond every
/// event of the page, and those events belong to its initialisation by replay instead (<see cref="InitialisedCalculation"/>).
/// Membership changes leave as side-effect messages (never during a rebuild, so a rebuild sends nothing again).
/// No wall clock: time comes from the events (<see cref="TimeOf"/>) and runs per person (<see cref="PersonCalculations.AsOf"/>),
/// so a rebuild run at any later time folds identical documents.
/// </summary>
public partial class PersonCalculationsProjection : SingleStreamProjection<PersonCalculations, string>
{
    public const string DocumentAlias = "calculated_attribute_state";
    public const string ProjectionName = nameof(PersonCalculations);
    private readonly ILogger? _logger;
    private volatile PageContext _page = PageContext.Empty;

    /// <summary>What one page of events is evaluated with, loaded in one batched query.</summary>
    private sealed record PageContext(
        IReadOnlyList<ActiveDefinition> Definitions, IReadOnlyList<CalculatedAttribute> Visible, IReadOnlyList<ActiveAudience> Audiences,
        IReadOnlyDictionary<long, Profile> Profiles, ILookup<long, InitialisedCalculation> Initialised)
    {
        public static readonly PageContext Empty = new([], [], [], new Dictionary<long, Profile>(), Array.Empty<InitialisedCalculation>().ToLookup(i => i.Mpid));

        /// <summary>People whose stream has a split or merge in the page: their state folded again up to it from their visible events (issue 21 §1).</summary>
        public IReadOnlyDictionary<(long Mpid, long Version), PersonCalculations?> Refolds { get; init; } = new Dictionary<(long, long), PersonCalculations?>();
    }

    public PersonCalculationsProjection(ILogger? logger = null)
    {
        _logger = logger;
        Name = ProjectionName;
        // Bigger pages and people's state kept in memory between pages: fewer round trips and loads under load.
        Options.BatchSize = 2_000;
        Options.CacheLimitPerTenant = 20_000;
        foreach (var type in EverythingCalculated) IncludeType(type);
    }

    /// <summary>Every event type a calculated attribute or a real-time audience can use (what the daemon's shard fetches while anything is active).</summary>
    public static readonly IReadOnlyList<Type> EverythingCalculated =
    [
        typeof(EventCaptured), typeof(CalculatedAttributeSeeded), typeof(AudiencesReevaluationDue),
        // Profile changes can change memberships.
        typeof(UserAttributeSet), typeof(UserAttributeRemoved), typeof(ConsentStateChanged), typeof(OptOutChanged),
        typeof(UserIdentityAdded), typeof(UserIdentityRemoved), typeof(UserIdentityChanged), typeof(DeviceSeen),
        typeof(ProfileAgedOut), typeof(ProfileReactivated),
        // A split or merge changes which earlier events count: the person is folded again.
        typeof(PersonSplit), typeof(PeopleMerged),
    ];

    private static readonly Type[] NothingCalculated = [typeof(NothingToCalculate)];

    /// <summary>
    /// What the daemon's shard fetches from its next agent start on (Marten builds the shard's event-type filter from
    /// these when the agent starts): <see cref="EverythingCalculated"/>, or, while nothing is calculated, only
    /// <see cref="NothingToCalculate"/>, which is never stored, so the fetch reads no events but the shard still follows
    /// the high-water mark (see CalculationsFeedKeeper).
    /// </summary>
    public void FetchEverything(bool everything)
    {
        lock (IncludedEventTypes)
        {
            IncludedEventTypes.Clear();
            IncludedEventTypes.AddRange(everything ? EverythingCalculated : NothingCalculated);
        }
    }

    public override async Task EnrichEventsAsync(SliceGroup<PersonCalculations, string> group, IQuerySession querySession, CancellationToken cancellation)
    {
        var page = await LoadPageAsync(querySession, group.Slices.Select(s => (s.Id, (IEnumerable<IEvent>)s.Events())), cancellation);
        var refolds = new Dictionary<(long, long), PersonCalculations?>();
        foreach (var slice in group.Slices)
            foreach (var move in slice.Events().Where(e => e.Data is IMovesEvents))
                refolds[(long.Parse(slice.Id, System.Globalization.CultureInfo.InvariantCulture), move.Version)] =
                    await RefoldAsync(querySession, slice.Id, move.Version, cancellation);
        _page = refolds.Count == 0 ? page : page with { Refolds = refolds };
        await base.EnrichEventsAsync(group, querySession, cancellation);
    }

    /// <summary>
    /// A person's state as their visible events up to a split or merge fold to (a fresh instance: its own page context, no
    /// messages), so what moved away no longer counts and what came back counts again — the rebuild's fold, for one person.
    /// </summary>
    private static async Task<PersonCalculations?> RefoldAsync(IQuerySession session, string key, long version, CancellationToken ct)
    {
        var stream = await session.Events.FetchStreamAsync(key, version, token: ct);
        // The move itself is in the fold: it says which versions before it count.
        var folded = await new PersonCalculationsProjection().FoldAsync(session, stream.ToList(), ct);
        return folded.GetValueOrDefault(key);
    }

    private static async Task<PageContext> LoadPageAsync(IQuerySession querySession, IEnumerable<(string Id, IEnumerable<IEvent> Events)> people,
        CancellationToken cancellation)
    {
        var computed = await ComputedDefinitions.LoadAttributesAsync(querySession, cancellation);
        var definitions = ComputedDefinitions.Active(computed);
        var audiences = await ComputedDefinitions.LoadAudiencesAsync(querySession, definitions, cancellation);
        IReadOnlyDictionary<long, Profile> profiles = new Dictionary<long, Profile>();
        var initialised = Array.Empty<InitialisedCalculation>().ToLookup(i => i.Mpid);
        if (audiences.Count > 0)
        {
            // Audience criteria read the profile and every calculated value, replayed parts included: loaded for the
            // people whose events can change a verdict.
            var keys = people.Where(p => p.Events.Any(e => e.Data is IMovesEvents || AudienceRelevance.IsRelevant(audiences, e.Data))).Select(p => p.Id).ToArray();
            var mpids = keys.Select(k => long.Parse(k, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            var batch = querySession.CreateBatchQuery();
            var loadedProfiles = batch.LoadMany<Profile>().ById(keys);
            var loadedParts = batch.Query<InitialisedCalculation>().Where(c => mpids.Contains(c.Mpid)).ToList();
            await batch.Execute(cancellation);
            profiles = (await loadedProfiles).ToDictionary(p => p.Mpid);
            initialised = (await loadedParts).ToLookup(i => i.Mpid);
        }
        return new PageContext(definitions, computed.Where(c => c.OwnerAudienceId is null).ToList(), audiences, profiles, initialised);
    }

    /// <summary>
    /// Rebuild in place (the Operations feature): the people's state from all their events, folded exactly as the daemon
    /// folds them. Use a fresh instance (the page context is per instance) while the daemon's shard is stopped. Membership
    /// changes found on the way are history, not news: they are cleared, as Marten's own rebuild sends no side effects.
    /// </summary>
    public async Task<Dictionary<string, PersonCalculations>> FoldAsync(IQuerySession session, IReadOnlyList<IEvent> events, CancellationToken ct)
    {
        // Events a split or merge moved away do not count (MovedEvents: the same rule as the profile's fold).
        var people = events.GroupBy(e => e.StreamKey!)
            .Select(g => (Key: g.Key, Events: MovedEvents.Visible(g.ToList(), e => e.Version, e => e.Data).Where(e => EverythingCalculated.Contains(e.EventType)).ToList()))
            .Where(p => p.Events.Count > 0).ToList();
        _page = await LoadPageAsync(session, people.Select(p => (p.Key, (IEnumerable<IEvent>)p.Events)), ct);
        var result = new Dictionary<string, PersonCalculations>(StringComparer.Ordinal);
        foreach (var person in people)
        {
            PersonCalculations? snapshot = null;
            foreach (var e in person.Events) snapshot = Evolve(snapshot, person.Key, e);
            if (snapshot is null) continue;
            snapshot.Changes.Clear();
            result[person.Key] = snapshot;
        }
        return result;
    }

    public override PersonCalculations? Evolve(PersonCalculations? snapshot, string id, IEvent e)
    {
        var page = _page;
        var at = TimeOf(e);
        var now = CalculationTime.Now(snapshot, at);
        var mpid = long.Parse(id, System.Globalization.CultureInfo.InvariantCulture);
        if (e.Data is IMovesEvents && page.Refolds.TryGetValue((mpid, e.Version), out var refolded))
            return Moved(snapshot, refolded, mpid, now, e);
        // The values: the Domain fold the ingestion writer's synchronous part runs too (issue 16 §7).
        snapshot = PersonCalculations.FoldValues(snapshot, mpid, e.Data, e.Sequence, now, page.Definitions);
        if (e.Data is EventCaptured)
            foreach (var definition in page.Definitions)
                if (definition.Patterns.TakeExhaustedNotice())
                    // The one worker serves every workspace: a pattern this slow is cut off, and its owner told why.
                    _logger?.LogWarning(
                        "Calculated attribute {Id} ({Name}, workspace {WorkspaceId}): its pattern condition timed out {TimedOut} times in one page of events; for the rest of the page it counts as not matched. Simplify the pattern.",
                        definition.Id, definition.Name, definition.WorkspaceId, definition.Patterns.TimedOut);

        if ((page.Audiences.Count > 0 || snapshot?.Audiences.Count > 0) && page.Profiles.TryGetValue(mpid, out var profile)
            && (AudienceRelevance.IsRelevant(page.Audiences, e.Data) || snapshot?.Audiences.Count > page.Audiences.Count))
        {
            var state = snapshot ?? PersonCalculations.For(mpid);
            AudienceMemberships.Adopt(state, page.Initialised[mpid], page.Audiences);
            if (state.EvaluateAudiences(page.Audiences, person => Facts(person, profile, page, now), now) || state.Audiences.Count > 0) snapshot = state;
        }
        snapshot?.Advance(now);
        if (snapshot is not null) snapshot.StreamVersion = e.Version;
        // An empty state is not worth a row (unless it records that the person's earlier values ended).
        return snapshot is { Definitions.Count: 0, Audiences.Count: 0, EndedAtSequence: null } ? null : snapshot;
    }

    /// <summary>
    /// Takes the person's state folded again at a split or merge, and tells the outputs what the corrected memberships
    /// imply: a removal for each audience they were a member of and no longer are, an addition for each new one (pending
    /// messages of the page are kept).
    /// </summary>
    private static PersonCalculations? Moved(PersonCalculations? before, PersonCalculations? refolded, long mpid, DateTimeOffset now, IEvent e)
    {
        var state = refolded ?? PersonCalculations.For(mpid);
        var reason = e.Data is PersonSplit ? "split" : "merge";
        if (before is not null)
        {
            state.Changes.AddRange(before.Changes);
            state.ReevaluationScheduledFor = before.ReevaluationScheduledFor;
            foreach (var (id, was) in before.Audiences.Where(a => a.Value.IsMember))
                if (!state.IsMemberOf(id, was.Activation))
                {
                    state.Audiences[id] = new Membership(was.Activation, false, now);
                    state.Changes.Add(new MembershipChange(id, was.Activation, mpid, false, now, reason));
                }
        }
        foreach (var (id, member) in state.Audiences.Where(a => a.Value.IsMember))
            if (before?.IsMemberOf(id, member.Activation) != true)
                state.Changes.Add(new MembershipChange(id, member.Activation, mpid, true, now, reason));
        state.Advance(now);
        state.StreamVersion = e.Version;
        return state is { Definitions.Count: 0, Audiences.Count: 0, EndedAtSequence: null, Changes.Count: 0 } ? null : state;
    }

    /// <summary>The time an event shows: a clock event's own time (the scheduler's, the sweep's), otherwise when it was stored.</summary>
    public static DateTimeOffset TimeOf(IEvent e) => CalculationTime.Of(e.Data, e.Timestamp);

    private static PersonFacts Facts(PersonCalculations person, Profile profile, PageContext page, DateTimeOffset now) =>
        PersonFactsFor.Person(profile, person, page.Initialised[person.Mpid].ToList(), page.Visible, now);

    /// <summary>Membership changes go to Wolverine (recorded, sent to audience outputs); a time-based change is scheduled.</summary>
    public override ValueTask RaiseSideEffects(IDocumentOperations operations, IEventSlice<PersonCalculations> slice)
    {
        if (slice.Snapshot is not { } person) return ValueTask.CompletedTask;
        if (person.Changes.Count > 0)
        {
            var changed = new AudienceMembershipsChanged(person.Changes.ToList());
            slice.PublishMessage(changed);
            operations.RecordWork([new PersonWorkRecord.Row(changed.WorkId, person.Mpid, PersonWorkRecord.PersonWide)]);
            person.Changes.Clear();
        }
        // Only moments that can change a verdict are scheduled, and each once.
        if (person.AudiencesChangeAt is { } next && (person.ReevaluationScheduledFor is not { } scheduled || next < scheduled || scheduled <= person.AsOf))
        {
            person.ReevaluationScheduledFor = next;
            var reevaluate = new ReevaluateAudiencesAt(person.Mpid, next);
            slice.PublishMessage(reevaluate);
            operations.RecordWork([new PersonWorkRecord.Row(reevaluate.WorkId, person.Mpid, PersonWorkRecord.PersonWide)]);
        }
        return ValueTask.CompletedTask;
    }
}

/// <summary>What an audience verdict reads about a person: the projection, "explain" and standard audiences build it the same way.</summary>
public static class PersonFactsFor
{
    /// <param name="counterParts">Where event counters come from; by default the replayed and live parts of each counter.</param>
    public static PersonFacts Person(Profile profile, PersonCalculations person, IReadOnlyList<InitialisedCalculation> replayed,
        IEnumerable<CalculatedAttribute> visible, DateTimeOffset now, Func<ActiveDefinition, Calculation?[]>? counterParts = null) =>
        new(profile, now,
            counterParts ?? (counter => [person.CountsReplayOf(counter) ? replayed.FirstOrDefault(r => r.DefinitionId == counter.Id)?.Calculation : null, person.Definitions.GetValueOrDefault(counter.Id)]),
            workspace => VisibleCalculatedValues.Combine(visible.Where(v => v.WorkspaceId == workspace), person, replayed, now),
            audience => AudienceMemberships.IsMember(person, replayed, audience, null));
}

/// <summary>An event type that is never stored: the calculations shard's whole filter while nothing is calculated.</summary>
public sealed record NothingToCalculate;

/// <summary>Membership changes found by the projection, in the order found.</summary>
public sealed record AudienceMembershipsChanged(IReadOnlyList<MembershipChange> Changes)
{
    /// <summary>Its Wolverine envelope id and <see cref="PersonWorkRecord"/> key: what an erasure of the person deletes it by.</summary>
    public Guid WorkId { get; init; } = Guid.CreateVersion7();
}

/// <summary>Evaluate this person's audiences again at this moment (time alone changes a verdict then).</summary>
public sealed record ReevaluateAudiencesAt(long Mpid, DateTimeOffset At)
{
    /// <summary>Its Wolverine envelope id and <see cref="PersonWorkRecord"/> key: what an erasure of the person deletes it by.</summary>
    public Guid WorkId { get; init; } = Guid.CreateVersion7();
}

/// <summary>The definitions and audiences being computed, read from their documents.</summary>
public static class ComputedDefinitions
{
    public static async Task<IReadOnlyList<CalculatedAttribute>> LoadAttributesAsync(IQuerySession session, CancellationToken ct) =>
        await session.Query<CalculatedAttribute>().Where(c => c.Status == CalculatedAttributeStatus.Active).ToListAsync(ct);

    public static IReadOnlyList<ActiveDefinition> Active(IEnumerable<CalculatedAttribute> computed) =>
        computed.Select(c => c.Computed()).OfType<ActiveDefinition>().OrderBy(d => d.Id).ToList();

    public static async Task<IReadOnlyList<ActiveDefinition>> LoadAsync(IQuerySession session, CancellationToken ct) =>
        Active(await LoadAttributesAsync(session, ct));

    /// <summary>Audiences whose initialisation is done (status active), with their counters' definitions.</summary>
    public static async Task<IReadOnlyList<ActiveAudience>> LoadAudiencesAsync(IQuerySession session, IReadOnlyList<ActiveDefinition> definitions, CancellationToken ct)
    {
        var audiences = await session.Query<Audience>().Where(a => a.Status == AudienceStatus.Active && a.Kind == AudienceKinds.RealTime).ToListAsync(ct);
        return audiences.Select(a => Active(a, definitions)).OfType<ActiveAudience>().ToList();
    }

    public static ActiveAudience? Active(Audience audience, IReadOnlyList<ActiveDefinition> definitions)
    {
        if (audience.Activation is not { } activation) return null;
        var counters = new Dictionary<int, ActiveDefinition>();
        for (var i = 0; i < audience.Criteria.Count && i < audience.Counters.Count; i++)
            if (audience.Counters[i] != 0 && definitions.FirstOrDefault(d => d.Id == audience.Counters[i]) is { } counter) counters[i] = counter;
        return new ActiveAudience(audience.Id, audience.ExternalName, activation, audience.WorkspaceIds, audience.Criteria, counters, 0);
    }
}

/// <summary>
/// What an activation computed for one person, apart from the live projection: the part of a calculated attribute's
/// value that the replay computed (events up to <see cref="ActiveDefinition.LiveAfterSequence"/>), or, with an
/// <see cref="AudienceId"/>, an audience's initial verdict "member" (only members get a row). Written only by the
/// activation jobs, read with the live part. Both kinds share one table because every reader of a person's computed
/// state already fetches this table by MPID: an initial membership costs no extra look-up on any read path.
/// </summary>
public sealed class InitialisedCalculation
{
    public string Id { get; set; } = "";
    public long Mpid { get; set; }
    /// <summary>The calculated attribute (0 for an audience's initial membership).</summary>
    public int DefinitionId { get; set; }
    /// <summary>The audience whose initial verdict this is (0 for a calculated attribute's replayed part).</summary>
    public int AudienceId { get; set; }
    public Guid Activation { get; set; }
    public Calculation Calculation { get; set; } = new();
    /// <summary>An initial membership: when the activation found the person to be a member.</summary>
    public DateTimeOffset? MemberSince { get; set; }

    public static string IdFor(int definitionId, long mpid) =>
        $"{definitionId.ToString(System.Globalization.CultureInfo.InvariantCulture)}:{StreamKey.For(mpid)}";

    public static InitialisedCalculation InitialMember(int audienceId, Guid activation, long mpid, DateTimeOffset since) => new()
    {
        Id = $"a{audienceId.ToString(System.Globalization.CultureInfo.InvariantCulture)}:{StreamKey.For(mpid)}",
        Mpid = mpid, AudienceId = audienceId, Activation = activation, MemberSince = since,
    };
}

/// <summary>
/// A person's real-time audience memberships: the projection's own verdict for the audience's activation when it has
/// one, otherwise the initial verdict of the activation (<see cref="InitialisedCalculation.InitialMember"/>). The one
/// place every reader (Profile API, enrichment, explain, nested audiences) asks, so they all show the same memberships.
/// </summary>
public static class AudienceMemberships
{
    /// <param name="activation">The audience's current activation; null = whichever is recorded (nested audiences).</param>
    public static bool IsMember(PersonCalculations? person, IEnumerable<InitialisedCalculation> initialised, int audienceId, Guid? activation)
    {
        var initial = initialised.FirstOrDefault(i => i.AudienceId == audienceId && i.MemberSince is not null && (activation is null || i.Activation == activation));
        if (person is not null && person.Audiences.TryGetValue(audienceId, out var own)
            && (activation is { } current ? own.Activation == current : initial is null || own.Activation == initial.Activation))
            return own.IsMember;
        return initial is not null;
    }

    /// <summary>
    /// Before the projection evaluates a person, it takes over the initial verdicts it has none of its own for, so a
    /// change is measured against what the audience's outputs were told (no second "add" for an initial member).
    /// </summary>
    public static void Adopt(PersonCalculations person, IEnumerable<InitialisedCalculation> initialised, IReadOnlyList<ActiveAudience> audiences)
    {
        foreach (var audience in audiences)
        {
            if (person.Audiences.TryGetValue(audience.Id, out var own) && own.Activation == audience.Activation) continue;
            if (initialised.FirstOrDefault(i => i.AudienceId == audience.Id && i.Activation == audience.Activation && i.MemberSince is not null) is { } initial)
                person.Audiences[audience.Id] = new Membership(audience.Activation, true, initial.MemberSince!.Value);
        }
    }
}

/// <summary>Combining a person's live and replayed parts into the values of the visible (not audience-owned) calculated attributes.</summary>
public static class VisibleCalculatedValues
{
    /// <param name="synchronous">
    /// The person's synchronous part (issue 16 §7): it gives a synchronous definition's live part instead of the
    /// projection's <paramref name="live"/> when it has seen at least as much of the stream (never both: no double count).
    /// </param>
    public static IReadOnlyDictionary<string, CalculatedValue> Combine(
        IEnumerable<CalculatedAttribute> attributes, PersonCalculations? live, IEnumerable<InitialisedCalculation> initialised, DateTimeOffset now,
        SynchronousCalculations? synchronous = null)
    {
        var values = new SortedDictionary<string, CalculatedValue>(StringComparer.Ordinal);
        var replayedParts = initialised.ToList();
        foreach (var definition in attributes.Where(a => a.OwnerAudienceId is null).Select(a => a.Computed()).OfType<ActiveDefinition>())
        {
            var own = synchronous is not null && synchronous.Serves(definition, live) ? synchronous.Values : live;
            var replayed = own?.CountsReplayOf(definition) == false ? null
                : replayedParts.FirstOrDefault(i => i.DefinitionId == definition.Id && i.Activation == definition.Activation)?.Calculation;
            var current = own?.Definitions.GetValueOrDefault(definition.Id);
            if (Domain.CalculatedAttributes.CalculatedAttributeValues.ValueAt(definition, now, replayed, current) is { } value) values[definition.Name] = value;
        }
        return values;
    }
}
