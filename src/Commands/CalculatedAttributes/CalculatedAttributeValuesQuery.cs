using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Profiles;
using EventProfiles.Projections.CalculatedAttributes;
using Marten;

namespace EventProfiles.Commands.CalculatedAttributes;

/// <summary>
/// A person's calculated attributes in one workspace as of now: the live part (daemon), the part initialised by replay
/// and any seed, combined by the Domain. Rolling windows are evaluated at read time, so a value falls back the moment its
/// events leave the window, with no new events and no timer. One round trip (a batched query).
/// </summary>
public static class CalculatedAttributeValuesQuery
{
    public static async Task<IReadOnlyDictionary<string, CalculatedValue>> ForPersonAsync(
        IQuerySession session, long mpid, int workspaceId, DateTimeOffset now, CancellationToken ct)
    {
        var batch = session.CreateBatchQuery();
        var definitions = batch.Query<CalculatedAttribute>()
            .Where(c => c.WorkspaceId == workspaceId && c.Status == CalculatedAttributeStatus.Active).ToList();
        var live = batch.Load<PersonCalculations>(StreamKey.For(mpid));
        var initialised = batch.Query<InitialisedCalculation>().Where(c => c.Mpid == mpid).ToList();
        await batch.Execute(ct);
        return Combine(await definitions, await live, await initialised, now);
    }

    public static IReadOnlyDictionary<string, CalculatedValue> Combine(
        IEnumerable<CalculatedAttribute> attributes, PersonCalculations? live, IEnumerable<InitialisedCalculation> initialised, DateTimeOffset now)
    {
        var values = new SortedDictionary<string, CalculatedValue>(StringComparer.Ordinal);
        foreach (var definition in attributes.Select(a => a.Computed()).OfType<ActiveDefinition>())
        {
            var replayed = initialised.FirstOrDefault(i => i.DefinitionId == definition.Id && i.Activation == definition.Activation)?.Calculation;
            var current = live?.Definitions.GetValueOrDefault(definition.Id);
            if (CalculatedAttributeValues.ValueAt(definition, now, replayed, current) is { } value) values[definition.Name] = value;
        }
        return values;
    }
}
