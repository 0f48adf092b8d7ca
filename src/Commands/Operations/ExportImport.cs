using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventProfiles.Commands.Streams;
using EventProfiles.Domain.Operations;
using EventProfiles.Domain.Profiles;
using JasperFx.Events;
using Marten;
using Marten.Events.Archiving;
using Npgsql;

namespace EventProfiles.Commands.Operations;

/// <summary>Where operations write files when the request names none (exports made through the admin API).</summary>
public sealed record OperationFiles(string Folder)
{
    public string ExportPath(Guid jobId) => Path.Combine(Folder, $"export-{jobId}.jsonl");

    /// <summary>How an upload's name begins: it records the workspace it was uploaded for (none: org-wide).</summary>
    public static string UploadPrefix(int? workspaceId) => workspaceId is { } ws ? $"upload-ws{ws}-" : "upload-";

    /// <summary>An uploaded file's path by its name; null for anything that is not a plain name (no way out of the folder).</summary>
    public string? Upload(string name) =>
        name.Length > 0 && name == Path.GetFileName(name) && name != ".." ? Path.Combine(Folder, name) : null;
}

/// <summary>
/// Export (for migrations and backups): the people with data in a workspace and their events as JSON Lines. The first
/// line describes the file; then one line per event, in stored order per person:
/// <c>{"mpid":"…","type":"event_captured","dotnet_type":"…","timestamp":"…","data":{…}}</c>. Events of other workspaces
/// are left out; org-level events of those people (profile created, aged out, reactivated, aliases) are kept; events a
/// split or merge moved away are exported with the person who received them only, and the moves are not exported. The file
/// grows group by group; the cursor holds the last person and the file's length then, so a resumed export truncates
/// what was written after the last checkpoint and goes on.
/// </summary>
public sealed class ExportEvents(IDocumentStore store, NpgsqlDataSource db, OperationFiles files, TimeProvider clock) : IOperation
{
    public const string Format = "eventprofiles-events";
    public const int GroupSize = 500;

    public string Kind => OperationKinds.Export;

    public async Task<string?> RunAsync(OperationJob job, JobProgress progress, CancellationToken ct)
    {
        var path = job.Parameter("file") is { Length: > 0 } file ? Path.GetFullPath(file) : files.ExportPath(job.Id);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var schema = store.Options.DatabaseSchemaName;
        var (lastPerson, length) = ParseCursor(job.Cursor);
        var (done, events) = (job.Done, job.Events);
        var total = await CountPeopleAsync(schema, job.WorkspaceId, ct);
        var serializer = store.Options.Serializer();

        await using var output = new FileStream(path, length == 0 ? FileMode.Create : FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read);
        output.SetLength(length);
        output.Seek(length, SeekOrigin.Begin);
        await using var writer = new StreamWriter(output, new UTF8Encoding(false)) { NewLine = "\n" };
        if (length == 0)
            await writer.WriteLineAsync(new JsonObject
            {
                ["format"] = Format, ["version"] = 1, ["workspace_id"] = job.WorkspaceId, ["exported_at"] = clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture),
            }.ToJsonString());
        while (true)
        {
            var keys = await NextPeopleAsync(schema, job.WorkspaceId, lastPerson, ct);
            if (keys.Count == 0) break;
            await using (var session = store.QuerySession())
            {
                var stored = await session.Events.QueryAllRawEvents()
                    .Where(e => e.MaybeArchived() && keys.Contains(e.StreamKey!))
                    .OrderBy(e => e.Sequence).ToListAsync(ct);
                // Each person as their folds see them (issue 21): what a split or merge moved away is exported under the person
                // who received it; the moves themselves are not (the versions they name are not those an import gives).
                foreach (var e in VisibleEvents.Of(stored).OrderBy(e => e.StreamKey, StringComparer.Ordinal).ThenBy(e => e.Sequence))
                {
                    if (e.Data is Domain.Identity.IMovesEvents) continue;
                    var data = JsonNode.Parse(serializer.ToJson(e.Data))!;
                    if (data is JsonObject o && o["WorkspaceId"] is JsonValue w && w.GetValue<int>() != job.WorkspaceId) continue;
                    await writer.WriteLineAsync(new JsonObject
                    {
                        ["mpid"] = e.StreamKey, ["type"] = e.EventTypeName, ["dotnet_type"] = e.DotNetTypeName,
                        ["timestamp"] = e.Timestamp.ToString("O", CultureInfo.InvariantCulture), ["data"] = data,
                    }.ToJsonString());
                    events++;
                }
            }
            await writer.FlushAsync(ct);
            done += keys.Count;
            lastPerson = keys[^1];
            await progress.CheckpointAsync($"{lastPerson}|{output.Length}", done, events, total, ct);
        }
        return path;
    }

    private static (string Person, long Length) ParseCursor(string? cursor)
    {
        if (cursor?.Split('|') is [var person, var length] && long.TryParse(length, CultureInfo.InvariantCulture, out var bytes)) return (person, bytes);
        return ("", 0);
    }

    // People with data in the workspace: their profile has the workspace (erased people have no profile).
    private async Task<long> CountPeopleAsync(string schema, int workspace, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"select count(*) from {schema}.mt_doc_profile where data->'Workspaces' ? $1");
        command.Parameters.AddWithValue(workspace.ToString(CultureInfo.InvariantCulture));
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    private async Task<List<string>> NextPeopleAsync(string schema, int workspace, string after, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"select id from {schema}.mt_doc_profile where data->'Workspaces' ? $1 and id > $2 order by id limit {GroupSize}");
        command.Parameters.AddWithValue(workspace.ToString(CultureInfo.InvariantCulture));
        command.Parameters.AddWithValue(after);
        var keys = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct)) keys.Add(reader.GetString(0));
        return keys;
    }
}

