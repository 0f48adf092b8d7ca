using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Profiles;
using JasperFx.Events;
using JasperFx.Events.Grouping;
using Marten;
using Marten.Events.Aggregation;

namespace EventProfiles.Projections.CalculatedAttributes;

/// <summary>
/// Async projection (run by the daemon) of each person's events into their calculated-attribute state. Definitions
/// are created at run time, so each batch of events reads the computed definitions afresh, after the batch was fetched:
/// a definition activated later has a <see cref="ActiveDefinition.LiveAfterSequence"/> at or beyond every event of the
/// batch, and those events belong to its initialisation by replay instead (<see cref="InitialisedCalculation"/>).
/// </summary>
public partial class CalculatedAttributeProjection : SingleStreamProjection<PersonCalculations, string>
{
    public const string DocumentAlias = "calculated_attribute_state";
    public const string ProjectionName = nameof(PersonCalculations);
    private readonly TimeProvider _clock;
    private volatile IReadOnlyList<ActiveDefinition> _definitions = [];

    public CalculatedAttributeProjection(TimeProvider clock)
    {
        _clock = clock;
        Name = ProjectionName;
        IncludeType<EventCaptured>();
        IncludeType<CalculatedAttributeSeeded>();
    }

    public override async Task EnrichEventsAsync(SliceGroup<PersonCalculations, string> group, IQuerySession querySession, CancellationToken cancellation)
    {
        _definitions = await ComputedDefinitions.LoadAsync(querySession, cancellation);
        await base.EnrichEventsAsync(group, querySession, cancellation);
    }

    public override PersonCalculations? Evolve(PersonCalculations? snapshot, string id, IEvent e)
    {
        var definitions = _definitions;
        var now = _clock.GetUtcNow();
        var changed = false;
        foreach (var definition in definitions)
        {
            if (e.Sequence <= definition.LiveAfterSequence) continue; // initialised by replay
            switch (e.Data)
            {
                case EventCaptured captured when captured.WorkspaceId == definition.WorkspaceId:
                    snapshot ??= PersonCalculations.For(long.Parse(id, System.Globalization.CultureInfo.InvariantCulture));
                    snapshot.Observe(definition, captured, now);
                    changed = true;
                    break;
                case CalculatedAttributeSeeded seed when definition.AcceptsSeed(seed):
                    snapshot ??= PersonCalculations.For(long.Parse(id, System.Globalization.CultureInfo.InvariantCulture));
                    snapshot.TakeSeed(definition, seed);
                    changed = true;
                    break;
            }
        }
        if (changed) snapshot!.Tidy(definitions, now);
        // An empty state is not worth a row.
        return snapshot is { Definitions.Count: 0 } ? null : snapshot;
    }
}

/// <summary>The definitions being computed (calculating or ready), read from their documents.</summary>
public static class ComputedDefinitions
{
    public static async Task<IReadOnlyList<ActiveDefinition>> LoadAsync(IQuerySession session, CancellationToken ct, int? workspaceId = null)
    {
        var query = session.Query<CalculatedAttribute>()
            .Where(c => c.Status == CalculatedAttributeStatus.Active);
        if (workspaceId is { } ws) query = query.Where(c => c.WorkspaceId == ws);
        var computed = await query.ToListAsync(ct);
        return computed.Select(c => c.Computed()).Where(d => d is not null).Cast<ActiveDefinition>().OrderBy(d => d.Id).ToList();
    }
}

/// <summary>
/// The part of a person's value that the replay computed when a definition was activated (events up to
/// <see cref="ActiveDefinition.LiveAfterSequence"/>). Written only by the initialisation, read with the live part.
/// </summary>
public sealed class InitialisedCalculation
{
    public string Id { get; set; } = "";
    public long Mpid { get; set; }
    public int DefinitionId { get; set; }
    public Guid Activation { get; set; }
    public Calculation Calculation { get; set; } = new();

    public static string IdFor(int definitionId, long mpid) =>
        $"{definitionId.ToString(System.Globalization.CultureInfo.InvariantCulture)}:{StreamKey.For(mpid)}";
}
