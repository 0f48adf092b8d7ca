using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Forwarding.Warehouse;
using EventProfiles.Domain.Forwarding;
using EventProfiles.Domain.Forwarding.Files;
using EventProfiles.Domain.Forwarding.Warehouse;
using EventProfiles.Domain.Privacy;
using EventProfiles.Domain.Workspaces;
using Marten;
using Microsoft.Extensions.Configuration;
using Npgsql;
using Parquet;
using Parquet.Serialization;
using Wolverine;

namespace EventProfiles.Commands.Forwarding.Files;

/// <summary>The manifest of a files output (<c>_manifest.json</c> in its folder): the published files, the only ones a reader should read.</summary>
public sealed class ExportManifest
{
    public const string FileName = "_manifest.json";

    [JsonPropertyName("version")] public int Version { get; set; } = 1;
    [JsonPropertyName("next_part")] public long NextPart { get; set; } = 1;
    [JsonPropertyName("files")] public List<ExportManifestFile> Files { get; set; } = [];
    /// <summary>Files being renamed into place: a crash leaves them unlisted, and the next flush deletes them.</summary>
    [JsonPropertyName("publishing")] public List<string> Publishing { get; set; } = [];
    /// <summary>Files replaced by rewrites (erasures), no longer listed: a crash before they are deleted leaves them here, and the next flush deletes them.</summary>
    [JsonPropertyName("retired")] public List<string> Retired { get; set; } = [];
    /// <summary>The deliveries of the last flushes: if a commit was lost, they come again and are dropped, not written twice.</summary>
    [JsonPropertyName("last_flush_deliveries")] public List<Guid> LastFlushDeliveries { get; set; } = [];
}

