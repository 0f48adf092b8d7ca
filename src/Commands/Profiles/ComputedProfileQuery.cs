using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Profiles;
using EventProfiles.Projections.CalculatedAttributes;
using Marten;
using Marten.Services.BatchQuerying;

namespace EventProfiles.Commands.Profiles;

/// <summary>An audience the person is in, as the Profile API lists it.</summary>
public sealed record AudienceMembershipView(int AudienceId, string AudienceName);

/// <summary>What is computed about a person, as of now.</summary>
public sealed record ComputedProfile(IReadOnlyDictionary<string, CalculatedValue> CalculatedAttributes, IReadOnlyList<AudienceMembershipView> Audiences)
{
    /// <summary>No calculated attribute and no audience membership.</summary>
    public static readonly ComputedProfile Empty = new(new Dictionary<string, CalculatedValue>(), []);
}

/// <summary>
/// A person's calculated attributes in one workspace (live part, replayed part and seed, combined by the Domain; rolling
/// windows evaluated at read time, so a value falls back the moment its events leave the window, with no event and no
/// timer) and their current audience memberships (profile-wide). The person's own documents are indexed look-ups
/// (queued into the caller's batched query, or read by the Profile API's own batch); the definitions come from the caller.
/// </summary>
public static class ComputedProfileQuery
{
    /// <summary>The person's documents, fetched with the rest of the caller's batch.</summary>
    public sealed record Pending(Task<PersonCalculations?> Live, Task<IReadOnlyList<InitialisedCalculation>> Initialised, Task<IReadOnlyList<Audiences.AudienceMember>> StandardMembers);

    public static Pending Queue(IBatchedQuery batch, long mpid) => new(
        batch.Load<PersonCalculations>(StreamKey.For(mpid)),
        batch.Query<InitialisedCalculation>().Where(c => c.Mpid == mpid).ToList(),
        batch.Query<Audiences.AudienceMember>().Where(m => m.Mpid == mpid).ToList());

    /// <param name="attributes">The active calculated attributes (any workspace: only <paramref name="workspaceId"/>'s count).</param>
    /// <param name="audiences">The active and ready audiences.</param>
    public static async Task<ComputedProfile> CombineAsync(Pending pending, IEnumerable<CalculatedAttribute> attributes, IEnumerable<Audience> audiences,
        int workspaceId, DateTimeOffset now) =>
        Combine(await pending.Live, await pending.Initialised, await pending.StandardMembers, attributes, audiences, workspaceId, now);

    public static ComputedProfile Combine(PersonCalculations? person, IEnumerable<InitialisedCalculation> initialised, IEnumerable<Audiences.AudienceMember> standardMembers,
        IEnumerable<CalculatedAttribute> attributes, IEnumerable<Audience> audiences, int workspaceId, DateTimeOffset now,
        SynchronousCalculations? synchronous = null)
    {
        var inStandard = standardMembers.Select(m => m.AudienceId).ToHashSet();
        var parts = initialised as IReadOnlyCollection<InitialisedCalculation> ?? initialised.ToList();
        var memberships = audiences
            // Standard-audience membership stays on the profile after the audience expires (§B4).
            .Where(a => a.Kind == AudienceKinds.Standard ? inStandard.Contains(a.Id) : AudienceMemberships.IsMember(person, parts, a.Id, a.Activation))
            .OrderBy(a => a.Id)
            .Select(a => new AudienceMembershipView(a.Id, a.Name))
            .ToList();
        var definitions = attributes.Where(c => c.WorkspaceId == workspaceId && c.Status == CalculatedAttributeStatus.Active);
        return new ComputedProfile(VisibleCalculatedValues.Combine(definitions, person, parts, now, synchronous), memberships);
    }

    /// <summary>Definitions read with the person's documents, in one round trip (for the Activity View and access requests).</summary>
    public static async Task<ComputedProfile> ForPersonAsync(IQuerySession session, long mpid, int workspaceId, DateTimeOffset now, CancellationToken ct)
    {
        var batch = session.CreateBatchQuery();
        var definitions = batch.Query<CalculatedAttribute>()
            .Where(c => c.WorkspaceId == workspaceId && c.Status == CalculatedAttributeStatus.Active).ToList();
        var audiences = batch.Query<Audience>().Where(a => a.Status == AudienceStatus.Active || a.Status == AudienceStatus.Ready).ToList();
        var pending = Queue(batch, mpid);
        await batch.Execute(ct);
        return await CombineAsync(pending, await definitions, await audiences, workspaceId, now);
    }
}
