using EventProfiles.Commands.Ingestion;
using EventProfiles.Projections.Identity;
using EventProfiles.Projections.Profiles;
using Marten;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace EventProfiles.Host.Health;

/// <summary>Ready when PostgreSQL answers and our schema (event store, profiles, identity index) is in place.</summary>
public sealed class DatabaseHealthCheck(NpgsqlDataSource db, IDocumentStore store) : IHealthCheck
{
    private static readonly string[] RequiredTables =
        ["mt_events", "mt_streams", ProfileProjection.TableName, IdentityIndexProjection.TableName, IngestionStorage.RequestsTable, IngestionStorage.MessagesTable];

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        try
        {
            await using var command = db.CreateCommand(
                "select count(*) from information_schema.tables where table_schema = $1 and table_name = any($2)");
            command.Parameters.Add(new NpgsqlParameter { Value = store.Options.DatabaseSchemaName });
            command.Parameters.Add(new NpgsqlParameter { Value = RequiredTables });
            var present = (long)(await command.ExecuteScalarAsync(ct))!;
            return present == RequiredTables.Length
                ? HealthCheckResult.Healthy("database reachable, schema applied")
                : HealthCheckResult.Unhealthy($"database reachable, but {RequiredTables.Length - present} of our tables are missing");
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy("database unreachable", ex);
        }
    }
}