/// <summary>
/// The events a person's stream holds, by the name they are stored under (<c>type</c> in an export line). An import
/// takes only these: the file says which type to build, and anything else (any .NET type by name) must never be.
/// </summary>
public static class PersonEventTypes
{
    private static readonly Type[] Known =
    [
        typeof(ProfileCreated), typeof(BatchReceived), typeof(EventCaptured), typeof(UserAttributeSet), typeof(UserAttributeRemoved),
        typeof(DeviceSeen), typeof(InstallAttributed), typeof(OptOutChanged), typeof(LimitAdTrackingChanged), typeof(ProfileAgedOut),
        typeof(ProfileReactivated), typeof(Domain.Identity.UserIdentityAdded), typeof(Domain.Identity.UserIdentityChanged),
        typeof(Domain.Identity.UserIdentityRemoved), typeof(Domain.Identity.UserIdentityIgnored), typeof(Domain.Identity.ProfileAliasedTo), typeof(Domain.Identity.ProfileAliasedFrom),
        typeof(Domain.Consent.ConsentStateChanged), typeof(Domain.CalculatedAttributes.CalculatedAttributeSeeded),
        typeof(Domain.Audiences.AudiencesReevaluationDue), typeof(Domain.Privacy.WorkspaceDataErased),
        typeof(Domain.Identity.MergeHeld), typeof(Domain.Identity.MergeAccepted),
    ];

    public static IReadOnlyCollection<Type> All => Known;

    // The names Marten stores them under (snake_case of the type name, e.g. event_captured).
    private static readonly Dictionary<string, Type> ByStoredName = Known.ToDictionary(t => t.GetEventTypeName(), StringComparer.Ordinal);

    public static Type? ByName(string? name) => name is not null && ByStoredName.TryGetValue(name, out var type) ? type : null;
}

/// <summary>
/// Import of an export into this database (meant for an empty one: a migration or a restore). Events are appended to
/// each person's stream in file order, so the inline projections (profile, identity index) build as they go and the
/// daemon computes calculated attributes and audiences afterwards. Each chunk of lines is appended in one transaction
/// together with the job's cursor (the line reached), so a stopped or restarted import appends every line once.
/// </summary>
public sealed class ImportEvents(IDocumentStore store) : IOperation
{
    public const int ChunkLines = 2_000;

