using System.Text.Json.Serialization;
using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.CalculatedAttributes;

/// <summary>
/// A person's calculated-attribute state, per definition: what the live projection folded from their events. The part
/// a replay initialised for a newly activated definition is kept apart (<see cref="Calculation"/> per definition and
/// person) and combined on read, so the live projection and the replay never write the same row.
/// </summary>
public sealed class PersonCalculations
{
    public string Id { get; set; } = "";
    public long Mpid { get; set; }
    public Dictionary<int, Calculation> Definitions { get; set; } = [];
    /// <summary>The next moment a rolling value changes with no new event (for whoever must react to it, e.g. audiences).</summary>
    public DateTimeOffset? NextChangeAt { get; set; }
    /// <summary>Audience id → where the person stands (members, and people who were members).</summary>
    public Dictionary<int, Membership> Audiences { get; set; } = [];
    /// <summary>The next moment one of the person's audience verdicts can change with no new event (time-based re-evaluation).</summary>
    public DateTimeOffset? AudiencesChangeAt { get; set; }
    /// <summary>When a re-evaluation of this person is already scheduled (so it is not scheduled twice).</summary>
    public DateTimeOffset? ReevaluationScheduledFor { get; set; }
    /// <summary>
    /// The person's own clock: the latest time their events have shown (stored times, and the times of clock events such
    /// as <see cref="AudiencesReevaluationDue"/>). Evaluations read it instead of a wall clock, so a rebuild run at any
    /// later time folds the same values, memberships and "member since" times.
    /// </summary>
    public DateTimeOffset? AsOf { get; set; }
    /// <summary>
    /// The position of the ageing out that ended the person's values: parts an activation replayed from events before it
    /// no longer count (what they counted ended with the profile, retention-and-privacy.md R3/R4).
    /// </summary>
    public long? EndedAtSequence { get; set; }
    /// <summary>
    /// The stream version of the last event folded in: how a reader tells whether this state or the person's
    /// <see cref="SynchronousCalculations"/> has seen more of the stream (issue 16 §7).
    /// </summary>
    public long StreamVersion { get; set; }

    /// <summary>Membership changes found while applying the current events; sent on by the projection, never stored.</summary>
    [JsonIgnore] public List<MembershipChange> Changes { get; } = [];

    public bool IsMemberOf(int audienceId, Guid? activation = null) =>
        Audiences.TryGetValue(audienceId, out var m) && m.IsMember && (activation is null || m.Activation == activation);

    /// <summary>
    /// Evaluates each audience (audiences nested in others first) and records a change where the verdict differs from
    /// what is stored. Returns whether anything changed.
    /// </summary>
    public bool EvaluateAudiences(IReadOnlyList<ActiveAudience> audiences, Func<PersonCalculations, PersonFacts> facts, DateTimeOffset now)
    {
        var changed = false;
        // First forget the state of deactivated, deleted or re-activated audiences (no message, §M3), so an audience
        // nesting one of them never reads a stale membership.
        foreach (var id in Audiences.Keys.Where(id => !audiences.Any(a => a.Id == id && a.Activation == Audiences[id].Activation)).ToList())
        {
            Audiences.Remove(id);
            changed = true;
        }
        var current = facts(this);
        DateTimeOffset? next = null;
        foreach (var audience in audiences.OrderBy(a => a.Criteria.Any(c => c.Kind == CriterionKinds.AudienceMembership) ? 1 : 0))
        {
            var verdict = AudienceEvaluation.Evaluate(audience, current);
            var was = IsMemberOf(audience.Id, audience.Activation);
            if (verdict.IsMember != was)
            {
                Audiences[audience.Id] = new Membership(audience.Activation, verdict.IsMember, now);
                Changes.Add(new MembershipChange(audience.Id, audience.Activation, Mpid, verdict.IsMember, now, verdict.Reason));
                changed = true;
            }
            if (AudienceEvaluation.NextChangeAt(audience, current) is { } at && (next is null || at < next)) next = at;
            // A rolling calculated value used by the audience changes the verdict when it falls back.
            if (audience.Criteria.Any(c => c.Kind == CriterionKinds.CalculatedAttribute) && NextChangeAt is { } value && (next is null || value < next)) next = value;
        }
        if (AudiencesChangeAt != next) { AudiencesChangeAt = next; changed = true; }
        return changed;
    }

