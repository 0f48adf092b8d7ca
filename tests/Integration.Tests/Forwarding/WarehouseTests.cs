using Microsoft.Extensions.DependencyInjection;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;
using Npgsql;

namespace EventProfiles.Integration.Tests.Forwarding;

/// <summary>
/// The warehouse output against a real second database on the tests' PostgreSQL cluster (created here): rows appear
/// within the micro-batch interval (1 s in the tests), history rebuilds an earlier state, a replay adds nothing, an
/// erasure removes the person, filters and consent rules apply, the password never shows.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class WarehouseTests(AppFixture app) : IAsyncLifetime
{
    private static readonly SemaphoreSlim Creating = new(1, 1);
    private string _outputId = "";
    private NpgsqlDataSource _warehouse = null!;
    private readonly string _schema = $"wh_{Guid.NewGuid():N}"[..20];

    private string Database => $"{app.Schema}_wh";

    private string ConnectionString(string? password = null)
    {
        var b = new NpgsqlConnectionStringBuilder(Environment.GetEnvironmentVariable("EVENTPROFILES_TEST_CONNECTION")) { Database = Database };
        if (password is not null) b.Password = password;
        return b.ConnectionString;
    }

    public async Task InitializeAsync()
    {
        await Creating.WaitAsync();
        try
        {
            await using var exists = app.Db.CreateCommand("select count(*) from pg_database where datname = $1");
            exists.Parameters.AddWithValue(Database);
            if ((long)(await exists.ExecuteScalarAsync())! == 0)
                await using (var create = app.Db.CreateCommand($"create database \"{Database}\"")) await create.ExecuteNonQueryAsync();
        }
        finally { Creating.Release(); }
        _warehouse = NpgsqlDataSource.Create(ConnectionString());
    }

    public async Task DisposeAsync()
    {
        if (_outputId.Length > 0) using (await app.AdminClient().DeleteAsync($"/api/admin/outputs/{_outputId}")) { }
        await _warehouse.DisposeAsync();
    }

    private async Task<JsonObject> CreateWarehouseOutput(string? password = null)
    {
        using var response = await app.AdminClient().PostAsJsonAsync("/api/admin/outputs",
            new { name = Api.NewId("wh"), kind = "warehouse", warehouse = new { connection_string = ConnectionString(password), schema = _schema } });
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.Created, text);
        var output = JsonNode.Parse(text)!.AsObject();
        _outputId = output["id"]!.GetValue<string>();
        return output;
    }

    private async Task<string> Connected(object? filter = null, object? consentRules = null)
    {
        await CreateWarehouseOutput();
        return (await app.Connect(AppFixture.ForwardingInput, _outputId, filter, consentRules))["id"]!.GetValue<string>();
    }

    private Task Send(string json) => app.Ingested(json, key: AppFixture.ForwardingKey, secret: AppFixture.ForwardingSecret);

    private static string Event(string name) => $$"""{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "other" } }""";

    private async Task<long> Count(string table, long mpid)
    {
        await using var command = _warehouse.CreateCommand($"select count(*) from {_schema}.{table} where mpid = $1");
        command.Parameters.AddWithValue(mpid);
        try { return (long)(await command.ExecuteScalarAsync())!; }
        catch (PostgresException e) when (e.SqlState is "42P01" or "3F000") { return 0; } // the tables are created by the first flush
    }

    private async Task<T?> Scalar<T>(string sql, params object[] values)
    {
        await using var command = _warehouse.CreateCommand(sql);
        foreach (var value in values) command.Parameters.AddWithValue(value);
        return await command.ExecuteScalarAsync() is T t ? t : default;
    }

    private async Task<long> MpidOf(string customer) => long.Parse((await app.ProfileOf(customer))["mpid"]!.ToString(), System.Globalization.CultureInfo.InvariantCulture);

    private Task EventsArrive(long mpid, int count) =>
        Waiting.Until(async () => await Count("events", mpid) == count, $"{count} events in the warehouse", 30);

    [Fact]
    public async Task batches_appear_within_the_interval_and_history_rebuilds_an_earlier_profile()
    {
        await Connected();
        var customer = Api.NewId("wh");
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "tier": "silver" }, "events": [ {{Event("First")}} ] }""");
        var mpid = await MpidOf(customer);
        await EventsArrive(mpid, 1);
        app.Clock.Advance(TimeSpan.FromMinutes(1)); // the second batch is a minute later, so "as of" between them is unambiguous
        DateTimeOffset between;
        try
        {
            between = app.Clock.GetUtcNow() - TimeSpan.FromSeconds(30);
            await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}", "email": "{{customer}}@example.org" }, "user_attributes": { "tier": "gold" }, "events": [ {{Event("Second")}}, {{Event("Third")}} ] }""");
            await EventsArrive(mpid, 3);
        }
        finally { app.Clock.Reset(); }

        // The current profile: one row, the latest values.
        (await Count("profiles", mpid)).ShouldBe(1);
        (await Scalar<string>($"select user_attributes->>'tier' from {_schema}.profiles where mpid = $1", mpid)).ShouldBe("gold");
        (await Scalar<string>($"select identities::text from {_schema}.profiles where mpid = $1", mpid))!.ShouldContain($"{customer}@example.org");
        (await Scalar<string>($"select event_name from {_schema}.events where mpid = $1 and event_index = 1", mpid)).ShouldBe("Third");
        (await Scalar<string>($"select batch->'user_attributes'->>'tier' from {_schema}.events where mpid = $1 and event_name = 'First'", mpid)).ShouldBe("silver"); // enriched

        // As of a time between the two batches: the latest history row at or before it, per attribute and identity type.
        (await Scalar<string>($"select value #>> '{{}}' from {_schema}.attribute_updates where mpid = $1 and name = 'tier' and at <= $2 order by at desc limit 1",
            mpid, between)).ShouldBe("silver");
        (await Scalar<long>($"select count(*) from {_schema}.identity_updates where mpid = $1 and identity_type = 'email' and at <= $2", mpid, between)).ShouldBe(0);
        (await Scalar<long>($"select count(*) from {_schema}.identity_updates where mpid = $1 and identity_type = 'email'", mpid)).ShouldBe(1);
        (await Count("attribute_updates", mpid)).ShouldBe(2);
        (await app.Output(_outputId))["counters"]!["delivered"]!.GetValue<long>().ShouldBe(2);
    }

    /// <summary>
    /// Issue 21: the shared tablet, merged and then split, against a control run where the two people were never merged.
    /// After the split the warehouse answers the same queries for each person as for their control: the profile row, the
    /// events, the attribute and identity history; plus one identities_changes row per person.
    /// </summary>
    [Fact]
    public async Task a_split_re_keys_the_moved_batches_rows_and_refreshes_both_profiles_so_the_warehouse_matches_a_control_run()
    {
        await Connected();
        var now = app.Clock.GetUtcNow();
        string Batch(string identities, string attributes, string device, string name, int minute) =>
            $$"""{ "environment": "development", "user_identities": { {{identities}} }, "user_attributes": {{attributes}}, "device_info": { "ios_idfv": "{{device}}" }, "events": [ { "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "other", "timestamp_unixtime_ms": {{now.AddMinutes(minute).ToUnixTimeMilliseconds()}} } } ] }""";
        string Ana(string customer, string device) => Batch($"\"customer_id\": \"{customer}\", \"email\": \"{customer}@example.org\"", """{ "plan": "family" }""", device, "Browse", -30);
        string Ben(string email, string device, int minute) => Batch($"\"email\": \"{email}\"", $$"""{ "game_level": "{{minute}}" }""", device, "Purchase", minute);

        var (ana, benEmail, tablet) = (Api.NewId("wh-ana"), Api.NewId("wh-ben") + "@example.org", Api.NewId("tablet"));
        await Send(Ana(ana, tablet));
        await Send(Ben(benEmail, tablet, -20));
        await Send(Ben(benEmail, tablet, -10));
        var (controlAna, controlBenEmail, phone) = (Api.NewId("wh-ana"), Api.NewId("wh-ben") + "@example.org", Api.NewId("phone"));
        await Send(Ana(controlAna, Api.NewId("tablet")));
        await Send(Ben(controlBenEmail, phone, -20));
        await Send(Ben(controlBenEmail, phone, -10));
        var (merged, controlAnaMpid) = (await MpidOf(ana), await MpidOf(controlAna));
        await EventsArrive(merged, 3); // the wrong merge, in the warehouse
        await using (var holder = app.Db.CreateCommand($"select mpid from {app.Schema}.ep_identity_index where identity_type = 'email' and identity_value = $1"))
        {
            holder.Parameters.AddWithValue(controlBenEmail);
            var controlBen = (long)(await holder.ExecuteScalarAsync())!;
            await EventsArrive(controlBen, 2);

            using var split = await app.AdminClient().PostAsJsonAsync($"/api/admin/people/{merged}/split",
                new { identities = new[] { new { type = "email", value = benEmail } }, reason = "shared family tablet" });
            var text = await split.Content.ReadAsStringAsync();
            split.StatusCode.ShouldBe(HttpStatusCode.Created, text);
            var (splitId, ben) = (JsonNode.Parse(text)!["split_id"]!.GetValue<string>(), JsonNode.Parse(text)!["new_mpid"]!.GetValue<long>());
            await Waiting.Until(async () => await Count("identity_changes", ben) == 1 && await Count("identity_changes", merged) == 1, "the identity changes in the warehouse", 30);

            // The same queries, person by person, give what they give for the control run.
            async Task<string> Person(long mpid) => string.Join(" | ",
                await Scalar<string>($"select user_attributes::text from {_schema}.profiles where mpid = $1", mpid),
                await Scalar<string>($"select string_agg(i->>'identity_type', ',' order by i->>'identity_type') from {_schema}.profiles, jsonb_array_elements(identities) i where mpid = $1", mpid),
                await Scalar<string>($"select string_agg(event_name, ',' order by event_timestamp) from {_schema}.events where mpid = $1", mpid),
                await Scalar<string>($"select string_agg(name || '=' || value::text, ',' order by at, name) from {_schema}.attribute_updates where mpid = $1 and not calculated", mpid),
                await Scalar<string>($"select string_agg(identity_type, ',' order by at, identity_type) from {_schema}.identity_updates where mpid = $1", mpid));
            (await Person(merged)).ShouldBe(await Person(controlAnaMpid));
            (await Person(ben)).ShouldBe(await Person(controlBen));
            (await Person(ben)).ShouldContain("Purchase,Purchase");
            (await Scalar<string>($"select identities::text from {_schema}.profiles where mpid = $1", merged))!.ShouldNotContain(benEmail);
            (await Scalar<string>($"select identities::text from {_schema}.profiles where mpid = $1", ben))!.ShouldContain(benEmail);

            // One row per person: who gave, who received, which batches.
            (await Scalar<string>($"select change || ',' || gave || ',' || other_mpid || ',' || jsonb_array_length(batch_ids) from {_schema}.identity_changes where mpid = $1 and change_id = $2",
                merged, splitId)).ShouldBe($"split,true,{ben},2");
            (await Scalar<string>($"select change || ',' || gave || ',' || other_mpid from {_schema}.identity_changes where mpid = $1 and change_id = $2",
                ben, splitId)).ShouldBe($"split,false,{merged}");
        }
    }

    [Fact]
    public async Task a_replayed_range_adds_no_rows()
    {
        var connection = await Connected();
        var customer = Api.NewId("wh-replay");
        var from = app.Clock.GetUtcNow();
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "plan": "a" }, "events": [ {{Event("One")}} ] }""");
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "plan": "b" }, "events": [ {{Event("Two")}} ] }""");
        var to = app.Clock.GetUtcNow().AddSeconds(1);
        var mpid = await MpidOf(customer);
        await EventsArrive(mpid, 2);
        var history = await Count("attribute_updates", mpid) + await Count("identity_updates", mpid);

        var job = await app.StartJob("replay", new { input = AppFixture.ForwardingInput, connection, from = from.ToString("O"), to = to.ToString("O") }, workspace: 1);
        (await app.Completed(job["id"]!.GetValue<string>()))["done"]!.GetValue<long>().ShouldBeGreaterThanOrEqualTo(2);
        await Waiting.Until(async () => (await app.Output(_outputId))["counters"]!["pending"]!.GetValue<long>() == 0
            && (await app.Output(_outputId))["counters"]!["delivered"]!.GetValue<long>() >= 4, "the replayed deliveries", 30);

        (await Count("events", mpid)).ShouldBe(2);
        (await Count("profiles", mpid)).ShouldBe(1);
        (await Count("attribute_updates", mpid) + await Count("identity_updates", mpid)).ShouldBe(history);
        (await Scalar<long>($"select count(*) from {_schema}.events where mpid = $1 and is_replay", mpid)).ShouldBe(0); // the first row of a batch stays
    }

    [Fact]
    public async Task an_erasure_removes_the_persons_rows()
    {
        await Connected();
        var (erased, kept) = (Api.NewId("wh-erase"), Api.NewId("wh-keep"));
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{erased}}" }, "user_attributes": { "x": "1" }, "events": [ {{Event("E")}} ] }""");
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{kept}}" }, "user_attributes": { "x": "1" }, "events": [ {{Event("K")}} ] }""");
        var (erasedMpid, keptMpid) = (await MpidOf(erased), await MpidOf(kept));
        await EventsArrive(erasedMpid, 1);
        await EventsArrive(keptMpid, 1);

        await DataSubjectRequests.EraseCustomerAsync(app, erased);

        await Waiting.Until(async () => await Count("profiles", erasedMpid) == 0, "the erased person's profile row to go", 30);
        foreach (var table in new[] { "events", "attribute_updates", "identity_updates", "audience_memberships", "audience_membership_changes" })
            (await Count(table, erasedMpid)).ShouldBe(0, table);
        (await Count("profiles", keptMpid)).ShouldBe(1);
        (await Count("events", keptMpid)).ShouldBe(1);
    }

    [Fact]
    public async Task filters_and_consent_rules_apply()
    {
        await Connected(
            filter: new { blocked_user_attributes = new[] { "secret" }, blocked_event_names = new[] { new { event_type = "custom_event", event_name = "Hidden" } } },
            consentRules: new[] { new { kind = "require_gdpr_consent", purpose = "analytics" } });
        var (refused, allowed) = (Api.NewId("wh-noconsent"), Api.NewId("wh-consent"));
        const string consent = """ "consent_state": { "gdpr": { "analytics": { "consented": true, "timestamp_unixtime_ms": 1700000000000 } } } """;
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{refused}}" }, "events": [ {{Event("Shown")}} ] }""");
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{allowed}}" }, {{consent}}, "user_attributes": { "secret": "s", "tier": "t" }, "events": [ {{Event("Hidden")}}, {{Event("Shown")}} ] }""");
        var allowedMpid = await MpidOf(allowed);
        await EventsArrive(allowedMpid, 1);

        (await Scalar<string>($"select event_name from {_schema}.events where mpid = $1", allowedMpid)).ShouldBe("Shown");
        (await Scalar<string>($"select user_attributes::text from {_schema}.profiles where mpid = $1", allowedMpid))!.ShouldNotContain("secret");
        (await Scalar<bool>($"select consent_state->'gdpr'->'analytics'->>'consented' = 'true' from {_schema}.profiles where mpid = $1", allowedMpid)).ShouldBeTrue();
        (await Count("attribute_updates", allowedMpid)).ShouldBe(1); // tier only
        var refusedMpid = await MpidOf(refused);
        foreach (var table in new[] { "profiles", "events" }) (await Count(table, refusedMpid)).ShouldBe(0, table); // it was sent first: it would be there by now
    }

    [Fact]
    public async Task a_resync_job_writes_people_sent_before_the_output_existed_once_with_progress()
    {
        var customer = Api.NewId("wh-resync");
        await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "level": "7", "secret": "s" }, "events": [ {{Event("Before")}} ] }""");
        var mpid = await MpidOf(customer);
        await Connected(filter: new { blocked_user_attributes = new[] { "secret" } });

        var job = await app.StartJob("warehouse_resync", new { output = _outputId }, workspace: 1);
        var done = await app.Completed(job["id"]!.GetValue<string>());
        done["done"]!.GetValue<long>().ShouldBe(done["total"]!.GetValue<long>()); // every person looked at, the total known up front
        (await Scalar<string>($"select user_attributes::text from {_schema}.profiles where mpid = $1", mpid))!.ShouldContain("\"level\"");
        (await Scalar<string>($"select user_attributes::text from {_schema}.profiles where mpid = $1", mpid))!.ShouldNotContain("secret");
        (await Scalar<DateTime?>($"select first_seen_at from {_schema}.profiles where mpid = $1", mpid)).ShouldNotBeNull();
        var history = await Count("attribute_updates", mpid) + await Count("identity_updates", mpid);
        history.ShouldBe(2); // the baseline: level and the customer id

        var again = await app.StartJob("warehouse_resync", new { output = _outputId }, workspace: 1);
        await app.Completed(again["id"]!.GetValue<string>());
        (await Count("attribute_updates", mpid) + await Count("identity_updates", mpid)).ShouldBe(history); // nothing changed, nothing added
        (await Count("profiles", mpid)).ShouldBe(1);

        using var refused = await app.AdminClient().PostAsJsonAsync("/api/admin/jobs", new { kind = "warehouse_resync", workspace_id = 1, parameters = new { output = "nope" } });
        refused.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await refused.Errors()).ShouldContain(e => e.Field == "parameters.output");
    }

    [Fact]
    public async Task a_resync_paused_with_a_cursor_of_the_earlier_mpid_walk_starts_its_walk_again_and_skips_nobody()
    {
        // A person whose id sorts before "9" (in text order, the id walk's), though their MPID is above 9: resuming at
        // the old cursor "9" as an id would skip them, and everyone else before it.
        string customer;
        long mpid;
        do
        {
            customer = Api.NewId("wh-old-cursor");
            await Send($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "level": "3" }, "events": [] }""");
            mpid = await MpidOf(customer);
        } while (mpid.ToString(System.Globalization.CultureInfo.InvariantCulture).StartsWith('9'));
        await Connected();

        // The job as the previous version left it, paused at an MPID (the previous walk's cursor). No API makes one now.
        var id = Guid.NewGuid();
        await using (var session = app.Services.GetRequiredService<Marten.IDocumentStore>().LightweightSession())
        {
            session.Store(new EventProfiles.Domain.Operations.OperationJob
            {
                Id = id, Kind = "warehouse_resync", WorkspaceId = 1, Parameters = new() { ["output"] = _outputId },
                Status = "paused", RequestedBy = "admin", CreatedAt = DateTimeOffset.UtcNow, StartedAt = DateTimeOffset.UtcNow,
                Cursor = "9", Done = 0, Events = 0,
            });
            await session.SaveChangesAsync();
        }
        using (var resume = await app.AdminClient().PostAsync($"/api/admin/jobs/{id}/resume", null))
            resume.StatusCode.ShouldBe(HttpStatusCode.Accepted, await resume.Content.ReadAsStringAsync());
        var done = await app.Completed(id.ToString());

        done["done"]!.GetValue<long>().ShouldBe(done["total"]!.GetValue<long>()); // everyone looked at, from the first person
        (await Count("profiles", mpid)).ShouldBe(1);
        (await Count("attribute_updates", mpid)).ShouldBe(1);
    }

    [Fact]
    public async Task audience_changes_keep_current_memberships_and_their_history()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var id = await app.ActiveAudience($"Warehouse plan {s}", $$"""[ { "kind": "user_attribute", "attribute_name": "plan_{{s}}", "type": "string", "operator": "exists" } ]""");
        await CreateWarehouseOutput();
        using (var connect = await app.AdminClient().PostAsJsonAsync("/api/admin/audience-connections", new { audience_id = id, output_id = _outputId }))
            connect.StatusCode.ShouldBe(HttpStatusCode.Created, await connect.Content.ReadAsStringAsync());
        var customer = Api.NewId("wh-aud");
        string Batch(string extra) => $$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "plan_{{s}}": "pro" }, "events": [ {{extra}} ] }""";
        await app.Ingested(Batch(""));
        await app.CatchUpDaemon();
        var mpid = await MpidOf(customer);
        await Waiting.Until(async () => await Count("audience_memberships", mpid) == 1, "the membership in the warehouse", 30);
        (await Scalar<int>($"select audience_id from {_schema}.audience_memberships where mpid = $1", mpid)).ShouldBe(id);

        await app.Ingested(Batch("""{ "event_type": "opt_out", "data": { "is_opted_out": true } }"""));
        await app.CatchUpDaemon();
        await Waiting.Until(async () => await Count("audience_membership_changes", mpid) == 2, "the removal in the warehouse", 30);
        (await Count("audience_memberships", mpid)).ShouldBe(0);
        (await Scalar<string>($"select string_agg(action, ',' order by at) from {_schema}.audience_membership_changes where mpid = $1", mpid)).ShouldBe("add,delete");
    }

    [Fact]
    public async Task the_admin_api_masks_the_password_and_refuses_an_internal_host_without_connecting()
    {
        var output = await CreateWarehouseOutput(password: "hunter2-secret");
        output["kind"]!.GetValue<string>().ShouldBe("warehouse");
        output.ToJsonString().ShouldNotContain("hunter2-secret");
        output["warehouse"]!["has_password"]!.GetValue<bool>().ShouldBeTrue();
        output["warehouse"]!["schema"]!.GetValue<string>().ShouldBe(_schema);
        (await app.Output(_outputId)).ToJsonString().ShouldNotContain("hunter2-secret");

        // A client that sends back the connection string as the API showed it (password ********) keeps the stored one.
        using var sentBack = await app.AdminClient().PutAsJsonAsync($"/api/admin/outputs/{_outputId}", new
        {
            name = "sent back", kind = "warehouse",
            warehouse = new { connection_string = output["warehouse"]!["connection_string"]!.GetValue<string>(), schema = _schema },
        });
        sentBack.StatusCode.ShouldBe(HttpStatusCode.OK, await sentBack.Content.ReadAsStringAsync());
        await using (var session = app.Services.GetRequiredService<Marten.IDocumentStore>().QuerySession())
            (await session.LoadAsync<EventProfiles.Domain.Forwarding.Output>(_outputId))!.Warehouse!.ConnectionString.ShouldContain("Password=hunter2-secret");

        // An update without the password keeps it; the policy's answer refuses a private address before any connection.
        var before = (await app.AdminClient().GetFromJsonAsync<JsonArray>("/api/admin/outputs"))!.Count;
        using var refused = await app.AdminClient().PostAsJsonAsync("/api/admin/outputs",
            new { name = "internal", kind = "warehouse", warehouse = new { connection_string = "Host=10.1.2.3;Database=dw;Username=u;Password=p", schema = "ep" } });
        refused.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await refused.Errors()).ShouldContain(e => e.Field == "warehouse.connection_string" && e.Message.Contains("not allowed"));
        using var socket = await app.AdminClient().PostAsJsonAsync("/api/admin/outputs",
            new { name = "socket", kind = "warehouse", warehouse = new { connection_string = "Host=/var/run/postgresql;Database=dw", schema = "Bad-Name" } });
        socket.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await socket.Errors()).Select(e => e.Field).ShouldBe(["warehouse.connection_string", "warehouse.schema"], ignoreOrder: true);
        (await app.AdminClient().GetFromJsonAsync<JsonArray>("/api/admin/outputs"))!.Count.ShouldBe(before);
    }
}
