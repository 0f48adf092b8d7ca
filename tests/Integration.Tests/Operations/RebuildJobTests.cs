using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
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