    /// <summary>
    /// The calculated-attribute part of folding one of the person's events, the one piece of code the async projection
    /// and the ingestion writer's synchronous part both run (so live, rebuild and replay agree): an ageing out ends every
    /// value, a captured event is observed by each definition it came after (<paramref name="sequence"/> beyond the
    /// definition's <see cref="ActiveDefinition.LiveAfterSequence"/>), a seed is taken. <paramref name="now"/> is the
    /// person's time (<see cref="CalculationTime.Now"/>). Returns the state (created when something needs one).
    /// </summary>
    public static PersonCalculations? FoldValues(PersonCalculations? snapshot, long mpid, object data, long sequence, DateTimeOffset now,
        IReadOnlyList<ActiveDefinition> definitions)
    {
        var changed = false;
        if (data is ProfileAgedOut && (snapshot is not null || definitions.Count > 0))
        {
            // Values end with the profile, Lifetime Profiles or not; memberships end on evaluation, with removal messages.
            snapshot ??= For(mpid);
            snapshot.AgeOut(sequence);
        }
        foreach (var definition in definitions)
        {
            if (sequence <= definition.LiveAfterSequence) continue; // initialised by replay
            switch (data)
            {
                case EventCaptured captured when captured.WorkspaceId == definition.WorkspaceId:
                    snapshot ??= For(mpid);
                    snapshot.Observe(definition, captured, now);
                    changed = true;
                    break;
                case CalculatedAttributeSeeded seed when definition.AcceptsSeed(seed):
                    snapshot ??= For(mpid);
                    snapshot.TakeSeed(definition, seed);
                    changed = true;
                    break;
            }
        }
        if (changed) snapshot!.Tidy(definitions, now);
        return snapshot;
    }

    /// <summary>A copy of the values (not the audiences): what one batch's enrichment shows when later batches of the same group follow.</summary>
    public PersonCalculations CopyValues() => new()
    {
        Id = Id, Mpid = Mpid, NextChangeAt = NextChangeAt, AsOf = AsOf, EndedAtSequence = EndedAtSequence, StreamVersion = StreamVersion,
        Definitions = Definitions.ToDictionary(d => d.Key, d => d.Value.Copy()),
    };

    public static PersonCalculations For(long mpid) => new() { Id = StreamKey.For(mpid), Mpid = mpid };

    /// <summary>Moves the person's clock to <paramref name="at"/> unless it already shows a later time; returns the time now.</summary>
    public DateTimeOffset Advance(DateTimeOffset at)
    {
        if (AsOf is not { } asOf || at > asOf) AsOf = at;
        return AsOf.Value;
    }

    /// <summary>The profile aged out: every value ends (a returning person starts counting afresh); memberships end on evaluation.</summary>
    public void AgeOut(long sequence)
    {
        Definitions.Clear();
        NextChangeAt = null;
        EndedAtSequence = sequence;
    }

    /// <summary>Whether the part an activation of <paramref name="definition"/> replayed still counts for this person.</summary>
    public bool CountsReplayOf(ActiveDefinition definition) => EndedAtSequence is not { } ended || definition.LiveAfterSequence >= ended;

    public void Observe(ActiveDefinition definition, EventCaptured e, DateTimeOffset now)
    {
        foreach (var observation in definition.Observe(e))
            Current(definition).Observe(definition, observation, now);
    }

    public void TakeSeed(ActiveDefinition definition, CalculatedAttributeSeeded seed)
    {
        if (definition.AcceptsSeed(seed)) Current(definition).TakeSeed(definition, seed);
    }

    /// <summary>Drops state of deactivated, deleted or re-activated definitions and buckets that left their window.</summary>
    public void Tidy(IReadOnlyList<ActiveDefinition> active, DateTimeOffset now)
    {
        foreach (var id in Definitions.Keys.ToList())
        {
            var definition = active.FirstOrDefault(d => d.Id == id);
            if (definition is null || Definitions[id].Activation != definition.Activation) Definitions.Remove(id);
            else Definitions[id].Prune(definition, now);
        }
        NextChangeAt = active.Where(d => Definitions.ContainsKey(d.Id))
            .Select(d => Definitions[d.Id].NextChangeAt(d, now)).Where(at => at is not null).Min();
    }

    private Calculation Current(ActiveDefinition definition)
    {
        if (!Definitions.TryGetValue(definition.Id, out var calculation) || calculation.Activation != definition.Activation)
            Definitions[definition.Id] = calculation = Calculation.For(definition);
        return calculation;
    }
}
