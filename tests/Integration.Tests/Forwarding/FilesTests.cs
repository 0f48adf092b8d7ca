using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using EventProfiles.Domain.Forwarding.Files;
using EventProfiles.Integration.Tests.Fixtures;
using Parquet.Serialization;

namespace EventProfiles.Integration.Tests.Forwarding;

/// <summary>
/// The files output on this machine's disk, in a folder under the run's files root: Parquet files read back with
/// Parquet.Net equal what was sent, files roll by size, a crashed writer's leftovers never reach the manifest, filters
/// and consent rules apply, erasures leave tombstones, and the admin API refuses folders outside the root.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class FilesTests(AppFixture app) : IAsyncLifetime
{
    private string _outputId = "";
    private string _folder = "";

    public Task InitializeAsync()
    {
        _folder = Path.Combine(app.FilesRoot, Guid.NewGuid().ToString("N"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_outputId.Length > 0) using (await app.AdminClient().DeleteAsync($"/api/admin/outputs/{_outputId}")) { }
    }

    private async Task<JsonObject> CreateFilesOutput(long? maxFileBytes = null, bool? rewriteOnErasure = null)
    {
        using var response = await app.AdminClient().PostAsJsonAsync("/api/admin/outputs",
            new { name = Api.NewId("files"), kind = "files", files = new { folder = _folder, max_file_bytes = maxFileBytes, rewrite_on_erasure = rewriteOnErasure } });
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.Created, text);
        var output = JsonNode.Parse(text)!.AsObject();
        _outputId = output["id"]!.GetValue<string>();
        return output;
    }

    private async Task Connected(long? maxFileBytes = null, object? filter = null, object? consentRules = null)
    {
        await CreateFilesOutput(maxFileBytes);
        await app.Connect(AppFixture.ForwardingInput, _outputId, filter, consentRules);
    }

    private Task Send(string json) => app.Ingested(json, key: AppFixture.ForwardingKey, secret: AppFixture.ForwardingSecret);

    private static string Event(string name, long? at = null, string attributes = "{}") =>
        $$"""{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "other", "custom_attributes": {{attributes}}{{(at is { } t ? $", \"timestamp_unixtime_ms\": {t}" : "")}} } }""";

    private async Task<long> MpidOf(string customer) => long.Parse((await app.ProfileOf(customer))["mpid"]!.ToString(), CultureInfo.InvariantCulture);

    private JsonObject? Manifest() =>
        File.Exists(Path.Combine(_folder, "_manifest.json")) ? JsonNode.Parse(File.ReadAllText(Path.Combine(_folder, "_manifest.json")))!.AsObject() : null;

    private IEnumerable<JsonObject> ManifestFiles(string table) =>
        (Manifest()?["files"]?.AsArray() ?? []).Select(f => f!.AsObject()).Where(f => f["table"]!.GetValue<string>() == table);

    /// <summary>Every row of a table's listed files (in the manifest's order), read back with Parquet.Net.</summary>
    private async Task<List<(string Path, List<T> Rows)>> Read<T>(string table) where T : class, new()
    {
        var files = new List<(string, List<T>)>();
        foreach (var file in ManifestFiles(table))
        {
            var path = file["path"]!.GetValue<string>();
            files.Add((path, (await ParquetSerializer.DeserializeAsync<T>(Path.Combine(_folder, path))).Data.ToList()));
        }
        return files;
    }

    private Task RowsArrive<T>(string table, Func<T, bool> mine, int count) where T : class, new() =>
        Waiting.Until(async () => (await Read<T>(table)).SelectMany(f => f.Rows).Count(mine) == count, $"{count} {table} rows in the files", 30);

    [Fact]
    public async Task batches_are_written_as_parquet_files_partitioned_by_workspace_and_day_that_read_back_as_sent()
    {
        await Connected();
        var customer = Api.NewId("files");
        var day = app.Clock.GetUtcNow().AddDays(-3);
        var at = day.ToUnixTimeMilliseconds();
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "tier": "gold" }, "events": [ {{Event("Viewed", at, """{ "sku": "A-1", "price": 9.5 }""")}}, {{Event("Bought", at + 1000, """{ "sku": "A-1" }""")}} ] }""");
        var mpid = await MpidOf(customer);
        await RowsArrive<EventFileRow>(ExportTables.Events, r => r.Mpid == mpid, 2);

        var files = await Read<EventFileRow>(ExportTables.Events);
        var rows = files.SelectMany(f => f.Rows).Where(r => r.Mpid == mpid).OrderBy(r => r.EventIndex).ToList();
        rows.Select(r => r.EventName).ShouldBe(["Viewed", "Bought"]);
        rows.Select(r => r.TimestampUnixtimeMs).ShouldBe([at, at + 1000]);
        rows.ShouldAllBe(r => r.EventType == "custom_event" && r.Input == AppFixture.ForwardingInput && r.Environment == "development" && !r.IsReplay);
        rows.Select(r => r.BatchId).Distinct().Count().ShouldBe(1);
        rows.Select(r => r.DeliveryId).Distinct().Count().ShouldBe(1);
        JsonNode.Parse(rows[0].CustomAttributes!)!["sku"]!.GetValue<string>().ShouldBe("A-1");
        JsonNode.Parse(rows[0].CustomAttributes!)!["price"]!.ToString().ShouldBe("9.5");
        JsonNode.Parse(rows[0].UserAttributes)!["tier"]!.GetValue<string>().ShouldBe("gold"); // enriched, as the webhook's JSON
        rows[0].UserIdentities.ShouldContain(customer);

        // Partitioned by the events' own day, not the day they were written; every listed file is whole and as the manifest says.
        var path = files.Single(f => f.Rows.Any(r => r.Mpid == mpid)).Path;
        path.ShouldStartWith($"events/workspace={rows[0].WorkspaceId}/date={day.UtcDateTime:yyyy-MM-dd}/part-");
        path.ShouldEndWith(".parquet");
        foreach (var file in ManifestFiles(ExportTables.Events))
        {
            var bytes = await File.ReadAllBytesAsync(Path.Combine(_folder, file["path"]!.GetValue<string>()));
            file["bytes"]!.GetValue<long>().ShouldBe(bytes.Length);
            file["sha256"]!.GetValue<string>().ShouldBe(Convert.ToHexStringLower(SHA256.HashData(bytes)));
        }
        ManifestFiles(ExportTables.Events).Sum(f => f["rows"]!.GetValue<long>()).ShouldBe(files.Sum(f => f.Rows.Count));
        await Waiting.Until(async () => (await app.Output(_outputId))["counters"]!["delivered"]!.GetValue<long>() == 1, "the delivery counted", 10);
    }

    [Fact]
    public async Task files_roll_by_size()
    {
        await Connected(maxFileBytes: 1); // every row group (3 rows in the tests) passes it: a new file after each
        var customer = Api.NewId("files-roll");
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{string.Join(",", Enumerable.Range(1, 7).Select(i => Event($"E{i}")))}} ] }""");
        var mpid = await MpidOf(customer);
        await RowsArrive<EventFileRow>(ExportTables.Events, r => r.Mpid == mpid, 7);

        var files = (await Read<EventFileRow>(ExportTables.Events)).Where(f => f.Rows.Any(r => r.Mpid == mpid)).ToList();
        files.Select(f => f.Rows.Count).ShouldBe([3, 3, 1]);
        files.SelectMany(f => f.Rows).Select(r => r.EventName).ShouldBe(Enumerable.Range(1, 7).Select(i => $"E{i}"));
        files.Select(f => f.Path).Distinct().Count().ShouldBe(3);
    }

    [Fact]
    public async Task a_crashed_writers_half_file_and_unlisted_files_never_reach_the_manifest()
    {
        await CreateFilesOutput();
        // What a writer killed mid-flush leaves: a half-written scratch file, and a renamed file it had announced as
        // "publishing" but never listed (a half Parquet file, so reading it would fail).
        var whole = Path.Combine(_folder, "whole.tmp");
        Directory.CreateDirectory(_folder);
        await ParquetSerializer.SerializeAsync(Enumerable.Range(0, 50).Select(i => new EventFileRow { EventName = $"ghost{i}", Mpid = i }), whole);
        var half = (await File.ReadAllBytesAsync(whole))[..(int)(new FileInfo(whole).Length / 2)];
        File.Delete(whole);
        Directory.CreateDirectory(Path.Combine(_folder, "_tmp"));
        await File.WriteAllBytesAsync(Path.Combine(_folder, "_tmp", "crashed.tmp"), half);
        const string orphan = "events/workspace=1/date=2020-01-01/part-00000001.parquet";
        Directory.CreateDirectory(Path.Combine(_folder, Path.GetDirectoryName(orphan)!));
        await File.WriteAllBytesAsync(Path.Combine(_folder, orphan), half);
        await File.WriteAllTextAsync(Path.Combine(_folder, "_manifest.json"), $$"""{ "version": 1, "next_part": 2, "files": [], "publishing": [ "{{orphan}}" ], "last_flush_deliveries": [] }""");

        // The next writer (this Host's, on the output's next flush) cleans up before it writes.
        await app.Connect(AppFixture.ForwardingInput, _outputId);
        var customer = Api.NewId("files-crash");
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{Event("AfterCrash")}} ] }""");
        var mpid = await MpidOf(customer);
        await RowsArrive<EventFileRow>(ExportTables.Events, r => r.Mpid == mpid, 1);

        File.Exists(Path.Combine(_folder, orphan)).ShouldBeFalse();
        Directory.GetFiles(Path.Combine(_folder, "_tmp")).ShouldBeEmpty();
        Manifest()!["publishing"]!.AsArray().ShouldBeEmpty();
        var listed = ManifestFiles(ExportTables.Events).Select(f => f["path"]!.GetValue<string>()).ToList();
        listed.ShouldNotContain(orphan);
        (await Read<EventFileRow>(ExportTables.Events)).SelectMany(f => f.Rows).ShouldNotContain(r => r.EventName!.StartsWith("ghost"));
        // Every Parquet file on disk is one the manifest lists (none half-written, none unlisted).
        Directory.GetFiles(_folder, "*.parquet", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(_folder, f).Replace('\\', '/'))
            .ShouldBe(Manifest()!["files"]!.AsArray().Select(f => f!["path"]!.GetValue<string>()), ignoreOrder: true);
    }

    [Fact]
    public async Task filters_and_consent_rules_apply()
    {
        await Connected(
            filter: new { blocked_user_attributes = new[] { "secret" }, blocked_event_names = new[] { new { event_type = "custom_event", event_name = "Hidden" } } },
            consentRules: new[] { new { kind = "require_gdpr_consent", purpose = "analytics" } });
        var (refused, allowed) = (Api.NewId("files-noconsent"), Api.NewId("files-consent"));
        const string consent = """ "consent_state": { "gdpr": { "analytics": { "consented": true, "timestamp_unixtime_ms": 1700000000000 } } } """;
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{refused}}" }, "events": [ {{Event("Shown")}} ] }""");
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{allowed}}" }, {{consent}}, "user_attributes": { "secret": "s", "tier": "t" }, "events": [ {{Event("Hidden")}}, {{Event("Shown")}} ] }""");
        var allowedMpid = await MpidOf(allowed);
        await RowsArrive<EventFileRow>(ExportTables.Events, r => r.Mpid == allowedMpid, 1);

        var rows = (await Read<EventFileRow>(ExportTables.Events)).SelectMany(f => f.Rows).ToList();
        var row = rows.Single(r => r.Mpid == allowedMpid);
        row.EventName.ShouldBe("Shown");
        row.UserAttributes.ShouldNotContain("secret");
        row.UserAttributes.ShouldContain("tier");
        var refusedMpid = await MpidOf(refused);
        rows.ShouldNotContain(r => r.Mpid == refusedMpid); // it was sent first: it would be there by now
    }

    [Fact]
    public async Task an_erasure_leaves_a_tombstone_in_its_own_partition()
    {
        await Connected();
        var customer = Api.NewId("files-erase");
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "events": [ {{Event("E")}} ] }""");
        var mpid = await MpidOf(customer);
        await RowsArrive<EventFileRow>(ExportTables.Events, r => r.Mpid == mpid, 1);

        await DataSubjectRequests.EraseCustomerAsync(app, customer);

        await RowsArrive<ErasureFileRow>(ExportTables.Erasures, r => r.Mpid == mpid, 1);
        ManifestFiles(ExportTables.Erasures).ShouldAllBe(f => f["path"]!.GetValue<string>().StartsWith("erasures/workspace="));
        // Without rewrite_on_erasure, published files stay as they were (docs/outputs.md): readers leave tombstoned people out.
        (await Read<EventFileRow>(ExportTables.Events)).SelectMany(f => f.Rows).Count(r => r.Mpid == mpid).ShouldBe(1);
    }

    [Fact]
    public async Task with_rewrite_on_erasure_the_published_files_are_rewritten_without_the_person()
    {
        await CreateFilesOutput(rewriteOnErasure: true);
        await app.Connect(AppFixture.ForwardingInput, _outputId);
        var (erased, kept) = (Api.NewId("files-rw-erase"), Api.NewId("files-rw-keep"));
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{erased}}" }, "events": [ {{Event("Gone")}} ] }""");
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{kept}}" }, "events": [ {{Event("Stays")}} ] }""");
        var (erasedMpid, keptMpid) = (await MpidOf(erased), await MpidOf(kept));
        await RowsArrive<EventFileRow>(ExportTables.Events, r => r.Mpid == erasedMpid, 1);
        await RowsArrive<EventFileRow>(ExportTables.Events, r => r.Mpid == keptMpid, 1);
        var before = ManifestFiles(ExportTables.Events).Select(f => f["path"]!.GetValue<string>()).ToList();

        await DataSubjectRequests.EraseCustomerAsync(app, erased);

        await RowsArrive<ErasureFileRow>(ExportTables.Erasures, r => r.Mpid == erasedMpid, 1);
        var rows = (await Read<EventFileRow>(ExportTables.Events)).SelectMany(f => f.Rows).ToList();
        rows.ShouldNotContain(r => r.Mpid == erasedMpid);
        rows.Count(r => r.Mpid == keptMpid).ShouldBe(1);
        // The files that held the person are gone from the disk, not only from the manifest.
        foreach (var path in before.Where(p => !ManifestFiles(ExportTables.Events).Any(f => f["path"]!.GetValue<string>() == p)))
            File.Exists(Path.Combine(_folder, path)).ShouldBeFalse(path);
        Manifest()!["retired"]!.AsArray().ShouldBeEmpty();
    }

    /// <summary>
    /// Issue 21: a split writes one identity_changes row per person (always) and, like an erasure with rewrite_on_erasure,
    /// rewrites the published event rows of the moved batches with the new person's MPID, so readers see the corrected person.
    /// </summary>
    [Fact]
    public async Task a_split_writes_identity_change_rows_and_with_rewrite_the_moved_event_rows_carry_the_new_mpid()
    {
        await CreateFilesOutput(rewriteOnErasure: true);
        await app.Connect(AppFixture.ForwardingInput, _outputId);
        var (ana, benEmail, tablet) = (Api.NewId("files-ana"), Api.NewId("files-ben") + "@example.org", Api.NewId("tablet"));
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{ana}}" }, "device_info": { "ios_idfv": "{{tablet}}" }, "events": [ {{Event("Browse")}} ] }""");
        await Send($$"""{ "environment": "development", "user_identities": { "email": "{{benEmail}}" }, "device_info": { "ios_idfv": "{{tablet}}" }, "events": [ {{Event("Play")}}, {{Event("Play")}} ] }""");
        var merged = await MpidOf(ana);
        await RowsArrive<EventFileRow>(ExportTables.Events, r => r.Mpid == merged, 3); // published under the wrong merge

        using var split = await app.AdminClient().PostAsJsonAsync($"/api/admin/people/{merged}/split",
            new { identities = new[] { new { type = "email", value = benEmail } }, reason = "shared tablet" });
        var text = await split.Content.ReadAsStringAsync();
        split.StatusCode.ShouldBe(HttpStatusCode.Created, text);
        var (splitId, ben) = (JsonNode.Parse(text)!["split_id"]!.GetValue<string>(), JsonNode.Parse(text)!["new_mpid"]!.GetValue<long>());

        await RowsArrive<IdentityChangeFileRow>(ExportTables.IdentityChanges, r => r.ChangeId == splitId, 2);
        var changes = (await Read<IdentityChangeFileRow>(ExportTables.IdentityChanges)).SelectMany(f => f.Rows).Where(r => r.ChangeId == splitId).ToList();
        changes.Select(r => (r.Mpid, r.OtherMpid, r.Gave, r.Change)).ShouldBe([(merged, ben, true, "split"), (ben, merged, false, "split")], ignoreOrder: true);
        ManifestFiles(ExportTables.IdentityChanges).ShouldAllBe(f => f["path"]!.GetValue<string>().StartsWith("identity_changes/workspace="));

        // The published rows were rewritten: Ben's batch is his, Ana keeps hers; nothing was dropped.
        var rows = (await Read<EventFileRow>(ExportTables.Events)).SelectMany(f => f.Rows).Where(r => r.Mpid == merged || r.Mpid == ben).ToList();
        rows.Where(r => r.Mpid == ben).Select(r => r.EventName).ShouldBe(["Play", "Play"]);
        rows.Where(r => r.Mpid == merged).Select(r => r.EventName).ShouldBe(["Browse"]);
        // The change row names the batch that moved: what a reader of files written without the rewrite re-keys by.
        JsonNode.Parse(changes.Single(c => c.Gave).BatchIds)!.AsArray().Select(b => b!.GetValue<string>())
            .ShouldBe(rows.Where(r => r.Mpid == ben).Select(r => r.BatchId).Distinct());
        Manifest()!["retired"]!.AsArray().ShouldBeEmpty();
    }

    [Fact]
    public async Task audience_changes_have_files_of_their_own()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var id = await app.ActiveAudience($"Files plan {s}", $$"""[ { "kind": "user_attribute", "attribute_name": "plan_{{s}}", "type": "string", "operator": "exists" } ]""");
        await CreateFilesOutput();
        using (var connect = await app.AdminClient().PostAsJsonAsync("/api/admin/audience-connections", new { audience_id = id, output_id = _outputId }))
            connect.StatusCode.ShouldBe(HttpStatusCode.Created, await connect.Content.ReadAsStringAsync());
        var customer = Api.NewId("files-aud");
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "plan_{{s}}": "pro" }, "events": [] }""");
        await app.CatchUpDaemon();
        var mpid = await MpidOf(customer);
        await RowsArrive<AudienceChangeFileRow>(ExportTables.AudienceChanges, r => r.Mpid == mpid, 1);

        var change = (await Read<AudienceChangeFileRow>(ExportTables.AudienceChanges)).SelectMany(f => f.Rows).Single(r => r.Mpid == mpid);
        (change.AudienceId, change.Action).ShouldBe((id, "add"));
        ManifestFiles(ExportTables.AudienceChanges).ShouldAllBe(f => f["path"]!.GetValue<string>().StartsWith("audience_changes/workspace="));
    }

    [Fact]
    public async Task the_admin_api_refuses_folders_outside_the_root_before_writing_anything()
    {
        var before = (await app.AdminClient().GetFromJsonAsync<JsonArray>("/api/admin/outputs"))!.Count;
        var outside = Path.Combine(Path.GetTempPath(), $"outside-{Guid.NewGuid():N}");
        Directory.CreateDirectory(app.FilesRoot);
        var link = Path.Combine(app.FilesRoot, $"link-{Guid.NewGuid():N}");
        Directory.CreateSymbolicLink(link, Path.GetTempPath());
        try
        {
            foreach (var (folder, reason) in new[]
                     {
                         ("relative/folder", "absolute"), ("/etc/eventprofiles", "under"), (Path.Combine(app.FilesRoot, "..", "escape"), "under"),
                         (outside, "under"), (Path.Combine(link, "inside-the-link"), "symbolic link"),
                     })
            {
                using var response = await app.AdminClient().PostAsJsonAsync("/api/admin/outputs", new { name = "lake", kind = "files", files = new { folder } });
                response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, folder);
                (await response.Errors()).ShouldContain(e => e.Field == "files.folder" && e.Message.Contains(reason), folder);
            }
            using var noFiles = await app.AdminClient().PostAsJsonAsync("/api/admin/outputs", new { name = "lake", kind = "files" });
            (await noFiles.Errors()).ShouldContain(e => e.Field == "files");
        }
        finally { Directory.Delete(link); }
        (await app.AdminClient().GetFromJsonAsync<JsonArray>("/api/admin/outputs"))!.Count.ShouldBe(before);
        Directory.Exists(outside).ShouldBeFalse();

        var output = await CreateFilesOutput(maxFileBytes: 4096);
        output["kind"]!.GetValue<string>().ShouldBe("files");
        output["files"]!["folder"]!.GetValue<string>().ShouldBe(_folder);
        output["files"]!["max_file_bytes"]!.GetValue<long>().ShouldBe(4096);
    }
}
