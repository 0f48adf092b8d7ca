using System.Security.Claims;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Catalog;
using EventProfiles.Domain.Workspaces;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Npgsql;
using Wolverine.Http;

namespace EventProfiles.Commands.Catalog;

public sealed record CatalogDay([property: JsonPropertyName("date")] DateOnly Date, [property: JsonPropertyName("count")] long Count);

public sealed record CatalogItem(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("event_type")] string EventType,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("first_seen")] DateTimeOffset FirstSeen,
    [property: JsonPropertyName("last_seen")] DateTimeOffset LastSeen,
    [property: JsonPropertyName("total")] long Total,
    [property: JsonPropertyName("last_7_days")] IReadOnlyList<CatalogDay> Last7Days);

public sealed record CatalogPage(
    [property: JsonPropertyName("workspace_id")] int WorkspaceId,
    [property: JsonPropertyName("kind")] string? Kind,
    [property: JsonPropertyName("q")] string? Q,
    [property: JsonPropertyName("page")] int Page,
    [property: JsonPropertyName("size")] int Size,
    [property: JsonPropertyName("total")] long Total,
    [property: JsonPropertyName("limit")] int Limit,
    [property: JsonPropertyName("names")] long Names,
    [property: JsonPropertyName("overflow")] long Overflow,
    [property: JsonPropertyName("items")] IReadOnlyList<CatalogItem> Items);

/// <summary>
/// <c>GET /api/admin/workspaces/{workspaceId}/catalog</c>: the names seen in a workspace, by kind and name prefix, a page
/// at a time, each with its last 7 days (docs/console.md). What the console's Catalog page and builders read.
/// </summary>
public static class GetCatalogEndpoint
{
    public const int MaxSize = 500;

    [WolverineGet("/api/admin/workspaces/{workspaceId}/catalog", Name = "The catalog: event names, screens and attributes seen in a workspace")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Get(int workspaceId, string? kind, string? q, int? page, int? size, ClaimsPrincipal user, WorkspaceDirectory directory,
        NpgsqlDataSource db, IDocumentStore store, CatalogRecorder recorder, TimeProvider clock, CancellationToken ct)
    {
        // Another workspace's catalog is as absent as a workspace that does not exist.
        if (directory.WorkspaceById(workspaceId) is null || !AdminAccess.Of(user).Sees(workspaceId))
            return Results.Problem(ApiProblems.Create(StatusCodes.Status404NotFound, "Not found",
                [new FieldError("workspaceId", $"There is no workspace {workspaceId} you may see.", "NOT_FOUND")]));
        var problems = new List<FieldError>();
        if (kind is { Length: > 0 } && !CatalogKinds.All.Contains(kind)) problems.Add(new FieldError("kind", $"must be one of {string.Join(", ", CatalogKinds.All)}."));
        if (q is { Length: > CatalogTally.MaxNameLength }) problems.Add(new FieldError("q", $"must be at most {CatalogTally.MaxNameLength} characters."));
        if (page is < 1) problems.Add(new FieldError("page", "must be 1 or more."));
        if (size is < 1 or > MaxSize) problems.Add(new FieldError("size", $"must be between 1 and {MaxSize}."));
        if (problems.Count > 0) return Results.Problem(ApiProblems.Invalid(problems));

        var (pageNumber, pageSize) = (page ?? 1, size ?? 50);
        var schema = store.Options.DatabaseSchemaName;
        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        var since = today.AddDays(-6);
        var pattern = q is { Length: > 0 } ? EscapeLike(q.ToLowerInvariant()) + "%" : null;

        var items = new List<(string Kind, string EventType, string Name, DateTimeOffset First, DateTimeOffset Last, long Total)>();
        long total = 0, names = 0, overflow = 0;
        // One snapshot for the page, its counts and its days: a write of the recorder in between would make them disagree.
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var snapshot = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
        await using (var command = new NpgsqlCommand(
            $"select c.kind, c.event_type, c.name, c.first_seen, c.last_seen, c.total " +
            $"from {schema}.{CatalogStorage.NamesTable} c " +
            $"left join lateral (select sum(d.count) as recent from {schema}.{CatalogStorage.DaysTable} d " +
            "  where d.workspace_id = c.workspace_id and d.kind = c.kind and d.event_type = c.event_type and d.name = c.name and d.day >= $4) r on true " +
            "where c.workspace_id = $1 and ($2::text is null or c.kind = $2) and ($3::text is null or lower(c.name) like $3) " +
            "order by c.kind, coalesce(r.recent, 0) desc, c.name limit $5 offset $6", connection, snapshot))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = workspaceId });
            command.Parameters.Add(new NpgsqlParameter { Value = kind is { Length: > 0 } ? kind : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)pattern ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter { Value = since });
            command.Parameters.Add(new NpgsqlParameter { Value = pageSize });
            command.Parameters.Add(new NpgsqlParameter { Value = (long)(pageNumber - 1) * pageSize });
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                items.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3),
                    reader.GetFieldValue<DateTimeOffset>(4), reader.GetInt64(5)));
            }
        }
        await using (var command = new NpgsqlCommand(
            $"select count(*), count(*) filter (where ($2::text is null or kind = $2) and ($3::text is null or lower(name) like $3)), " +
            $"coalesce((select dropped from {schema}.{CatalogStorage.OverflowTable} where workspace_id = $1), 0) " +
            $"from {schema}.{CatalogStorage.NamesTable} where workspace_id = $1", connection, snapshot))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = workspaceId });
            command.Parameters.Add(new NpgsqlParameter { Value = kind is { Length: > 0 } ? kind : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)pattern ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            await using var reader = await command.ExecuteReaderAsync(ct);
            if (await reader.ReadAsync(ct)) (names, total, overflow) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
        }
        // The page's daily volumes, in one query.
        var days = new Dictionary<(string, string, string), Dictionary<DateOnly, long>>();
        if (items.Count > 0)
        {
            await using var command = new NpgsqlCommand(
                $"select d.kind, d.event_type, d.name, d.day, d.count from {schema}.{CatalogStorage.DaysTable} d " +
                "join unnest($2::text[], $3::text[], $4::text[]) as p(kind, et, name) on d.kind = p.kind and d.event_type = p.et and d.name = p.name " +
                "where d.workspace_id = $1 and d.day >= $5", connection, snapshot);
            command.Parameters.Add(new NpgsqlParameter { Value = workspaceId });
            command.Parameters.Add(new NpgsqlParameter { Value = items.Select(i => i.Kind).ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = items.Select(i => i.EventType).ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = items.Select(i => i.Name).ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = since });
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var key = (reader.GetString(0), reader.GetString(1), reader.GetString(2));
                if (!days.TryGetValue(key, out var perDay)) days[key] = perDay = [];
                perDay[reader.GetFieldValue<DateOnly>(3)] = reader.GetInt64(4);
            }
        }
        var week = Enumerable.Range(0, 7).Select(since.AddDays).ToList();
        return Results.Ok(new CatalogPage(workspaceId, kind is { Length: > 0 } ? kind : null, q is { Length: > 0 } ? q : null, pageNumber, pageSize, total,
            recorder.Limit, names, overflow,
            items.Select(i => new CatalogItem(i.Kind, i.EventType, i.Name, i.First, i.Last, i.Total,
                week.Select(d => new CatalogDay(d, days.GetValueOrDefault((i.Kind, i.EventType, i.Name))?.GetValueOrDefault(d) ?? 0)).ToList())).ToList()));
    }

    private static string EscapeLike(string text) => text.Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_");
}
