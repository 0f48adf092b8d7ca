using System.Globalization;
using EventProfiles.Commands.Operations;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Profiles;
using EventProfiles.Integration.Tests.Fixtures;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EventProfiles.Integration.Tests.Ingestion;

/// <summary>
/// The ingestion writer appends a whole group with its own set-based SQL on Marten's event tables (GroupAppend) instead
/// of Marten's per-stream append and inline projections. Marten must read back exactly what it would have written, and
/// the rebuilt read models must equal the ones the writer stored.
/// </summary>
[Collection(AppCollection.Name)]
public class GroupAppendTests(AppFixture app)
{
    private static string Batch(string customerId, string email, int events, string plan) => $$"""
        { "environment": "development", "source_request_id": "{{Guid.NewGuid()}}",
          "user_identities": { "customer_id": "{{customerId}}", "email": "{{email}}" },
          "user_attributes": { "plan": "{{plan}}" },
          "events": [{{string.Join(",", Enumerable.Range(0, events).Select(i =>
              $$"""{ "event_type": "custom_event", "data": { "event_name": "e{{i}}", "custom_event_type": "other", "source_message_id": "{{Guid.NewGuid()}}" } }"""))}}] }
        """;

    /// <summary>Sends these batches at once, so the writers take several of them into one group.</summary>
    private async Task SendTogether(IEnumerable<string> batches)
    {
        var responses = await Task.WhenAll(batches.Select(b => app.PostBatch(b)));
        foreach (var r in responses)
            using (r) ((int)r.StatusCode).ShouldBe(202, await r.Content.ReadAsStringAsync());
    }

