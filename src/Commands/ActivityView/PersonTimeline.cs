using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Commands.Streams;
using EventProfiles.Domain.Privacy;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Npgsql;
using NpgsqlTypes;
using Wolverine.Http;

namespace EventProfiles.Commands.ActivityView;

/// <summary>
/// One stored event of the person, with the batch it came in. <c>Json</c> is the event as it was sent and its batch
/// (without the batch's other events), indented here so the browser shows 64-bit numbers exactly as stored.
/// </summary>
public sealed record TimelineEvent(
    long Sequence, string EventType, string? Name, DateTimeOffset Timestamp, WorkspaceRef Workspace, string? Input, string? Environment,
    string BatchId, DateTimeOffset? ReceivedAt, string? CopiedFrom, string Json);

public sealed record TimelinePage(int Page, int Size, long Total, IReadOnlyList<string> EventTypes, IReadOnlyList<string> Inputs, IReadOnlyList<TimelineEvent> Events);

public sealed record ActivityDay(string Date, long Count);

/// <summary>Events per UTC day (by the events' own timestamps) over the data retention period; days without events are left out.</summary>
public sealed record ActivityChart(string From, string To, int RetentionDays, long Total, IReadOnlyList<ActivityDay> Days);

/// <summary>
/// The person's timeline, read straight from their event stream (forwarding.md §7 "Events tab"), newest first. Unlike
/// mParticle's daily refresh it is current to the last accepted batch; archived (aged-out) events are shown too.
/// </summary>
public static class PersonTimelineEndpoints
{
    public const int MaxPageSize = 200;
    // Shown as text (never as HTML), so nothing needs escaping beyond JSON itself.
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    [WolverineGet("/ui/api/people/{mpid}/events", Name = "Web UI: a person's events")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static async Task<IResult> Events(string mpid, string? type, string? name, string? input, string? from, string? to, int? page, int? size,
        ClaimsPrincipal user, WorkspaceDirectory directory, LaggingReads reads, CancellationToken ct)
    {
        await using var session = await reads.QuerySessionAsync(ct); // may lag: a standby when there is one
        var db = reads.DataSource;
        var access = ActivityViewAccess.For(user, directory);
        if (await PersonPageEndpoint.VisiblePersonAsync(mpid, access, session, ct) is not { } profile)
            return ActivityViewJson.NotFound("mpid", $"No person {mpid} has data in the workspaces you may see.");
        if (page is < 1) return ActivityViewJson.Invalid("page", "must be 1 or more.");
        if (size is < 1 or > MaxPageSize) return ActivityViewJson.Invalid("size", $"must be between 1 and {MaxPageSize}.");
        if (!TryDate(from, out var fromDate)) return ActivityViewJson.Invalid("from", "is not a date (yyyy-MM-dd).");
        if (!TryDate(to, out var toDate)) return ActivityViewJson.Invalid("to", "is not a date (yyyy-MM-dd).");
        if (fromDate is not null && toDate is not null && fromDate > toDate) return ActivityViewJson.Invalid("from", "is after to.");
        var (pageNumber, pageSize) = (page ?? 1, size ?? 50);

        var schema = session.DocumentStore.Options.DatabaseSchemaName;
        var key = StreamKey.For(profile.Mpid);
        // Events a split or merge moved away are shown under the person who received them (issue 21).
        var hidden = (await VisibleEvents.HiddenAsync(session.DocumentStore, db, [key], ct)).Of(key);
        var visible = HiddenEvents.SqlForOneStream("$8");
        var filters = $"stream_id = $1 and type = 'event_captured' and (data->>'WorkspaceId')::int = any($2) and {visible} " +
                      "and ($3::text is null or data->>'EventType' = $3) " +
                      @"and ($4::text is null or data->>'EventName' ilike '%' || replace(replace(replace($4, '\', '\\'), '%', '\%'), '_', '\_') || '%') " +
                      "and ($5::timestamptz is null or (data->>'Timestamp')::timestamptz >= $5) " +
                      "and ($6::timestamptz is null or (data->>'Timestamp')::timestamptz < $6) " +
                      $"and ($7::text is null or data->>'BatchId' in (select b.data->>'BatchId' from {schema}.mt_events b " +
                      $"where b.stream_id = $1 and b.type = 'batch_received' and b.data->>'Input' = $7 and {HiddenEvents.SqlForOneStream("$8", "b.")}))";
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(Command(
            $"select seq_id, data, count(*) over () from {schema}.mt_events where {filters} " +
            $"order by (data->>'Timestamp')::timestamptz desc, seq_id desc limit {pageSize} offset {(pageNumber - 1) * pageSize}",
            key, access.Ids, type, name, fromDate, toDate?.AddDays(1), input, hidden));
        batch.BatchCommands.Add(Command(
            $"select distinct data->>'EventType' from {schema}.mt_events where stream_id = $1 and type = 'event_captured' and (data->>'WorkspaceId')::int = any($2) " +
            $"and {HiddenEvents.SqlForOneStream("$3")} order by 1",
            key, access.Ids, hidden));
        batch.BatchCommands.Add(InputsCommand(schema, key, access.Ids, hidden));

        var rows = new List<(long Sequence, JsonElement Data)>();
        long total = 0;
        var types = new List<string>();
        var inputs = new List<string>();
        await using (var reader = await batch.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                rows.Add((reader.GetInt64(0), JsonDocument.Parse(reader.GetString(1)).RootElement));
                total = reader.GetInt64(2);
            }
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct)) types.Add(reader.GetString(0));
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct)) inputs.Add(reader.GetString(1));
        }

        var batches = await BatchesAsync(db, schema, key, rows.Select(r => r.Data.GetProperty("BatchId").GetString()!).Distinct().ToArray(), hidden, ct);
        var events = rows.Select(r => ToTimelineEvent(r.Sequence, r.Data, batches, access)).ToList();
        return ActivityViewJson.Ok(new TimelinePage(pageNumber, pageSize, total, types, inputs.Distinct().Order(StringComparer.Ordinal).ToList(), events));
    }

    [WolverineGet("/ui/api/people/{mpid}/activity", Name = "Web UI: a person's activity per day")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static async Task<IResult> Activity(string mpid, ClaimsPrincipal user, WorkspaceDirectory directory, LaggingReads reads,
        TimeProvider clock, CancellationToken ct)
    {
        await using var session = await reads.QuerySessionAsync(ct); // may lag: a standby when there is one
        var db = reads.DataSource;
        var access = ActivityViewAccess.For(user, directory);
        if (await PersonPageEndpoint.VisiblePersonAsync(mpid, access, session, ct) is not { } profile)
            return ActivityViewJson.NotFound("mpid", $"No person {mpid} has data in the workspaces you may see.");
        var retention = await session.LoadAsync<RetentionSettings>(RetentionSettings.DocumentId, ct) ?? new RetentionSettings();
        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        var first = today.AddDays(1 - retention.DataRetentionDays);
        var schema = session.DocumentStore.Options.DatabaseSchemaName;
        var key = StreamKey.For(profile.Mpid);
        var hidden = (await VisibleEvents.HiddenAsync(session.DocumentStore, db, [key], ct)).Of(key);

        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(Command(
            $"select to_char((data->>'Timestamp')::timestamptz at time zone 'UTC', 'YYYY-MM-DD') d, count(*) from {schema}.mt_events " +
            "where stream_id = $1 and type = 'event_captured' and (data->>'WorkspaceId')::int = any($2) and (data->>'Timestamp')::timestamptz >= $3 " +
            $"and {HiddenEvents.SqlForOneStream("$4")} group by 1 order by 1",
            key, access.Ids, first.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc), hidden));
        var days = new List<ActivityDay>();
        await using (var reader = await batch.ExecuteReaderAsync(ct))
            while (await reader.ReadAsync(ct)) days.Add(new ActivityDay(reader.GetString(0), reader.GetInt64(1)));
        return ActivityViewJson.Ok(new ActivityChart(Iso(first), Iso(today), retention.DataRetentionDays, days.Sum(d => d.Count), days));
    }

    private static TimelineEvent ToTimelineEvent(long sequence, JsonElement data, IReadOnlyDictionary<string, JsonElement> batches, ActivityViewAccess access)
    {
        var batchId = data.GetProperty("BatchId").GetString()!;
        var workspaceId = data.GetProperty("WorkspaceId").GetInt32();
        var eventType = data.GetProperty("EventType").GetString()!;
        var received = batches.TryGetValue(batchId, out var b) ? b : (JsonElement?)null;
        string? Text(JsonElement? element, string property) =>
            element is { } e && e.TryGetProperty(property, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
        var copiedFrom = data.TryGetProperty("CopiedFrom", out var c) && c.ValueKind == JsonValueKind.Number ? StreamKey.For(c.GetInt64()) : null;
        // The event as the Events API carries it (its type and complete data object), then the batch around it.
        var full = new JsonObject
        {
            ["event"] = new JsonObject { ["event_type"] = eventType, ["data"] = JsonNode.Parse(data.GetProperty("Data").GetRawText()) },
            ["batch"] = received is { } rb && rb.TryGetProperty("Batch", out var json) ? JsonNode.Parse(json.GetRawText()) : null,
        };
        return new TimelineEvent(sequence, eventType, Text(data, "EventName"), data.GetProperty("Timestamp").GetDateTimeOffset(),
            new WorkspaceRef(workspaceId, access.NameOf(workspaceId)), Text(received, "Input"), Text(received, "Environment"), batchId,
            received is { } r && r.TryGetProperty("ReceivedAt", out var at) ? at.GetDateTimeOffset() : null,
            copiedFrom, full.ToJsonString(Indented));
    }

    /// <summary>The batches (without their events) the page's events came in, by batch id.</summary>
    private static async Task<Dictionary<string, JsonElement>> BatchesAsync(NpgsqlDataSource db, string schema, string key, string[] batchIds, long[] hidden, CancellationToken ct)
    {
        var batches = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        if (batchIds.Length == 0) return batches;
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(Command(
            $"select data->>'BatchId', data from {schema}.mt_events where stream_id = $1 and type = 'batch_received' and data->>'BatchId' = any($2) " +
            $"and {HiddenEvents.SqlForOneStream("$3")}",
            key, batchIds, hidden));
        await using var reader = await batch.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) batches[reader.GetString(0)] = JsonDocument.Parse(reader.GetString(1)).RootElement;
        return batches;
    }

    /// <summary>The inputs the person's visible batches came through, per workspace (workspace id, input name).</summary>
    public static NpgsqlBatchCommand InputsCommand(string schema, string key, int[] workspaces, long[] hidden) => Command(
        $"select distinct (data->>'WorkspaceId')::int, data->>'Input' from {schema}.mt_events " +
        $"where stream_id = $1 and type = 'batch_received' and (data->>'WorkspaceId')::int = any($2) and {HiddenEvents.SqlForOneStream("$3")} order by 1, 2",
        key, workspaces, hidden);

    private static bool TryDate(string? text, out DateTime? date)
    {
        date = null;
        if (string.IsNullOrWhiteSpace(text)) return true;
        if (!DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day)) return false;
        date = day.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
        return true;
    }

    private static string Iso(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    // Typed parameters, so a null filter is still a typed value PostgreSQL can compare.
    internal static NpgsqlBatchCommand Command(string sql, params object?[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
            command.Parameters.Add(value switch
            {
                null => new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlDbType.Unknown },
                DateTime d => new NpgsqlParameter { Value = d, NpgsqlDbType = NpgsqlDbType.TimestampTz },
                _ => new NpgsqlParameter { Value = value },
            });
        return command;
    }
}
