using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Profiles;
using EventProfiles.Projections.CalculatedAttributes;
using Marten;

namespace EventProfiles.Commands.Profiles;

/// <summary>An audience the person is in, as the Profile API lists it.</summary>
public sealed record AudienceMembershipView(int AudienceId, string AudienceName);

/// <summary>What is computed about a person, as of now.</summary>
public sealed record ComputedProfile(IReadOnlyDictionary<string, CalculatedValue> CalculatedAttributes, IReadOnlyList<AudienceMembershipView> Audiences);

/// <summary>
/// A person's calculated attributes in one workspace (live part, replayed part and seed, combined by the Domain; rolling
/// windows evaluated at read time, so a value falls back the moment its events leave the window, with no event and no
/// timer) and their current audience memberships (profile-wide). One round trip (a batched query).
/// </summary>
public static class ComputedProfileQuery
{
    public static async Task<ComputedProfile> ForPersonAsync(IQuerySession session, long mpid, int workspaceId, DateTimeOffset now, CancellationToken ct)
    {
        var batch = session.CreateBatchQuery();
        var definitions = batch.Query<CalculatedAttribute>()
            .Where(c => c.WorkspaceId == workspaceId && c.Status == CalculatedAttributeStatus.Active).ToList();
        var live = batch.Load<PersonCalculations>(StreamKey.For(mpid));
        var initialised = batch.Query<InitialisedCalculation>().Where(c => c.Mpid == mpid).ToList();
        var audiences = batch.Query<Audience>().Where(a => a.Status == AudienceStatus.Active || a.Status == AudienceStatus.Ready).ToList();
        var standardMembers = batch.Query<Audiences.AudienceMember>().Where(m => m.Mpid == mpid).ToList();
        await batch.Execute(ct);
        var person = await live;
        var inStandard = (await standardMembers).Select(m => m.AudienceId).ToHashSet();
        var memberships = (await audiences)
            // Standard-audience membership stays on the profile after the audience expires (§B4).
            .Where(a => a.Kind == AudienceKinds.Standard ? inStandard.Contains(a.Id) : person?.IsMemberOf(a.Id, a.Activation) == true)
            .OrderBy(a => a.Id)
            .Select(a => new AudienceMembershipView(a.Id, a.Name))
            .ToList();
        return new ComputedProfile(VisibleCalculatedValues.Combine(await definitions, person, await initialised, now), memberships);
    }
}