    private async Task<long> MpidOf(string customerId)
    {
        await using var command = app.Db.CreateCommand($"select mpid from {app.Schema}.ep_identity_index where identity_type = 'customer_id' and identity_value = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = customerId });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>The profile row: its document, revision and the LastStoredAt column Marten duplicates (retention and the
    /// lifetime round query the column; the writer fills it beside the document, and it must say what the document says:
    /// to the microsecond, as Npgsql truncates the document's 100-ns ticks where PostgreSQL's text input rounds them).</summary>
    private async Task<(string Data, long Version, DateTimeOffset LastStoredAt)> StoredProfile(string key)
    {
        await using var command = app.Db.CreateCommand(
            $"select data::text, mt_version, last_stored_at, abs(extract(epoch from last_stored_at - {app.Schema}.mt_immutable_timestamptz(data ->> 'LastStoredAt'))) <= 0.000001 from {app.Schema}.mt_doc_profile where id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = key });
        await using var reader = await command.ExecuteReaderAsync();
        (await reader.ReadAsync()).ShouldBeTrue($"no profile document for {key}");
        reader.IsDBNull(3).ShouldBeFalse($"no last_stored_at column value for {key}");
        reader.GetBoolean(3).ShouldBeTrue($"the last_stored_at column of {key} differs from the document's LastStoredAt");
        return (reader.GetString(0), reader.GetInt64(1), reader.GetFieldValue<DateTimeOffset>(2));
    }

    private async Task<List<string>> IndexRows(long mpid)
    {
        await using var command = app.Db.CreateCommand(
            $"select identity_type || '|' || identity_value || '|' || is_unique || '|' || workspace_id || '|' || linked_at::text from {app.Schema}.ep_identity_index where mpid = $1 order by 1");
        command.Parameters.Add(new NpgsqlParameter { Value = mpid });
        var rows = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) rows.Add(reader.GetString(0));
        return rows;
    }

    /// <summary>
    /// Runs <paramref name="act"/> with a constraint trigger on ep_ingest_requests that PostgreSQL defers to the COMMIT
    /// (<paramref name="check"/> is its plpgsql body before <c>return null</c>), then drops it.
    /// </summary>
    private async Task WithTriggerAtCommit(string name, string check, Func<Task> act)
    {
        var schema = app.Schema;
        await using (var create = app.Db.CreateCommand($"""
            create or replace function {schema}.{name}() returns trigger language plpgsql as $$
            begin
            {check}
              return null;
            end $$;
            drop trigger if exists {name} on {schema}.ep_ingest_requests;
            create constraint trigger {name} after insert on {schema}.ep_ingest_requests
              deferrable initially deferred for each row execute function {schema}.{name}();
            """))
            await create.ExecuteNonQueryAsync();
        try { await act(); }
        finally
        {
            await using var drop = app.Db.CreateCommand($"drop trigger if exists {name} on {schema}.ep_ingest_requests");
            await drop.ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public async Task marten_reads_back_the_streams_a_group_appended()
    {
        var started = DateTimeOffset.UtcNow;
        var people = Enumerable.Range(0, 6).Select(_ => Api.NewId("ga")).ToList();
        // Each person's first batch creates the stream; the second (sent together with other people's first) continues it.
        await SendTogether(people.Select((c, i) => Batch(c, $"{c}@example.org", 3 + i % 3, "free")));
        await SendTogether(people.Select(c => Batch(c, $"{c}@example.org", 2, "gold")));

        var store = app.Services.GetRequiredService<IDocumentStore>();
        var options = (DocumentStore)store;
        await using var session = store.QuerySession();
        foreach (var customer in people)
        {
            var mpid = await MpidOf(customer);
            var key = StreamKey.For(mpid);
            var events = await session.Events.FetchStreamAsync(key);

            events.Select(e => e.Version).ShouldBe(Enumerable.Range(1, events.Count).Select(v => (long)v), "versions are gapless from 1");
            events.Select(e => e.Sequence).ShouldBe(events.Select(e => e.Sequence).Order(), "sequence numbers follow the versions");
            events[0].Data.ShouldBeOfType<ProfileCreated>().Mpid.ShouldBe(mpid);
            events.Count(e => e.Data is EventCaptured).ShouldBeGreaterThanOrEqualTo(5);
            events.Count(e => e.Data is BatchReceived).ShouldBe(2);
            events.OfType<JasperFx.Events.IEvent>().ShouldAllBe(e => e.Data.GetType() == e.EventType);
            foreach (var e in events)
            {
                e.StreamKey.ShouldBe(key);
                e.TenantId.ShouldBe("*DEFAULT*");
                e.EventTypeName.ShouldBe(options.Events.EventMappingFor(e.Data.GetType()).EventTypeName);
                e.DotNetTypeName.ShouldBe(options.Events.EventMappingFor(e.Data.GetType()).DotNetTypeName);
                e.Timestamp.ShouldBeGreaterThan(started.AddMinutes(-5)); // the server's clock, not a default
                e.Id.ShouldNotBe(Guid.Empty);
                e.IsArchived.ShouldBeFalse();
            }
            events.Select(e => e.Id).Distinct().Count().ShouldBe(events.Count);
            events.OfType<JasperFx.Events.IEvent>().Select(e => e.Data).OfType<UserAttributeSet>().Last().Value.ToString().ShouldContain("gold");

            var state = await session.Events.FetchStreamStateAsync(key);
            state.ShouldNotBeNull();
            state.Version.ShouldBe(events.Count);
            state.IsArchived.ShouldBeFalse();
            (await StoredProfile(key)).Version.ShouldBe(events.Count, "the profile's revision is the stream's version, as the inline projection stores it");

            // Marten's own fold of the stream (the inline projection's code) gives the document the writer stored.
            var aggregated = await session.Events.AggregateStreamAsync<Profile>(key);
            aggregated.ShouldNotBeNull();
            store.Options.Serializer().ToJson(aggregated).ShouldBe(store.Options.Serializer().ToJson(await session.LoadAsync<Profile>(key)));
        }
    }

    /// <summary>The writer serialises straight to UTF-8 and hands Npgsql the bytes; what is stored must be what Marten's
    /// ToJson of the same objects gives (the jsonb of both compared as text, as PostgreSQL prints it).</summary>
    [Fact]
    public async Task the_stored_json_of_events_and_profiles_is_what_martens_serializer_writes()
    {
        var people = Enumerable.Range(0, 3).Select(_ => Api.NewId("gj")).ToList();
        await SendTogether(people.Select(c => Batch(c, $"{c}@example.org", 3, "free \u00e9\u4e2d \\\"q\\\" <b>&")));
        await SendTogether(people.Select(c => Batch(c, $"{c}@example.org", 2, "gold")));

        var store = app.Services.GetRequiredService<IDocumentStore>();
        var serializer = store.Options.Serializer();
        await using var session = store.QuerySession();
        async Task<string> AsJsonb(string json)
        {
            await using var command = app.Db.CreateCommand("select $1::jsonb::text");
            command.Parameters.Add(new NpgsqlParameter { Value = json });
            return (string)(await command.ExecuteScalarAsync())!;
        }
        foreach (var customer in people)
        {
            var key = StreamKey.For(await MpidOf(customer));
            var events = await session.Events.FetchStreamAsync(key);
            await using var command = app.Db.CreateCommand($"select data::text from {app.Schema}.mt_events where stream_id = $1 order by version");
            command.Parameters.Add(new NpgsqlParameter { Value = key });
            var stored = new List<string>();
            await using (var reader = await command.ExecuteReaderAsync())
                while (await reader.ReadAsync()) stored.Add(reader.GetString(0));
            stored.Count.ShouldBe(events.Count);
            for (var i = 0; i < events.Count; i++)
                stored[i].ShouldBe(await AsJsonb(serializer.ToJson(events[i].Data)), $"event {i + 1} of {key}");
            stored.ShouldContain(d => d.Contains("free é中", StringComparison.Ordinal), "non-ASCII text survives the UTF-8 path");

            var profile = await session.LoadAsync<Profile>(key);
            (await StoredProfile(key)).Data.ShouldBe(await AsJsonb(serializer.ToJson(profile)));
        }
    }

    [Fact]
    public async Task rebuilding_profiles_and_identity_index_gives_what_the_writer_stored()
    {
        var people = Enumerable.Range(0, 4).Select(_ => Api.NewId("gr")).ToList();
        await SendTogether(people.Select(c => Batch(c, $"{c}@example.org", 4, "free")));
        // A new email for each: the index row of the old one goes and the new one comes, in one group.
        await SendTogether(people.Select(c => Batch(c, $"new-{c}@example.org", 1, "silver")));

        var mpids = new List<long>();
        foreach (var c in people) mpids.Add(await MpidOf(c));
        var keys = mpids.Select(StreamKey.For).ToList();
        var live = new Dictionary<string, (string, long, DateTimeOffset)>();
        var liveIndex = new Dictionary<long, List<string>>();
        foreach (var (key, mpid) in keys.Zip(mpids))
        {
            live[key] = await StoredProfile(key);
            liveIndex[mpid] = await IndexRows(mpid);
            liveIndex[mpid].ShouldContain(r => r.StartsWith("email|new-", StringComparison.Ordinal));
            liveIndex[mpid].ShouldNotContain(r => r.StartsWith("email|gr-", StringComparison.Ordinal));
        }

        // Marten's inline projection, run over each stream again.
        var store = app.Services.GetRequiredService<IDocumentStore>();
        foreach (var key in keys)
        {
            await store.Advanced.RebuildSingleStreamAsync<Profile>(key);
            (await StoredProfile(key)).ShouldBe(live[key], "Marten's rebuild of the profile");
        }
        // Our in-place rebuild (profiles and identity-index rows from the events).
        await app.Services.GetRequiredService<RebuildProjections>().RebuildGroupAsync(keys.Order(StringComparer.Ordinal).ToList(), CancellationToken.None);
        foreach (var (key, mpid) in keys.Zip(mpids))
        {
            (await StoredProfile(key)).Data.ShouldBe(live[key].Item1, "the rebuild job's profile");
            (await IndexRows(mpid)).ShouldBe(liveIndex[mpid], "the rebuilt identity index");
        }
    }

    [Fact]
    public async Task concurrent_writers_of_one_stream_keep_its_versions_gapless()
    {
        var customer = Api.NewId("gc");
        await SendTogether([Batch(customer, $"{customer}@example.org", 1, "free")]);
        var mpid = await MpidOf(customer);
        var key = StreamKey.For(mpid);

        // Ingestion groups and IDSync modify (Marten's own append, under the same stream lock) on the same stream at once.
        var batches = SendTogether(Enumerable.Range(0, 24).Select(i => Batch(customer, $"{customer}@example.org", 1 + i % 4, $"p{i}")));
        var modifies = Enumerable.Range(0, 4).Select(async i =>
        {
            using var response = await app.Modify(mpid.ToString(CultureInfo.InvariantCulture),
                new { identity_type = $"other{i + 2}", old_value = (string?)null, new_value = $"{customer}-other-{i}" });
            ((int)response.StatusCode).ShouldBe(200, await response.Content.ReadAsStringAsync());
        });
        await Task.WhenAll(modifies.Append(batches));

        await using var session = app.Services.GetRequiredService<IDocumentStore>().QuerySession();
        var events = await session.Events.FetchStreamAsync(key);
        events.Select(e => e.Version).ShouldBe(Enumerable.Range(1, events.Count).Select(v => (long)v));
        events.Count(e => e.Data is BatchReceived).ShouldBe(25);
        events.Count(e => e.Data is UserIdentityAdded a && a.IdentityType.StartsWith("other", StringComparison.Ordinal)).ShouldBe(4);
        (await session.Events.FetchStreamStateAsync(key))!.Version.ShouldBe(events.Count);
        (await StoredProfile(key)).Version.ShouldBe(events.Count);
        var profile = await session.LoadAsync<Profile>(key);
        profile!.Identities.Count(i => i.Type.StartsWith("other", StringComparison.Ordinal)).ShouldBe(4, "no profile update was lost between the writers");
    }

    [Fact]
    public async Task a_group_whose_commit_fails_is_not_answered_202_and_nothing_of_it_is_stored()
    {
        // A check PostgreSQL defers to the COMMIT: every statement of the group succeeds, only the COMMIT fails. The writer
        // sends its COMMIT in the same round trip as the writes, so this is the path where a lost COMMIT error would answer
        // 202 for a group that was rolled back.
        var schema = app.Schema;
        var customer = Api.NewId("commitfails");
        var eventName = Api.NewId("never-stored");
        await WithTriggerAtCommit("ep_test_fail_at_commit", """
            if new.source_request_id like 'fail-at-commit-%' then raise exception 'refused at commit'; end if;
            """, async () =>
        {
            using var response = await app.PostBatch($$"""
                { "source_request_id": "fail-at-commit-{{Guid.NewGuid()}}", "user_identities": { "customer_id": "{{customer}}" },
                  "events": [ { "event_type": "custom_event", "data": { "event_name": "{{eventName}}", "custom_event_type": "other" } } ] }
                """);
            ((int)response.StatusCode).ShouldNotBe(202, await response.Content.ReadAsStringAsync());
        });

        await using (var stored = app.Db.CreateCommand($"""
            select (select count(*) from {schema}.ep_identity_index where identity_value = $1)
                 + (select count(*) from {schema}.ep_ingest_requests where source_request_id like 'fail-at-commit-%')
                 + (select count(*) from {schema}.mt_events where data::text like '%' || $2 || '%')
            """))
        {
            stored.Parameters.Add(new NpgsqlParameter { Value = customer });
            stored.Parameters.Add(new NpgsqlParameter { Value = eventName });
            ((long)(await stored.ExecuteScalarAsync())!).ShouldBe(0, "rows of a group whose COMMIT failed");
        }

        // The writer goes on: the same person's next batch commits (claims of the failed group were released).
        await SendTogether([Batch(customer, $"{customer}@example.org", 1, "free")]);
        (await MpidOf(customer)).ShouldNotBe(0);
    }

    [Fact]
    public async Task a_group_rolled_back_by_a_transient_error_is_retried_and_stored_once()
    {
        // The first COMMIT of a marked batch fails as a deadlock would (40P01), later ones pass. Marten replays such a
        // unit of work itself; on the writer's own transaction that replay cannot run, and the group must still be
        // retried (not failed), as when Marten owned the transaction.
        await using (var sequence = app.Db.CreateCommand($"create sequence if not exists {app.Schema}.ep_test_deadlock_once"))
            await sequence.ExecuteNonQueryAsync();
        var customer = Api.NewId("deadlockonce");
        await WithTriggerAtCommit("ep_test_deadlock_once", $"""
            if new.source_request_id like 'deadlock-once-%' and nextval('{app.Schema}.ep_test_deadlock_once') = 1 then
              raise exception 'deadlock (test)' using errcode = '40P01';
            end if;
            """, async () =>
        {
            using var response = await app.PostBatch($$"""
                { "source_request_id": "deadlock-once-{{Guid.NewGuid()}}", "user_identities": { "customer_id": "{{customer}}" },
                  "events": [ { "event_type": "custom_event", "data": { "event_name": "retried", "custom_event_type": "other" } } ] }
                """);
            ((int)response.StatusCode).ShouldBe(202, await response.Content.ReadAsStringAsync());
        });
        var mpid = await MpidOf(customer);
        (await app.EventCount(mpid, "batch_received")).ShouldBe(1);
        (await app.EventCount(mpid, "event_captured")).ShouldBe(1);
    }
}
