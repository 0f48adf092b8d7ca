using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Identity;
using EventProfiles.Projections.CalculatedAttributes;
using EventProfiles.Projections.Identity;
using EventProfiles.Projections.Profiles;
using JasperFx.Events;
using JasperFx.Events.Projections;
using Marten;
using Marten.Schema;

namespace EventProfiles.Projections;

public static class StoreConfiguration
{
    /// <summary>
    /// Event store shape and every projection of EventProfiles, registered in one place. <paramref name="identity"/>
    /// gives the org's identity rules as they are now: they change while the store runs.
    /// </summary>
    public static StoreOptions ConfigureEventProfiles(this StoreOptions opts, Func<IdentitySettings> identity, TimeProvider clock,
        Microsoft.Extensions.Logging.ILogger? calculationsLogger = null)
    {
        // Streams are keyed by the MPID as invariant decimal text (StreamKey.For).
        opts.Events.StreamIdentity = StreamIdentity.AsString;
        opts.Events.AppendMode = EventAppendMode.Quick;

        opts.Projections.Add<ProfileProjection>(ProjectionLifecycle.Inline);
        opts.Projections.Add(new IdentityIndexProjection(opts.DatabaseSchemaName, identity), ProjectionLifecycle.Inline);
        // Calculated attributes follow the events asynchronously (the daemon), as mParticle's do.
        opts.Projections.Add(new PersonCalculationsProjection(calculationsLogger), ProjectionLifecycle.Async);
        // Never stored: the calculations shard's filter while nothing is calculated (CalculationsFeedKeeper).
        opts.Events.AddEventType<NothingToCalculate>();

        // Fail loudly instead of skipping events a projection cannot apply.
        opts.Projections.Errors.SkipApplyErrors = false;
        opts.Projections.Errors.SkipSerializationErrors = false;
        opts.Projections.Errors.SkipUnknownEvents = false;
        opts.Projections.RebuildErrors.SkipApplyErrors = false;
        opts.Projections.RebuildErrors.SkipSerializationErrors = false;
        opts.Projections.RebuildErrors.SkipUnknownEvents = false;

        opts.Schema.For<Domain.Profiles.Profile>().DocumentAlias(ProfileProjection.DocumentAlias)
            // Every batch rewrites the profile row, so each index here is one more entry written per batch (issue 15). No
            // index on Mpid: the id (the primary key) is the Mpid's text. LastStoredAt (retention and the lifetime round
            // query it) in its own indexed column: an index on the jsonb expression calls mt_immutable_timestamptz, a SQL
            // function PostgreSQL cannot inline, for every row written (~25 µs of a ~75 µs upsert, docs/operations.md).
            // GroupAppend writes the column beside the document (ProfileProjection.LastStoredAtColumn).
            .Duplicate(p => p.LastStoredAt)
            // Only the flagged people (merge guards): the admin list and the /metrics gauge read these.
            .Index(p => p.Mpid, index =>
            {
                index.Name = "ix_profile_held_merges";
                index.Predicate = ProfileProjection.HeldMergesPredicate;
            })
            // Only the aged-out people: the lifetime round looks for those not yet archived every minute, which was a
            // scan of every profile (3–4 s of database time per round at 1,000,000 people).
            .Index(p => p.Mpid, index =>
            {
                index.Name = "ix_profile_aged_out";
                index.Predicate = ProfileProjection.AgedOutPredicate;
            });
        opts.Schema.For<PersonCalculations>().DocumentAlias(PersonCalculationsProjection.DocumentAlias);
        opts.Schema.For<InitialisedCalculation>().DocumentAlias("calculated_attribute_initialised").Index(c => c.Mpid).Index(c => c.DefinitionId).Index(c => c.AudienceId);
        opts.Schema.For<CalculatedAttribute>().DocumentAlias("calculated_attribute")
            .UniqueIndex(UniqueIndexType.Computed, "ux_calculated_attribute_name", c => c.WorkspaceId, c => c.Name)
            .Index(c => c.Status);
        opts.Schema.For<Initialisation>().DocumentAlias("calculated_attribute_initialisation");
        opts.Schema.For<Domain.Audiences.Audience>().DocumentAlias("audience").Index(a => a.Status);
        return opts;
    }
}
