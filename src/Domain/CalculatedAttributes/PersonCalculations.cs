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

    public static PersonCalculations For(long mpid) => new() { Id = StreamKey.For(mpid), Mpid = mpid };

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
