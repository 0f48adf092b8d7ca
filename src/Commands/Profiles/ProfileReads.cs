using System.Text.Json;
using EventProfiles.Commands.Forwarding;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Profiles;
using EventProfiles.Projections.Identity;
using Marten;
using EventProfiles.Projections.CalculatedAttributes;
using Npgsql;

namespace EventProfiles.Commands.Profiles;

/// <summary>
/// The Profile API's own connection pool. Its connections only ever run the reads below (no transactions, no session
/// settings, no advisory locks, no LISTEN), so nothing needs resetting when one goes back to the pool: Npgsql's
/// <c>No Reset On Close</c> saves the <c>DISCARD ALL</c> that the shared pool runs on every checkout, and keeps the
/// statements prepared on each connection.
/// </summary>
public sealed class ProfileReadDatabase(NpgsqlDataSource dataSource) : IAsyncDisposable
{
    public NpgsqlDataSource DataSource { get; } = dataSource;

    /// <summary>A read is one round trip, so a few connections keep two cores busy; more would only take PostgreSQL
    /// connections (max_connections) from the shared pool, which ingestion and the daemon need.</summary>
    public const int MaxConnections = 32;

    public static ProfileReadDatabase For(string connectionString, bool fromStandby = false)
    {
        // The reads are the same few statements over and over: prepared once per connection (kept across checkouts,
        // nothing resets them), PostgreSQL no longer parses and plans them on every read. Multiplexing: concurrent reads
        // share physical connections and go out together, so one write and one backend wake-up serve several reads
        // (PostgreSQL CPU per read 0.108 → 0.085 ms at 16 connections; docs/operations.md). These reads hold no
        // transaction and no session state, which is what multiplexing asks.
        var settings = new NpgsqlConnectionStringBuilder(connectionString)
            { NoResetOnClose = true, MaxAutoPrepare = 8, AutoPrepareMinUsages = 2, Multiplexing = true };
        settings.MaxPoolSize = Math.Min(settings.MaxPoolSize, MaxConnections);
        if (settings.Host?.Contains(',') == true)
        {
            // Several hosts (a primary and standbys): Npgsql does not multiplex over them. The primary by default, so a
            // client reads its own write at once; a standby only when the operator accepts lagging profiles.
            settings.Multiplexing = false;
            var multiHost = new NpgsqlDataSourceBuilder(settings.ConnectionString) { Name = "eventprofiles-profile-reads" }.BuildMultiHost();
            return new(multiHost.WithTargetSession(fromStandby ? TargetSessionAttributes.PreferStandby : TargetSessionAttributes.Primary));
        }
        return new(new NpgsqlDataSourceBuilder(settings.ConnectionString) { Name = "eventprofiles-profile-reads" }.Build());
    }

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}

/// <summary>
/// A profile as read for one answer: the stored profile document as it is (the answer is written from it, see
/// <see cref="ProfileAnswer"/>), with what is computed about the person when the answer needs it. Holds pooled memory
/// until disposed.
/// </summary>
public sealed record ProfileRead(JsonDocument? Profile, ComputedProfile? Computed) : IDisposable
{
    public void Dispose() => Profile?.Dispose();
}

/// <summary>
/// One Profile API read: one pool checkout, one round trip, one prepared statement, no transaction. The statement
/// returns the profile and the person's computed documents as rows tagged by part (profile and calculations by id,
/// replayed parts and standard-audience members through the MPID indexes Marten keeps on them); <c>resolve</c> finds
/// the MPID once, in the same statement. Definitions come from the per-node cache, and when none can show anything in
/// the workspace the computed documents are not read at all.
/// Why plain SQL on Marten's document tables rather than a Marten batched query: a Marten session takes an outside
/// connection only inside a transaction (one more round trip for its COMMIT), and on the shared pool every checkout
/// runs <c>DISCARD ALL</c>. The tables are Marten's, so they are named through Marten's mappings and the documents
/// read with Marten's serializer; the <c>Mpid</c> look-ups are written exactly as the index expressions Marten creates.
/// </summary>
public sealed class ProfileReader(IDocumentStore store, ProfileReadDatabase database, EnrichmentDefinitionsCache definitions)
{
    private const int ProfilePart = 0, LivePart = 1, InitialisedPart = 2, MembersPart = 3, SynchronousPart = 4;
    private readonly string _profiles = TableOf<Profile>(store);
    private readonly string _live = TableOf<PersonCalculations>(store);
    private readonly string _initialised = TableOf<InitialisedCalculation>(store);
    private readonly string _members = TableOf<Audiences.AudienceMember>(store);
    private readonly string _synchronous = $"{store.Options.DatabaseSchemaName}.{CalculatedAttributes.SynchronousCalculationsStorage.Table}";
    private readonly string _identities = $"{store.Options.DatabaseSchemaName}.{IdentityIndexProjection.TableName}";
    private Statement? _byMpid, _byIdentity;

