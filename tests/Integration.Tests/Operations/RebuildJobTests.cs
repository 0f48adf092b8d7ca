using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Commands.Operations;
using EventProfiles.Commands.Privacy;
using EventProfiles.Domain.Operations;
using EventProfiles.Integration.Tests.Fixtures;
using Marten;
using Microsoft.Extensions.DependencyInjection;

namespace EventProfiles.Integration.Tests.Operations;

/// <summary>Rebuilding read models from the events: equal to the live ones, while ingestion goes on; one person; jobs' rules.</summary>
[Collection(AppCollection.Name)]
public class RebuildJobTests(AppFixture app)
{
    private static string Purchase(string name, DateTimeOffset at) =>
        $$"""{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "transaction", "timestamp_unixtime_ms": {{at.ToUnixTimeMilliseconds()}}, "custom_attributes": { "amount": "12" } } }""";

    /// <summary>Everything the read models hold about a person: profile JSON, identity-index rows, calculations JSON.</summary>
    private async Task<(JsonNode? Profile, string Identities, JsonNode? Calculations)> ReadModelsOf(long mpid)
    {
        var key = mpid.ToString();
        async Task<JsonNode?> Json(string table)
        {
            await using var command = app.Db.CreateCommand($"select data::text from {app.Schema}.{table} where id = $1");
            command.Parameters.AddWithValue(key);
            return await command.ExecuteScalarAsync() is string text ? JsonNode.Parse(text) : null;
        }
        await using var rows = app.Db.CreateCommand(
            $"select string_agg(identity_type || '=' || identity_value || ',' || is_unique || ',' || workspace_id || ',' || linked_at, ';' order by identity_type, identity_value) " +
            $"from {app.Schema}.ep_identity_index where mpid = $1");
        rows.Parameters.AddWithValue(mpid);
        return (await Json("mt_doc_profile"), await rows.ExecuteScalarAsync() as string ?? "", await Json("mt_doc_calculated_attribute_state"));
    }

    [Fact]
    public async Task rebuilding_every_projection_while_batches_arrive_gives_read_models_equal_to_the_live_ones()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var attribute = await app.CreateCalculatedAttribute($"Purchases {s}", $$"""
            { "recipe_type": "event", "data_point": { "type": "event", "event_type": "custom_event", "event_name": "Purchase {{s}}", "attribute_name": null },
              "conditions": [], "calculation_type": "count", "time_period": { "type": "within", "within": 30, "within_unit": "days" } }
            """);
        await app.Activate(attribute);
        var audience = await app.ActiveAudience($"Buyers {s}", $$"""
            [ { "kind": "event", "event_type": "custom_event", "event_name": "Purchase {{s}}", "frequency": { "operator": "greater_than", "count": 1 }, "recency": { "within_days": 7 } } ]
            """);

        // A mixed workload: identities (one changed), attributes set and removed, consent, devices, events, memberships.
        var now = DateTimeOffset.UtcNow;
        var people = Enumerable.Range(0, 12).Select(i => $"rebuild-{s}-{i}").ToList();
        foreach (var (customer, i) in people.Select((c, i) => (c, i)))
        {
            await app.Ingested($$"""
                { "environment": "development", "mp_deviceid": "das-{{customer}}", "device_info": { "platform": "Android", "android_uuid": "uuid-{{customer}}" },
                  "user_identities": { "customer_id": "{{customer}}", "email": "{{customer}}@example.org" },
                  "user_attributes": { "tier": "t{{i % 3}}", "temp": "x" },
                  "consent_state": { "gdpr": { "marketing": { "consented": {{(i % 2 == 0 ? "true" : "false")}}, "timestamp_unixtime_ms": {{now.ToUnixTimeMilliseconds()}} } } },
                  "events": [ {{string.Join(",", Enumerable.Range(0, 1 + i % 3).Select(k => Purchase($"Purchase {s}", now.AddHours(-k - 1))))}} ] }
                """);
            await app.Ingested($$"""
                { "environment": "development", "user_identities": { "customer_id": "{{customer}}", "email": "{{customer}}-new@example.org" },
                  "deleted_user_attributes": [ "temp" ], "events": [ {{Purchase("Browse", now)}} ] }
                """);
        }
        var mpids = new List<long>();
        foreach (var customer in people) mpids.Add((await app.ProfileOf(customer))["mpid"]!.GetValue<long>());
        await app.CatchUpDaemon();
        (await app.MembershipsOf(people[2])).ShouldContain(audience);
        var live = new Dictionary<long, (JsonNode?, string, JsonNode?)>();
        foreach (var mpid in mpids.Skip(1)) live[mpid] = await ReadModelsOf(mpid);

