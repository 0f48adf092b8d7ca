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
/// <c>No Reset On Close</c> saves the <c>DISCARD ALL</c> that the shared pool runs on every checkout.
/// </summary>
public sealed class ProfileReadDatabase(NpgsqlDataSource dataSource) : IAsyncDisposable
{
    public NpgsqlDataSource DataSource { get; } = dataSource;

    /// <summary>A read is one round trip, so a few connections keep two cores busy; more would only take PostgreSQL
    /// connections (max_connections) from the shared pool, which ingestion and the daemon need.</summary>
    public const int MaxConnections = 32;

    public static ProfileReadDatabase For(string connectionString)
    {
        var settings = new NpgsqlConnectionStringBuilder(connectionString) { NoResetOnClose = true };
        settings.MaxPoolSize = Math.Min(settings.MaxPoolSize, MaxConnections);
        return new(new NpgsqlDataSourceBuilder(settings.ConnectionString) { Name = "eventprofiles-profile-reads" }.Build());
    }

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}

/// <summary>A profile as read for one answer, with what is computed about the person when the answer needs it.</summary>
public sealed record ProfileRead(Profile? Profile, ComputedProfile? Computed);

/// <summary>
/// One Profile API read: one pool checkout, one round trip, no transaction. The profile and the person's computed
/// documents come in one Npgsql batch of indexed look-ups (profile and calculations by id, replayed parts and
/// standard-audience members through the MPID indexes Marten keeps on them); <c>resolve</c> finds the MPID inside the
/// same statements. Definitions come from the per-node cache.
/// Why plain SQL on Marten's document tables rather than a Marten batched query: a Marten session takes an outside
/// connection only inside a transaction (one more round trip for its COMMIT), and on the shared pool every checkout
/// runs <c>DISCARD ALL</c>. The tables are Marten's, so they are named through Marten's mappings and the documents
/// read with Marten's serializer; the <c>Mpid</c> look-ups are written exactly as the index expressions Marten creates.
/// </summary>
public sealed class ProfileReader(IDocumentStore store, ProfileReadDatabase database, EnrichmentDefinitionsCache definitions)
{
    private readonly string _profiles = TableOf<Profile>(store);
    private readonly string _live = TableOf<PersonCalculations>(store);
    private readonly string _initialised = TableOf<InitialisedCalculation>(store);
    private readonly string _members = TableOf<Audiences.AudienceMember>(store);
    private readonly string _identities = $"{store.Options.DatabaseSchemaName}.{IdentityIndexProjection.TableName}";
    private string[]? _byMpid, _byIdentity;

    public Task<ProfileRead?> ByMpidAsync(long mpid, int workspaceId, bool withComputed, DateTimeOffset now, CancellationToken ct) =>
        ReadAsync(_byMpid ??= Statements("$1"), [mpid], workspaceId, withComputed, now, ct);

    /// <returns>null when no profile holds the identity.</returns>
    public Task<ProfileRead?> ByIdentityAsync(string identityType, string identityValue, int workspaceId, bool withComputed, DateTimeOffset now, CancellationToken ct) =>
        ReadAsync(_byIdentity ??= Statements($"(select mpid from {_identities} where identity_type = $1 and identity_value = $2 limit 1)"),
            [identityType, identityValue], workspaceId, withComputed, now, ct);

    /// <param name="mpid">SQL for the person's MPID: a parameter, or the identity look-up.</param>
    private string[] Statements(string mpid) =>
    [
        // The first statement answers "is there such a person" (resolve): one row with the MPID, and the profile if any.
        $"select m.mpid, p.data from (select {mpid}::bigint as mpid) m left join {_profiles} p on p.id = m.mpid::text where m.mpid is not null",
        $"select data from {_live} where id = ({mpid}::bigint)::text",
        $"select data from {_initialised} where CAST(data ->> 'Mpid' as bigint) = {mpid}",
        $"select data from {_members} where CAST(data ->> 'Mpid' as bigint) = {mpid}",
    ];

    /// <param name="statements">The profile's statement, then the three of the computed part.</param>
    private async Task<ProfileRead?> ReadAsync(string[] statements, object[] parameters, int workspaceId, bool withComputed, DateTimeOffset now, CancellationToken ct)
    {
        var snapshot = withComputed ? await definitions.GetAsync(ct) : null;
        await using var connection = await database.DataSource.OpenConnectionAsync(ct);
        await using var batch = new NpgsqlBatch(connection);
        for (var i = 0; i < (snapshot is null ? 1 : statements.Length); i++)
        {
            var command = new NpgsqlBatchCommand(statements[i]);
            foreach (var value in parameters) command.Parameters.Add(new NpgsqlParameter { Value = value });
            batch.BatchCommands.Add(command);
        }
        await using var reader = await batch.ExecuteReaderAsync(ct);
        var serializer = store.Options.Serializer();
        if (!await reader.ReadAsync(ct)) return null;
        var profile = await reader.IsDBNullAsync(1, ct) ? null : serializer.FromJson<Profile>(reader, 1);
        ComputedProfile? computed = null;
        if (snapshot is not null)
        {
            await reader.NextResultAsync(ct);
            var live = await reader.ReadAsync(ct) ? serializer.FromJson<PersonCalculations>(reader, 0) : null;
            var initialised = await NextListAsync<InitialisedCalculation>();
            var members = await NextListAsync<Audiences.AudienceMember>();
            computed = ComputedProfileQuery.Combine(live, initialised, members, snapshot.Attributes, snapshot.Listed, workspaceId, now);
        }
        return new ProfileRead(profile, computed);

        async Task<List<T>> NextListAsync<T>()
        {
            await reader.NextResultAsync(ct);
            var list = new List<T>();
            while (await reader.ReadAsync(ct)) list.Add(serializer.FromJson<T>(reader, 0));
            return list;
        }
    }

    private static string TableOf<T>(IDocumentStore store) => store.Options.FindOrResolveDocumentType(typeof(T)).TableName.QualifiedName;
}
