using EventProfiles.Domain.Privacy;
using Marten;

namespace EventProfiles.Commands.Privacy;

public static class PrivacyStorage
{
    public static StoreOptions AddPrivacyDocuments(this StoreOptions opts)
    {
        opts.Schema.For<DataSubjectRequest>().DocumentAlias("dsr_request").Index(r => r.WorkspaceId).Index(r => r.Status).Index(r => r.GroupId);
        opts.Schema.For<DsrExport>().DocumentAlias("dsr_export");
        opts.Schema.For<RetentionSettings>().DocumentAlias("retention_settings");
        return opts;
    }
}
