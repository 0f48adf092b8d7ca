using System.Text.Json.Serialization;
using EventProfiles.Commands.Security;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Npgsql;
using Wolverine.Http;

namespace EventProfiles.Commands.Operations;

/// <summary>One read model: inline ones are always current; an async one's position against the store's high-water mark.</summary>
public sealed record ProjectionProgress(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("lifecycle")] string Lifecycle,
    [property: JsonPropertyName("position")] long Position,
    [property: JsonPropertyName("high_water_mark")] long HighWaterMark,
    [property: JsonPropertyName("lag_events")] long LagEvents,
    [property: JsonPropertyName("rebuild_target")] string RebuildTarget);

public static class ProjectionStatus
{
    /// <summary>The projections, their progress and lag (read from Marten's progression table).</summary>
    public static async Task<IReadOnlyList<ProjectionProgress>> ReadAsync(IDocumentStore store, NpgsqlDataSource db, CancellationToken ct)
    {
        var positions = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (var command = db.CreateCommand($"select name, last_seq_id from {store.Options.DatabaseSchemaName}.mt_event_progression"))
        await using (var reader = await command.ExecuteReaderAsync(ct))
            while (await reader.ReadAsync(ct)) positions[reader.GetString(0)] = reader.GetInt64(1);
        long highWater;
        await using (var command = db.CreateCommand($"select coalesce(max(seq_id), 0) from {store.Options.DatabaseSchemaName}.mt_events"))
            highWater = Convert.ToInt64(await command.ExecuteScalarAsync(ct));
        highWater = Math.Max(highWater, positions.GetValueOrDefault("HighWaterMark"));
        var calculations = positions.GetValueOrDefault(RebuildCalculations.ShardName);
        return
        [
            new("Profile", "inline", highWater, highWater, 0, RebuildTargets.Profiles),
            new("IdentityIndex", "inline", highWater, highWater, 0, RebuildTargets.Profiles),
            new(RebuildCalculations.ShardName, "async", calculations, highWater, Math.Max(0, highWater - calculations), RebuildTargets.Calculations),
        ];
    }
}

public static class ProjectionStatusEndpoint
{
    [WolverineGet("/api/admin/projections", Name = "Projections: progress and lag")]
    [Authorize(AuthenticationSchemes = AuthSchemes.Admin, Policy = ApiAuthorization.EveryWorkspace)] // org-wide
    public static async Task<IResult> Get(IDocumentStore store, NpgsqlDataSource db, CancellationToken ct) =>
        Results.Json(await ProjectionStatus.ReadAsync(store, db, ct));
}
