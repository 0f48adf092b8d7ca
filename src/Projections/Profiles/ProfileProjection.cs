using EventProfiles.Domain.Consent;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;
using Marten.Events.Aggregation;

namespace EventProfiles.Projections.Profiles;

/// <summary>
/// Inline projection of a person's stream into their <see cref="Profile"/>, committed in the same transaction
/// as the append (read-after-write consistent). Every Apply delegates to the Domain fold, so the ingestion
/// decision, the live view and a rebuild all run the same code.
/// </summary>
public partial class ProfileProjection : SingleStreamProjection<Profile, string>
{
    /// <summary>The profile documents' table (the document alias is set in <see cref="StoreConfiguration"/>).</summary>
    public const string DocumentAlias = "profile";
    public const string TableName = "mt_doc_" + DocumentAlias;

    /// <summary>The column Marten duplicates <see cref="Profile.LastStoredAt"/> into (<see cref="StoreConfiguration"/>), for writers of the table's rows.</summary>
    public const string LastStoredAtColumn = "last_stored_at";

    /// <summary>The aged-out people, as a partial index's predicate and the queries it serves spell it (the same text, so the planner uses the index).</summary>
    public const string AgedOutPredicate = "data ->> 'AgedOutAt' is not null";
    /// <summary>The people with held merges (merge guards), spelled the same way in the partial index and its queries.</summary>
    public const string HeldMergesPredicate = "data ->> 'HasHeldMerges' = 'true'";

    public static Profile Create(ProfileCreated e) => Profile.Create(e);

    public static Profile Apply(BatchReceived e, Profile p) => p.Apply(e);
    public static Profile Apply(EventCaptured e, Profile p) => p.Apply(e);
    public static Profile Apply(UserIdentityAdded e, Profile p) => p.Apply(e);
    public static Profile Apply(UserIdentityChanged e, Profile p) => p.Apply(e);
    public static Profile Apply(UserIdentityRemoved e, Profile p) => p.Apply(e);
    public static Profile Apply(UserIdentityIgnored e, Profile p) => p.Apply(e);
    public static Profile Apply(UserAttributeSet e, Profile p) => p.Apply(e);
    public static Profile Apply(UserAttributeRemoved e, Profile p) => p.Apply(e);
    public static Profile Apply(ConsentStateChanged e, Profile p) => p.Apply(e);
    public static Profile Apply(DeviceSeen e, Profile p) => p.Apply(e);
    public static Profile Apply(InstallAttributed e, Profile p) => p.Apply(e);
    public static Profile Apply(OptOutChanged e, Profile p) => p.Apply(e);
    public static Profile Apply(ProfileAliasedTo e, Profile p) => p.Apply(e);
    public static Profile Apply(ProfileAliasedFrom e, Profile p) => p.Apply(e);
    public static Profile Apply(LimitAdTrackingChanged e, Profile p) => p.Apply(e);
    public static Profile Apply(ProfileAgedOut e, Profile p) => p.Apply(e);
    public static Profile Apply(ProfileReactivated e, Profile p) => p.Apply(e);
    public static Profile Apply(Domain.Privacy.WorkspaceDataErased e, Profile p) => p.Apply(e);
    public static Profile Apply(MergeHeld e, Profile p) => p.Apply(e);
    public static Profile Apply(MergeAccepted e, Profile p) => p.Apply(e);
}