    public string Kind => OperationKinds.Import;

    public async Task<string?> RunAsync(OperationJob job, JobProgress progress, CancellationToken ct)
    {
        var path = job.Parameter("file");
        var skip = long.TryParse(job.Cursor, CultureInfo.InvariantCulture, out var line) ? line : 1; // line 1: the header
        var total = await CheckAsync(path, ct);
        var serializer = store.Options.Serializer();
        using var reader = new StreamReader(path, Encoding.UTF8);
        var header = JsonNode.Parse(await reader.ReadLineAsync(ct) ?? "{}");
        if (header?["format"]?.GetValue<string>() != ExportEvents.Format) throw new InvalidDataException($"{path} is not an EventProfiles export (first line).");
        for (var i = 1; i < skip; i++) await reader.ReadLineAsync(ct);
        var (done, events) = (skip - 1, job.Events);
        await progress.CheckpointAsync(skip.ToString(CultureInfo.InvariantCulture), done, events, total, ct);

        var chunk = new List<(string Stream, object Event)>();
        while (true)
        {
            var text = await reader.ReadLineAsync(ct);
            if (text is { Length: > 0 })
            {
                var node = JsonNode.Parse(text)!;
                var type = PersonEventTypes.ByName(node["type"]?.GetValue<string>())!; // checked before anything was appended
                using var data = new MemoryStream(Encoding.UTF8.GetBytes(node["data"]!.ToJsonString()));
                chunk.Add((node["mpid"]!.GetValue<string>(), serializer.FromJson(type, data)));
            }
            if (chunk.Count == ChunkLines || (text is null && chunk.Count > 0))
            {
                await using var session = store.LightweightSession();
                var streams = chunk.Select(c => c.Stream).Distinct().ToList();
                await StreamLocks.LockAsync(session, streams.Select(s => long.Parse(s, CultureInfo.InvariantCulture)), ct);
                foreach (var stream in streams) session.Events.Append(stream, chunk.Where(c => c.Stream == stream).Select(c => c.Event).ToArray());
                done += chunk.Count;
                events += chunk.Count;
                progress.Stage((done + 1).ToString(CultureInfo.InvariantCulture), done, events, total);
                session.Store(progress.Job);
                await session.SaveChangesAsync(ct);
                await progress.SaveAsync(ct);
                chunk.Clear();
            }
            if (text is null) break;
        }
        return $"imported {events} events from {path}";
    }

    /// <summary>
    /// Reads the whole file before the first append: every line must be an event of a known type for a person, so a file
    /// with one bad line imports nothing. Answers the number of event lines.
    /// </summary>
    private static async Task<long> CheckAsync(string path, CancellationToken ct)
    {
        long number = 0;
        await foreach (var text in File.ReadLinesAsync(path, Encoding.UTF8, ct))
        {
            if (++number == 1 || text.Length == 0) continue; // the header, checked by the import itself
            JsonNode? node;
            try { node = JsonNode.Parse(text); }
            catch (JsonException) { throw new InvalidDataException($"Line {number} of the file is not JSON; nothing was imported."); }
            var type = node?["type"] is JsonValue t && t.TryGetValue<string>(out var name) ? name : null;
            if (PersonEventTypes.ByName(type) is null)
                throw new InvalidDataException($"Line {number}: \"{type}\" is not an EventProfiles event type (the file's \"type\"); nothing was imported.");
            if (node?["mpid"] is not JsonValue m || !m.TryGetValue<string>(out var mpid) || !long.TryParse(mpid, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
                throw new InvalidDataException($"Line {number}: \"mpid\" is not an MPID; nothing was imported.");
            if (node["data"] is not JsonObject)
                throw new InvalidDataException($"Line {number}: \"data\" is not an object; nothing was imported.");
        }
        return Math.Max(0, number - 1);
    }
}