        // Rebuild everything while batches keep coming: new people, and one of the people above.
        var newcomers = Enumerable.Range(0, 30).Select(i => $"during-{s}-{i}").ToList();
        using var sending = new CancellationTokenSource();
        var sent = 0;
        var ingestion = Task.Run(async () =>
        {
            foreach (var customer in newcomers)
            {
                await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "joined": "during" }, "events": [ {{Purchase($"Purchase {s}", DateTimeOffset.UtcNow)}} ] }""");
                await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{people[0]}}" }, "events": [ {{Purchase($"Purchase {s}", DateTimeOffset.UtcNow)}} ] }""");
                Interlocked.Increment(ref sent);
            }
        });
        var job = await app.StartJob(OperationKinds.Rebuild, new { projection = "all" });
        var finished = await app.Completed(job["id"]!.GetValue<string>());
        await ingestion;
        await app.CatchUpDaemon();

        finished["done"]!.GetValue<long>().ShouldBeGreaterThan(0);
        foreach (var mpid in mpids.Skip(1))
        {
            var rebuilt = await ReadModelsOf(mpid);
            JsonNode.DeepEquals(rebuilt.Profile, live[mpid].Item1).ShouldBeTrue($"profile of {mpid}:\n{rebuilt.Profile}\nlive:\n{live[mpid].Item1}");
            rebuilt.Identities.ShouldBe(live[mpid].Item2, $"identity index of {mpid}");
            JsonNode.DeepEquals(rebuilt.Calculations, live[mpid].Item3).ShouldBeTrue($"calculations of {mpid}:\n{rebuilt.Calculations}\nlive:\n{live[mpid].Item3}");
        }
        // What arrived during the rebuild is in the result: the first person's purchases, and every newcomer.
        var first = await app.ProfileOf(people[0]);
        first["user_attributes"]![$"Purchases {s}"]!.GetValue<string>().ShouldBe((1 + sent).ToString());
        foreach (var customer in newcomers)
        {
            var profile = await app.ProfileOf(customer);
            profile["user_attributes"]!["joined"]!.GetValue<string>().ShouldBe("during");
            profile["user_attributes"]![$"Purchases {s}"]!.GetValue<string>().ShouldBe("1");
        }
    }

    [Fact]
    public async Task one_person_is_rebuilt_alone_from_their_events()
    {
        var customer = Api.NewId("one");
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}", "email": "{{customer}}@example.org" }, "user_attributes": { "plan": "pro" }, "events": [] }""");
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
        var before = await ReadModelsOf(mpid);

        // The read models are damaged (as after a bug or a manual edit); the events are intact.
        await using (var damage = app.Db.CreateCommand($"delete from {app.Schema}.ep_identity_index where mpid = $1"))
        {
            damage.Parameters.AddWithValue(mpid);
            await damage.ExecuteNonQueryAsync();
        }
        await using (var damage = app.Db.CreateCommand(
            $"update {app.Schema}.mt_doc_profile set data = jsonb_set(data, '{{LastSeenAt}}', '\"2000-01-01T00:00:00+00:00\"') where id = $1"))
        {
            damage.Parameters.AddWithValue(mpid.ToString());
            await damage.ExecuteNonQueryAsync();
        }
        (await ReadModelsOf(mpid)).Identities.ShouldBeEmpty();

        var job = await app.StartJob(OperationKinds.Rebuild, new { projection = "profiles", mpid = mpid.ToString() });
        var done = await app.Completed(job["id"]!.GetValue<string>());
        done["done"]!.GetValue<long>().ShouldBe(1);
        var after = await ReadModelsOf(mpid);
        JsonNode.DeepEquals(after.Profile, before.Profile).ShouldBeTrue();
        after.Identities.ShouldBe(before.Identities);
    }

    [Fact]
    public async Task a_value_made_a_placeholder_after_it_was_linked_is_left_out_of_the_rebuilt_index_as_the_projection_leaves_it_out()
    {
        var customer = Api.NewId("ignored");
        var placeholder = $"placeholder-{customer}";
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}", "other": "{{placeholder}}" }, "user_attributes": { "plan": "pro" }, "events": [] }""");
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
        var live = await ReadModelsOf(mpid);
        live.Identities.ShouldContain($"other={placeholder},");

        using var admin = app.AdminClient();
        var stored = (await admin.GetFromJsonAsync<JsonObject>("/api/admin/identity-settings"))!["stored"]!.AsObject();
        try
        {
            // The org starts ignoring the value: the live row stays (nothing is re-evaluated), the projection would no
            // longer write it (IdentityIndexProjection.Link), so a rebuild must not either.
            var changed = stored.DeepClone().AsObject();
            changed["ignored_values"] = new JsonArray([.. stored["ignored_values"]!.AsArray().Select(v => (JsonNode?)v!.GetValue<string>()), placeholder]);
            using (var put = await admin.PutAsJsonAsync("/api/admin/identity-settings", changed))
                put.StatusCode.ShouldBe(HttpStatusCode.OK, await put.Content.ReadAsStringAsync());

            var job = await app.StartJob(OperationKinds.Rebuild, new { projection = "profiles", mpid = mpid.ToString() });
            await app.Completed(job["id"]!.GetValue<string>());
            var rebuilt = await ReadModelsOf(mpid);
            rebuilt.Identities.ShouldBe(string.Join(";", live.Identities.Split(';').Where(r => !r.StartsWith($"other={placeholder},", StringComparison.Ordinal))));
            // The person keeps the value on their profile and in their history (docs/identity.md).
            JsonNode.DeepEquals(rebuilt.Profile, live.Profile).ShouldBeTrue($"{rebuilt.Profile}\nlive:\n{live.Profile}");
        }
        finally
        {
            // The host is shared: the rules go back to what they were.
            using var restore = await admin.PutAsJsonAsync("/api/admin/identity-settings", stored);
            restore.StatusCode.ShouldBe(HttpStatusCode.OK);
        }
    }

    private async Task<bool> IsArchived(long mpid)
    {
        await using var command = app.Db.CreateCommand($"select is_archived from {app.Schema}.mt_streams where id = $1");
        command.Parameters.AddWithValue(mpid.ToString());
        return await command.ExecuteScalarAsync() is true;
    }

    private static string Batch(string identities, string device, string attributes = "{}") => $$"""
        { "environment": "development", "user_identities": { {{identities}} }, "device_info": { "platform": "iOS", "ios_idfv": "{{device}}" }, "user_attributes": {{attributes}},
          "events": [ { "event_type": "custom_event", "data": { "event_name": "Open", "custom_event_type": "other" } } ] }
        """;

    private async Task<long> MpidOf(string customer) => (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();

    /// <summary>The one holder of an identity value, as the identity index says.</summary>
    private async Task<long> HolderOf(string value)
    {
        await using var command = app.Db.CreateCommand($"select distinct mpid from {app.Schema}.ep_identity_index where identity_value = $1");
        command.Parameters.AddWithValue(value);
        var holders = new List<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) holders.Add(reader.GetInt64(0));
        return holders.ShouldHaveSingleItem(value);
    }

    [Fact]
    public async Task rebuilding_gives_the_live_identity_rows_and_profile_documents_of_every_kind_of_person()
    {
        var people = new Dictionary<string, long>();

        // Aged out (first: moving the clock past the 30-day lifetime ages out everyone seen before, so the others come after).
        var agedOut = Api.NewId("aged");
        await app.Ingested(Batch($"\"customer_id\": \"{agedOut}\", \"email\": \"{agedOut}@example.org\"", Api.NewId("d"), """{ "plan": "gone" }"""));
        people["aged out"] = await MpidOf(agedOut);
        var enforcer = app.Services.GetRequiredService<RetentionEnforcer>();
        try
        {
            app.Clock.Advance(TimeSpan.FromDays(30) + TimeSpan.FromMinutes(1));
            await enforcer.RunOnceAsync(CancellationToken.None);
            await app.CatchUpDaemon();
            await enforcer.RunOnceAsync(CancellationToken.None); // the daemon has applied the ageing out: now archived
            (await IsArchived(people["aged out"])).ShouldBeTrue();
        }
        finally
        {
            app.Clock.Reset();
        }

        // Plain: identities, a device, attributes set and removed, an identity changed.
        var plain = Api.NewId("plain");
        await app.Ingested(Batch($"\"customer_id\": \"{plain}\", \"email\": \"{plain}@example.org\"", Api.NewId("d"), """{ "a": "1", "b": "2" }"""));
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{plain}}", "email": "{{plain}}-new@example.org" }, "deleted_user_attributes": [ "b" ], "events": [] }""");
        people["plain"] = await MpidOf(plain);

        // Aliased: an anonymous device's window of events copied to a known customer (IDSync alias).
        var anonymousDevice = Api.NewId("das");
        var t = DateTimeOffset.UtcNow.AddHours(-2).ToUnixTimeMilliseconds();
        await app.Ingested($$"""
            { "mp_deviceid": "{{anonymousDevice}}", "user_attributes": { "anon": "x" },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "in window", "custom_event_type": "other", "timestamp_unixtime_ms": {{t + 1000}} } } ] }
            """);
        people["alias source"] = long.Parse((await app.Identity("identify", new { device_application_stamp = anonymousDevice })).Mpid());
        var aliasCustomer = Api.NewId("dest");
        people["alias destination"] = long.Parse((await app.Identity("identify", new { customerid = aliasCustomer })).Mpid());
        using (var alias = await app.Call("/v1/alias", new
        {
            request_type = "alias", request_id = Guid.NewGuid().ToString(), environment = "development",
            data = new { source_mpid = people["alias source"], destination_mpid = people["alias destination"].ToString(), start_unixtime_ms = t, end_unixtime_ms = t + 3_600_000 },
        }, key: "demo-web-key"))
            alias.StatusCode.ShouldBe(HttpStatusCode.Accepted, await alias.Content.ReadAsStringAsync());
        await Waiting.Until(async () => await app.EventCount(people["alias destination"], "profile_aliased_from") == 1, "the alias copy");

        // Merged by an operator: the source's events move to the destination.
        var (mergeCustomer, mergeEmail) = (Api.NewId("merge"), Api.NewId("merge") + "@example.org");
        await app.Ingested(Batch($"\"customer_id\": \"{mergeCustomer}\"", Api.NewId("d"), """{ "a": "1" }"""));
        await app.Ingested(Batch($"\"email\": \"{mergeEmail}\"", Api.NewId("d"), """{ "b": "2" }"""));
        people["merge destination"] = await MpidOf(mergeCustomer);
        people["merge source"] = await HolderOf(mergeEmail);
        using (var merge = await app.AdminClient().PostAsJsonAsync("/api/admin/people/merge",
            new { source = people["merge source"], destination = people["merge destination"], reason = "support ticket" }))
            merge.StatusCode.ShouldBe(HttpStatusCode.Created, await merge.Content.ReadAsStringAsync());
        (await HolderOf(mergeEmail)).ShouldBe(people["merge destination"]);

        // A held merge accepted: the 21st new device of one email in an hour is held (merge guard), then accepted.
        string[] deviceTypes = ["ios_idfv", "android_uuid", "push_token", "ios_idfa", "android_aaid"];
        var hotEmail = $"{Api.NewId("hot")}@example.org";
        var devices = Enumerable.Range(0, 21).Select(i => (Type: deviceTypes[i % deviceTypes.Length], Value: Api.NewId($"hot-device-{i}"))).ToList();
        foreach (var (type, value) in devices)
            people["held merge accepted"] = long.Parse((await app.Identity("login", new Dictionary<string, string> { ["email"] = hotEmail, [type] = value })).Mpid());
        using (var accepted = await app.AdminClient().PostAsync($"/api/admin/people/{people["held merge accepted"]}/held-merges/accept", null))
        {
            var text = await accepted.Content.ReadAsStringAsync();
            accepted.StatusCode.ShouldBe(HttpStatusCode.OK, text);
            JsonNode.Parse(text)!["linked"]!.AsArray().Count.ShouldBe(1);
        }
        (await HolderOf(devices[^1].Value)).ShouldBe(people["held merge accepted"]);

        // Split: Ben logged in on Ana's tablet; his email and its batches are split off into a person of their own.
        var (ana, benEmail, tablet) = (Api.NewId("ana"), Api.NewId("ben") + "@example.org", Api.NewId("tablet"));
        await app.Ingested(Batch($"\"customer_id\": \"{ana}\"", tablet, """{ "plan": "family" }"""));
        await app.Ingested(Batch($"\"email\": \"{benEmail}\"", tablet, """{ "level": "3" }"""));
        people["split original"] = await MpidOf(ana);
        (await HolderOf(benEmail)).ShouldBe(people["split original"]);
        using (var split = await app.AdminClient().PostAsJsonAsync($"/api/admin/people/{people["split original"]}/split",
            new { identities = new[] { new { type = "email", value = benEmail } }, reason = "shared tablet" }))
        {
            var text = await split.Content.ReadAsStringAsync();
            split.StatusCode.ShouldBe(HttpStatusCode.Created, text);
            people["split new"] = JsonNode.Parse(text)!["new_mpid"]!.GetValue<long>();
        }

        // Erased (GDPR erasure through OpenDSR).
        var erased = Api.NewId("erased");
        await app.Ingested(Batch($"\"customer_id\": \"{erased}\", \"email\": \"{erased}@example.org\"", Api.NewId("d"), """{ "secret": "s" }"""));
        people["erased"] = await MpidOf(erased);
        await Fixtures.DataSubjectRequests.EraseCustomerAsync(app, erased);

        // Live, as the commands left them: an aged-out person keeps identity rows and a document that says so (archiving
        // leaves it, and a return reactivates from it); a merge source keeps its document (its events moved away).
        var live = new Dictionary<string, (JsonNode? Profile, string Identities)>();
        foreach (var (kind, mpid) in people)
        {
            var (profile, identities, _) = await ReadModelsOf(mpid);
            live[kind] = (profile, identities);
        }
        live["aged out"].Profile!["AgedOutAt"].ShouldNotBeNull();
        live["aged out"].Identities.ShouldContain($"email={agedOut}@example.org");
        live["plain"].Identities.ShouldContain($"email={plain}-new@example.org");
        live["split new"].Identities.ShouldContain($"email={benEmail}");
        live["split original"].Identities.ShouldNotContain(benEmail);

        // The rebuild job, person by person (the shared database holds other tests' people: no rebuild of everyone).
        foreach (var (kind, mpid) in people)
        {
            var job = await app.StartJob(OperationKinds.Rebuild, new { projection = "profiles", mpid = mpid.ToString() });
            (await app.Completed(job["id"]!.GetValue<string>()))["done"]!.GetValue<long>().ShouldBe(1, kind);
        }
        await ShouldEqualLive("after rebuilding each person alone");

        // And all of them in one group, as a full rebuild takes them (source and destination in one transaction).
        await app.Services.GetRequiredService<RebuildProjections>()
            .RebuildGroupAsync(people.Values.Select(m => m.ToString()).Order(StringComparer.Ordinal).ToList(), CancellationToken.None);
        await ShouldEqualLive("after rebuilding them in one group");

        async Task ShouldEqualLive(string when)
        {
            foreach (var (kind, mpid) in people)
            {
                var (profile, identities, _) = await ReadModelsOf(mpid);
                JsonNode.DeepEquals(profile, live[kind].Profile).ShouldBeTrue($"{when}: the profile of the {kind} person {mpid}:\n{profile}\nlive:\n{live[kind].Profile}");
                identities.ShouldBe(live[kind].Identities, $"{when}: the identity rows of the {kind} person {mpid}");
            }
        }
    }

    [Fact]
    public async Task jobs_are_checked_one_of_a_kind_runs_per_workspace_and_a_paused_job_resumes_at_its_cursor()
    {
        using var admin = app.AdminClient();
        async Task<(HttpStatusCode Status, string Body)> Post(object body)
        {
            using var response = await admin.PostAsJsonAsync("/api/admin/jobs", body);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        (await Post(new { kind = "shuffle" })).Body.ShouldContain("\"field\":\"kind\"");
        (await Post(new { kind = "rebuild", parameters = new { projection = "everything" } })).Body.ShouldContain("parameters.projection");
        (await Post(new { kind = "rebuild", parameters = new { mpid = "x" } })).Body.ShouldContain("parameters.mpid");
        (await Post(new { kind = "export", workspace_id = 99 })).Body.ShouldContain("workspace_id");
        var replay = await Post(new { kind = "replay", workspace_id = 1, parameters = new { input = "other-server", connection = "nope", from = "yesterday", to = "2026-01-01T00:00:00Z" } });
        replay.Status.ShouldBe(HttpStatusCode.BadRequest);
        foreach (var field in new[] { "parameters.input", "parameters.connection", "parameters.from" }) replay.Body.ShouldContain(field);
        (await Post(new { kind = "import", workspace_id = 1, parameters = new { file = "/no/such/file.jsonl" } })).Body.ShouldContain("parameters.file");
        using (var anonymous = await app.NewClient().PostAsJsonAsync("/api/admin/jobs", new { kind = "rebuild" }))
            anonymous.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);

        // A paused rebuild halfway through: a second one is refused until it ends; resumed, it continues after its cursor.
        var store = app.Services.GetRequiredService<IDocumentStore>();
        string cursor;
        long total;
        await using (var command = app.Db.CreateCommand($"select (select id from {app.Schema}.mt_streams where id ~ '^-?[0-9]+$' order by id offset 3 limit 1), (select count(*) from {app.Schema}.mt_streams where id ~ '^-?[0-9]+$')"))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            await reader.ReadAsync();
            (cursor, total) = (reader.GetString(0), reader.GetInt64(1));
        }
        var paused = new OperationJob
        {
            Id = Guid.CreateVersion7(), Kind = OperationKinds.Rebuild, Status = OperationStatuses.Paused, Cursor = cursor, Done = 4, Total = total,
            Parameters = new() { ["projection"] = "profiles" }, CreatedAt = DateTimeOffset.UtcNow, RequestedBy = "test",
        };
        await using (var session = store.LightweightSession())
        {
            session.Store(paused);
            await session.SaveChangesAsync();
        }
        var conflict = await Post(new { kind = "rebuild", parameters = new { projection = "profiles" } });
        conflict.Status.ShouldBe(HttpStatusCode.Conflict);
        conflict.Body.ShouldContain(paused.Id.ToString());

        using (var resumed = await admin.PostAsync($"/api/admin/jobs/{paused.Id}/resume", null)) resumed.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        var done = await app.Completed(paused.Id.ToString());
        done["done"]!.GetValue<long>().ShouldBeGreaterThanOrEqualTo(total); // 4 before the pause + the rest, none twice
        done["done"]!.GetValue<long>().ShouldBeLessThan(total + 50); // (people may have arrived meanwhile)
        using (var again = await admin.PostAsync($"/api/admin/jobs/{paused.Id}/resume", null)) again.StatusCode.ShouldBe(HttpStatusCode.Conflict);

        // A queued job can be cancelled before any runner takes it.
        var queued = new OperationJob { Id = Guid.CreateVersion7(), Kind = OperationKinds.Export, WorkspaceId = 3, Status = OperationStatuses.Paused, CreatedAt = DateTimeOffset.UtcNow };
        await using (var session = store.LightweightSession())
        {
            session.Store(queued);
            await session.SaveChangesAsync();
        }
        using (var cancelled = await admin.PostAsync($"/api/admin/jobs/{queued.Id}/cancel", null)) cancelled.StatusCode.ShouldBe(HttpStatusCode.Accepted);
        (await app.Job(queued.Id.ToString()))["status"]!.GetValue<string>().ShouldBe("cancelled");
        using (var missing = await admin.GetAsync($"/api/admin/jobs/{Guid.NewGuid()}")) missing.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await admin.GetFromJsonAsync<JsonArray>("/api/admin/jobs?kind=rebuild"))!.ShouldContain(j => j!["id"]!.GetValue<string>() == paused.Id.ToString());
    }
}
