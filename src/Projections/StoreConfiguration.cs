using EventProfiles.Domain.Identity;
using EventProfiles.Projections.Identity;
using EventProfiles.Projections.Profiles;
using JasperFx.Events;
using JasperFx.Events.Projections;
using Marten;

namespace EventProfiles.Projections;

public static class StoreConfiguration
{
    /// <summary>Event store shape and every projection of EventProfiles, registered in one place.</summary>
    public static StoreOptions ConfigureEventProfiles(this StoreOptions opts, IdentitySettings identity)
    {
        // Streams are keyed by the MPID as invariant decimal text (StreamKey.For).
        opts.Events.StreamIdentity = StreamIdentity.AsString;
        opts.Events.AppendMode = EventAppendMode.Quick;

        opts.Projections.Add<ProfileProjection>(ProjectionLifecycle.Inline);
        opts.Projections.Add(new IdentityIndexProjection(opts.DatabaseSchemaName, identity), ProjectionLifecycle.Inline);

        // Fail loudly instead of skipping events a projection cannot apply.
        opts.Projections.Errors.SkipApplyErrors = false;
        opts.Projections.Errors.SkipSerializationErrors = false;
        opts.Projections.Errors.SkipUnknownEvents = false;
        opts.Projections.RebuildErrors.SkipApplyErrors = false;
        opts.Projections.RebuildErrors.SkipSerializationErrors = false;
        opts.Projections.RebuildErrors.SkipUnknownEvents = false;

        opts.Schema.For<Domain.Profiles.Profile>().DocumentAlias(ProfileProjection.DocumentAlias).Index(p => p.Mpid);
        return opts;
    }
}