public sealed class ExportManifestFile
{
    [JsonPropertyName("path")] public string Path { get; set; } = "";
    [JsonPropertyName("table")] public string Table { get; set; } = "";
    [JsonPropertyName("workspace_id")] public int WorkspaceId { get; set; }
    [JsonPropertyName("date")] public string Date { get; set; } = "";
    [JsonPropertyName("rows")] public long Rows { get; set; }
    [JsonPropertyName("bytes")] public long Bytes { get; set; }
    [JsonPropertyName("sha256")] public string Sha256 { get; set; } = "";
    [JsonPropertyName("created_at")] public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>
/// Delivery to files outputs: micro-batches as the warehouse output takes them (its flush row and lock in
/// <see cref="WarehouseStorage.FlushesTable"/>: one node flushes an output at a time, at most once per
/// <c>EventProfiles:Forwarding:Files:IntervalMs</c>, 60 s by default). A flush writes each partition's rows to scratch
/// Parquet files (a new file once one passes the output's size), then, in this order: lists them as "publishing" in the
/// manifest, renames them into place, lists them as files (with the flush's delivery ids), and only then deletes the
/// deliveries. A crash at any step leaves either scratch files (deleted by the next flush), unlisted renamed files
/// (deleted: they were "publishing"), or a listed flush whose deliveries come again (dropped by delivery id).
/// </summary>
public sealed class FilesOutputs(NpgsqlDataSource db, IDocumentStore store, FilesRoot root, OutputCounters counters, LiveStream live,
    WorkspaceDirectory directory, TimeProvider clock, IConfiguration configuration)
{
    public TimeSpan Interval { get; } = TimeSpan.FromMilliseconds(configuration.GetValue("EventProfiles:Forwarding:Files:IntervalMs", 60_000));
    private readonly int _flushRows = configuration.GetValue("EventProfiles:Forwarding:Files:FlushRows", 20_000);
    private readonly int _rowGroupRows = configuration.GetValue("EventProfiles:Forwarding:Files:RowGroupRows", 10_000);
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>A group's envelope: as <see cref="WarehouseOutputs.FlushAsync"/>, with files as the target.</summary>
    public async Task<object?> FlushAsync(DeliverBatches group, Output output, IDocumentSession session, bool wasScheduled, CancellationToken ct)
    {
        return await MicroBatchFlush.RunAsync(db, store.Options.DatabaseSchemaName, group, output, session, wasScheduled, Interval, _flushRows,
            claimed => WriteAsync(output, claimed, ct), claimed => Delivered(output, claimed), ct);
    }

    /// <summary>A delivery queued alone (a dead letter replayed): written at once, under the output's flush lock.</summary>
    public async Task WriteOneAsync(Output output, DeliverBatch delivery, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        if (await WarehouseStorage.TryLockFlushAsync(connection, store.Options.DatabaseSchemaName, output.Id, Interval, ct) is null)
            throw new DeliveryFailedException("another node is writing this output's files; retried.");
        await WriteAsync(output, [new WarehouseDelivery(delivery.DeliveryId, delivery.BatchId, delivery.Mpid, WorkspaceOf(output, delivery), delivery.Input,
            delivery.Environment, delivery.Payload)], ct);
        await tx.CommitAsync(ct);
    }

    /// <summary>Writes one micro-batch as Parquet files and publishes them; the caller holds the output's flush lock.</summary>
    public async Task WriteAsync(Output output, IReadOnlyList<WarehouseDelivery> deliveries, CancellationToken ct)
    {
        var settings = output.Files ?? throw new DeliveryRejectedException($"output {output.Id} has no files settings.");
        // Checked again at every flush: the root may have changed, or a folder on the way become a link, since it was saved.
        if (root.Problem(settings.Folder) is { } problem) throw new DeliveryRejectedException($"files.folder {problem}");
        try
        {
            Directory.CreateDirectory(settings.Folder);
            var files = new LocalFolderStore(settings.Folder);
            var manifest = await RecoverAsync(files, ct);

            var rows = ExportDecision.Decide(deliveries, manifest.LastFlushDeliveries.ToHashSet());
            var written = new List<(string Temp, ExportPartition Partition, long Rows)>();
            foreach (var (partition, list) in rows.Events) written.AddRange(await WriteParquetAsync(files, partition, list, settings.MaxFileBytes, ct));
            foreach (var (partition, list) in rows.AudienceChanges) written.AddRange(await WriteParquetAsync(files, partition, list, settings.MaxFileBytes, ct));
            foreach (var (partition, list) in rows.Erasures) written.AddRange(await WriteParquetAsync(files, partition, list, settings.MaxFileBytes, ct));
            foreach (var (partition, list) in rows.IdentityChanges) written.AddRange(await WriteParquetAsync(files, partition, list, settings.MaxFileBytes, ct));
            var retired = new List<string>();
            var erased = rows.Erasures.Values.SelectMany(r => r).Select(r => (r.WorkspaceId, r.Mpid)).ToHashSet();
            if (settings.RewriteOnErasure && (erased.Count > 0 || rows.Moves.Count > 0))
            {
                // The erasure rewrite, also for identity changes: published event rows of moved batches get the receiver's MPID.
                var workspaces = erased.Select(e => e.WorkspaceId).Concat(rows.Moves.Select(m => m.WorkspaceId)).ToHashSet();
                bool? Event(EventFileRow r)
                {
                    if (erased.Contains((r.WorkspaceId, r.Mpid))) return null;
                    var moved = false;
                    foreach (var move in rows.Moves) // in order: a split then its undo moves a batch there and back
                        if (move.WorkspaceId == r.WorkspaceId && move.From == r.Mpid && Guid.TryParse(r.BatchId, out var b) && move.BatchIds.Contains(b))
                            (r.Mpid, moved) = (move.To, true);
                    return moved;
                }
                foreach (var file in manifest.Files.Where(f => workspaces.Contains(f.WorkspaceId)).ToList())
                {
                    var partition = new ExportPartition(file.Table, file.WorkspaceId, DateOnly.ParseExact(file.Date, "yyyy-MM-dd", CultureInfo.InvariantCulture));
                    var rewritten = file.Table switch
                    {
                        ExportTables.Events => await RewriteAsync<EventFileRow>(files, file, partition, Event, settings, ct),
                        ExportTables.AudienceChanges => await RewriteAsync<AudienceChangeFileRow>(files, file, partition,
                            r => erased.Contains((r.WorkspaceId, r.Mpid)) ? null : false, settings, ct),
                        ExportTables.IdentityChanges => await RewriteAsync<IdentityChangeFileRow>(files, file, partition,
                            r => erased.Contains((r.WorkspaceId, r.Mpid)) ? null : false, settings, ct),
                        _ => null,
                    };
                    if (rewritten is null) continue;
                    retired.Add(file.Path);
                    written.AddRange(rewritten);
                }
            }

            var entries = new List<(string Temp, ExportManifestFile File)>();
            foreach (var (temp, partition, count) in written)
            {
                var (bytes, sha) = await LocalFolderStore.DescribeAsync(temp, ct);
                entries.Add((temp, new ExportManifestFile
                {
                    Path = $"{partition.Path}/part-{manifest.NextPart++.ToString("D8", CultureInfo.InvariantCulture)}.parquet",
                    Table = partition.Table, WorkspaceId = partition.WorkspaceId, Date = partition.Day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                    Rows = count, Bytes = bytes, Sha256 = sha, CreatedAt = clock.GetUtcNow(),
                }));
            }
            manifest.Publishing = entries.Select(e => e.File.Path).ToList();
            await SaveAsync(files, manifest, ct);
            foreach (var (temp, file) in entries) await files.PublishAsync(temp, file.Path, ct);
            manifest.Files.RemoveAll(f => retired.Contains(f.Path));
            manifest.Files.AddRange(entries.Select(e => e.File));
            manifest.Publishing = [];
            manifest.Retired = retired;
            // The last flushes' deliveries, not only this one's: a lone delivery written between a flush whose commit was lost
            // and the flush that takes its rows again must not push them out. Those rows are the oldest waiting, so the next
            // flush takes them first: twice a flush's size is ample.
            manifest.LastFlushDeliveries = manifest.LastFlushDeliveries.Concat(deliveries.Select(d => d.DeliveryId)).Distinct()
                .TakeLast(2 * Math.Max(_flushRows, deliveries.Count)).ToList();
            await SaveAsync(files, manifest, ct);
            if (retired.Count > 0)
            {
                foreach (var path in retired) await files.DeleteAsync(path, ct);
                manifest.Retired = [];
                await SaveAsync(files, manifest, ct);
            }
        }
        catch (IOException e)
        {
            throw new DeliveryFailedException($"files output {output.Id} could not write: {e.GetType().Name}");
        }
        catch (UnauthorizedAccessException)
        {
            throw new DeliveryFailedException($"files output {output.Id} may not write to its folder (permissions).");
        }
    }

    /// <summary>
    /// The manifest as the last writer left it, after undoing what a crashed writer left: scratch files, and files renamed
    /// into place but never listed. Only the holder of the output's flush lock calls this, so no writer is running.
    /// </summary>
    public static async Task<ExportManifest> RecoverAsync(IExportFileStore files, CancellationToken ct)
    {
        var manifest = await files.ReadTextAsync(ExportManifest.FileName, ct) is { } text
            ? JsonSerializer.Deserialize<ExportManifest>(text) ?? new ExportManifest()
            : new ExportManifest();
        files.CleanTemps();
        if (manifest.Publishing.Count > 0 || manifest.Retired.Count > 0)
        {
            var listed = manifest.Files.Select(f => f.Path).ToHashSet();
            foreach (var path in manifest.Publishing.Concat(manifest.Retired).Where(p => !listed.Contains(p))) await files.DeleteAsync(path, ct);
            manifest.Publishing = [];
            manifest.Retired = [];
            await SaveAsync(files, manifest, ct);
        }
        return manifest;
    }

    private static Task SaveAsync(IExportFileStore files, ExportManifest manifest, CancellationToken ct) =>
        files.WriteTextAtomicAsync(ExportManifest.FileName, JsonSerializer.Serialize(manifest, Json), ct);

    /// <summary>
    /// A partition's rows as scratch Parquet files, row group by row group; once a file passes <paramref name="maxBytes"/>
    /// it is closed and the next begins (so a file may pass the size by at most one row group).
    /// </summary>
    private async Task<List<(string, ExportPartition, long)>> WriteParquetAsync<T>(IExportFileStore files, ExportPartition partition, List<T> rows, long maxBytes,
        CancellationToken ct) where T : new()
    {
        var done = new List<(string, ExportPartition, long)>();
        string? temp = null;
        long inFile = 0;
        foreach (var chunk in rows.Chunk(Math.Max(1, _rowGroupRows)))
        {
            var append = temp is not null;
            temp ??= files.CreateTemp();
            await ParquetSerializer.SerializeAsync(chunk, temp, new ParquetOptions { Append = append, RowGroupSize = chunk.Length }, cancellationToken: ct);
            inFile += chunk.Length;
            if (new FileInfo(temp).Length >= maxBytes)
            {
                done.Add((temp, partition, inFile));
                (temp, inFile) = (null, 0);
            }
        }
        if (temp is not null) done.Add((temp, partition, inFile));
        return done;
    }

    /// <summary>
    /// A published file's rows as new scratch files, or null when none changed: <paramref name="fate"/> says of each row
    /// null (drop it: an erased person's), true (changed in place: a moved batch's) or false (as it was).
    /// </summary>
    private async Task<List<(string, ExportPartition, long)>?> RewriteAsync<T>(IExportFileStore files, ExportManifestFile file, ExportPartition partition,
        Func<T, bool?> fate, FilesSettings settings, CancellationToken ct) where T : class, new()
    {
        IList<T> rows;
        await using (var stream = files.OpenRead(file.Path)) rows = (await ParquetSerializer.DeserializeAsync<T>(stream, cancellationToken: ct)).Data;
        var kept = new List<T>();
        var changed = false;
        foreach (var row in rows)
        {
            var f = fate(row);
            if (f is null) { changed = true; continue; }
            changed |= f.Value;
            kept.Add(row);
        }
        if (!changed) return null;
        return kept.Count == 0 ? [] : await WriteParquetAsync(files, partition, kept, settings.MaxFileBytes, ct);
    }

    private void Delivered(Output output, IReadOnlyList<WarehouseDelivery> deliveries)
    {
        foreach (var d in deliveries)
        {
            counters.Delivered(output.Id);
            if (!ErasureNotice.IsNotice(d.Input)) live.Outbound(new DeliverBatch(output.Id, "", d.DeliveryId, d.BatchId, d.Mpid, d.Input, d.Environment, d.Payload));
        }
    }

    private int WorkspaceOf(Output output, DeliverBatch delivery)
    {
        if (directory.InputByName(delivery.Input) is { } input) return input.Workspace.Id;
        if (delivery.IsErasureNotice && JsonNode.Parse(delivery.Payload)?["controller_id"]?.GetValue<string>() is { } controller
            && int.TryParse(controller, CultureInfo.InvariantCulture, out var ws)) return ws;
        if (IdentityChangeNotice.IsNotice(delivery.Input) && JsonNode.Parse(delivery.Payload)?["workspace_id"] is JsonValue w && w.TryGetValue<int>(out var noticeWs))
            return noticeWs;
        return output.WorkspaceId ?? 0;
    }
}
