using Marten;

namespace EventProfiles.Commands.Audiences;

public static class AudienceStorage
{
    /// <summary>Members, change records and audience connections, indexed as the API reads them.</summary>
    public static StoreOptions AddAudienceDocuments(this StoreOptions opts)
    {
        opts.Schema.For<AudienceMember>().DocumentAlias("audience_member").Index(m => m.AudienceId).Index(m => m.Mpid);
        opts.Schema.For<MembershipChangeRecord>().DocumentAlias("audience_membership_change").Index(r => r.AudienceId).Index(r => r.Mpid).Index(r => r.At);
        opts.Schema.For<AudienceConnection>().DocumentAlias("audience_connection").Index(c => c.AudienceId);
        opts.Schema.For<ScheduledReevaluation>().DocumentAlias("audience_reevaluation").Index(r => r.DueAt);
        opts.Schema.For<AudienceInitialisation>().DocumentAlias("audience_initialisation");
        opts.Schema.For<StandardCalculation>().DocumentAlias("audience_standard_calculation");
        opts.Schema.For<AudienceEstimate>().DocumentAlias("audience_estimate").Index(e => e.RequestedAt);
        opts.Schema.For<AudienceRevision>().DocumentAlias("audience_revision").Index(r => r.AudienceId);
        return opts;
    }
}