    /// <summary>Marten's serializer, as the documents were stored with it.</summary>
    public ISerializer Serializer => store.Options.Serializer();

    /// <summary>The SQL of one kind of read, with and without the computed part.</summary>
    private sealed record Statement(string ProfileOnly, string WithComputed);

    public Task<ProfileRead?> ByMpidAsync(long mpid, int workspaceId, bool withComputed, DateTimeOffset now, CancellationToken ct) =>
        ReadAsync(_byMpid ??= StatementFor("$1::bigint"), [mpid], workspaceId, withComputed, now, ct);

    /// <returns>null when no profile holds the identity.</returns>
    public Task<ProfileRead?> ByIdentityAsync(string identityType, string identityValue, int workspaceId, bool withComputed, DateTimeOffset now, CancellationToken ct) =>
        ReadAsync(_byIdentity ??= StatementFor($"(select mpid from {_identities} where identity_type = $1 and identity_value = $2 limit 1)"),
            [identityType, identityValue], workspaceId, withComputed, now, ct);

    /// <param name="mpid">SQL for the person's MPID: a parameter, or the identity look-up (run once, in the CTE).</param>
    private Statement StatementFor(string mpid)
    {
        // The first part answers "is there such a person" (resolve): one row with the MPID, and the profile if any.
        var person = $"with m as (select {mpid} as mpid) " +
            $"select {ProfilePart} as part, m.mpid, p.data from m left join {_profiles} p on p.id = m.mpid::text where m.mpid is not null";
        return new(person, person +
            $" union all select {LivePart}, m.mpid, l.data from m join {_live} l on l.id = m.mpid::text" +
            $" union all select {InitialisedPart}, m.mpid, i.data from m join {_initialised} i on CAST(i.data ->> 'Mpid' as bigint) = m.mpid" +
            $" union all {MembershipsPart()}" +
            $" union all select {SynchronousPart}, m.mpid, s.data from m join {_synchronous} s on s.mpid = m.mpid");
    }

    /// <summary>
    /// Where the person's audience memberships come from besides the live calculations (standard audiences' member
    /// documents); <see cref="ComputedProfileQuery.Combine"/> decides which count.
    /// </summary>
    private string MembershipsPart() =>
        $"select {MembersPart}, m.mpid, a.data from m join {_members} a on CAST(a.data ->> 'Mpid' as bigint) = m.mpid";

    private async Task<ProfileRead?> ReadAsync(Statement statement, object[] parameters, int workspaceId, bool withComputed, DateTimeOffset now, CancellationToken ct)
    {
        var snapshot = withComputed ? await definitions.GetAsync(ct) : null;
        // Nothing computed can show when no visible calculated attribute is active in the workspace and no audience is listed.
        var readComputed = snapshot is not null && (snapshot.Listed.Count > 0 || snapshot.Attributes.Any(c =>
            c.WorkspaceId == workspaceId && c.Status == CalculatedAttributeStatus.Active && c.OwnerAudienceId is null));
        await using var connection = await database.DataSource.OpenConnectionAsync(ct);
        await using var command = new NpgsqlCommand(readComputed ? statement.WithComputed : statement.ProfileOnly, connection);
        foreach (var value in parameters) command.Parameters.Add(new NpgsqlParameter { Value = value });
        await using var reader = await command.ExecuteReaderAsync(ct);
        var serializer = Serializer;
        var found = false;
        JsonDocument? profile = null;
        PersonCalculations? live = null;
        List<InitialisedCalculation> initialised = [];
        List<Audiences.AudienceMember> members = [];
        SynchronousCalculations? synchronous = null;
        try
        {
            while (await reader.ReadAsync(ct))
            {
                switch (reader.GetInt32(0))
                {
                    case ProfilePart:
                        found = true;
                        if (!await reader.IsDBNullAsync(2, ct)) profile = reader.GetFieldValue<JsonDocument>(2);
                        break;
                    case LivePart: live = serializer.FromJson<PersonCalculations>(reader, 2); break;
                    case InitialisedPart: initialised.Add(serializer.FromJson<InitialisedCalculation>(reader, 2)); break;
                    case MembersPart: members.Add(serializer.FromJson<Audiences.AudienceMember>(reader, 2)); break;
                    case SynchronousPart: synchronous = serializer.FromJson<SynchronousCalculations>(reader, 2); break;
                }
            }
        }
        catch
        {
            profile?.Dispose();
            throw;
        }
        if (!found) return null;
        var computed = snapshot is null ? null
            : readComputed ? ComputedProfileQuery.Combine(live, initialised, members, snapshot.Attributes, snapshot.Listed, workspaceId, now, synchronous)
            : ComputedProfile.Empty;
        return new ProfileRead(profile, computed);
    }

    private static string TableOf<T>(IDocumentStore store) => store.Options.FindOrResolveDocumentType(typeof(T)).TableName.QualifiedName;
}
