using System.Text;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

/// <summary>FLOOR=design (see Program.cs): the rows our writer stores for one batch, in our tables, in one round trip.</summary>
static class DesignFloor
{
    public static async Task MapAsync(WebApplication app, NpgsqlDataSource dataSource)
    {
        var s = Environment.GetEnvironmentVariable("DESIGN_SCHEMA") ?? "eventprofiles";
        var omit = (Environment.GetEnvironmentVariable("DESIGN_OMIT") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        bool identity = !omit.Contains("identity"), dedupe = !omit.Contains("dedupe"), profile = !omit.Contains("profile"), events = !omit.Contains("events");

        // DESIGN_DROP (comma-separated: fk, events-unique, profile-indexes) drops those of the design's constraints and
        // indexes for the ablation, and puts back whatever is not listed (each variant of one run sets its own tables).
        var drop = (Environment.GetEnvironmentVariable("DESIGN_DROP") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        string[] ddl =
        [
            drop.Contains("fk") ? $"alter table {s}.mt_events drop constraint if exists fkey_mt_events_stream_id"
                : $"do $$ begin if not exists (select 1 from pg_constraint where conname = 'fkey_mt_events_stream_id') then alter table {s}.mt_events add constraint fkey_mt_events_stream_id foreign key (stream_id) references {s}.mt_streams(id) on delete cascade not valid; end if; end $$",
            drop.Contains("events-unique") ? $"drop index if exists {s}.pk_mt_events_stream_and_version"
                : $"create unique index if not exists pk_mt_events_stream_and_version on {s}.mt_events (stream_id, version)",
            drop.Contains("profile-indexes") ? $"drop index if exists {s}.mt_doc_profile_idx_last_stored_at; drop index if exists {s}.ix_profile_held_merges; drop index if exists {s}.ix_profile_aged_out"
                : $"create index if not exists mt_doc_profile_idx_last_stored_at on {s}.mt_doc_profile (last_stored_at); " +
                  $"create index if not exists ix_profile_held_merges on {s}.mt_doc_profile (((data ->> 'Mpid')::bigint)) where (data ->> 'HasHeldMerges') = 'true'; " +
                  $"create index if not exists ix_profile_aged_out on {s}.mt_doc_profile (((data ->> 'Mpid')::bigint)) where (data ->> 'AgedOutAt') is not null",
        ];
        if (Environment.GetEnvironmentVariable("DESIGN_DROP") is not null)
            foreach (var statement in ddl)
            {
                await using var alter = dataSource.CreateCommand(statement);
                await alter.ExecuteNonQueryAsync();
            }

        // Templates: the newest event rows and profile document the Host stored (so jsonb sizes and type names are ours).
        var templateData = new List<string>(); var templateTypes = new List<string>(); var templateDotnet = new List<string>();
        await using (var read = dataSource.CreateCommand($"select data::text, type, mt_dotnet_type from {s}.mt_events where type = 'event_captured' order by seq_id desc limit 5"))
        await using (var reader = await read.ExecuteReaderAsync())
            while (await reader.ReadAsync()) { templateData.Add(reader.GetString(0)); templateTypes.Add(reader.GetString(1)); templateDotnet.Add(reader.GetString(2)); }
        if (templateData.Count == 0) throw new InvalidOperationException($"no rows in {s}.mt_events: run the Host first");
        string profileTemplate, profileType;
        await using (var read = dataSource.CreateCommand($"select data::text, mt_dotnet_type from {s}.mt_doc_profile order by mt_last_modified desc limit 1"))
        await using (var reader = await read.ExecuteReaderAsync())
        {
            await reader.ReadAsync();
            profileTemplate = reader.GetString(0); profileType = reader.GetString(1);
        }
        string input;
        await using (var read = dataSource.CreateCommand($"select coalesce((select input from {s}.ep_ingest_requests limit 1), 'demo')"))
            input = (string)(await read.ExecuteScalarAsync())!;
        Console.WriteLine($"design floor: {templateData.Average(d => d.Length):F0}-char events, {profileTemplate.Length}-char profile, omitting [{string.Join(',', omit)}]");

        // The person: the holder of the batch's identities, else a new MPID ($3) whose identities are locked and indexed.
        var person = identity
            ? $"""
              found as (select i.identity_type, i.identity_value, i.mpid, i.linked_at from {s}.ep_identity_index i
                        join unnest($1::text[], $2::text[]) q(t, v) on i.identity_type = q.t and i.identity_value = q.v),
              p as (select coalesce((select min(mpid) from found), $3) as mpid, not exists (select 1 from found) as is_new),
              lk as (select count(pg_advisory_xact_lock(h, l)) as n from p, unnest($4::int[], $5::int[]) k(h, l) where p.is_new),
              ix as (insert into {s}.ep_identity_index (identity_type, identity_value, mpid, is_unique, workspace_id, linked_at)
                     select q.t, q.v, p.mpid, true, 1, now() from p, unnest($1::text[], $2::text[]) q(t, v) where p.is_new),
              """
            : "p as (select $3::bigint as mpid),"; // the MPID from the map read at start (below): no look-up, no index rows
        var sql = new StringBuilder("with ").Append(person).Append($"""
            st as (insert into {s}.mt_streams as st (id, type, version, timestamp, tenant_id)
                   select p.mpid::text, null, $6, now(), '*DEFAULT*' from p
                   on conflict (id) do update set version = st.version + excluded.version, timestamp = now() returning id, version)
            """);
        if (events) sql.Append($"""
            , ev as (insert into {s}.mt_events (seq_id, id, stream_id, version, data, type, tenant_id, timestamp, mt_dotnet_type, is_archived)
                   select nextval('{s}.mt_events_sequence'), e.i, st.id, st.version - $6 + e.o, e.d, e.t, '*DEFAULT*', (now() at time zone 'utc'), e.n, false
                   from st, unnest($7::uuid[], $8::jsonb[], $9::varchar[], $10::varchar[]) with ordinality e(i, d, t, n, o) order by e.o)
            """);
        // A new person's document is the template with its own id and identities; an existing one keeps its own document,
        // merged server-side (so the Host, run alternately on the same tables, still finds consistent people).
        if (profile) sql.Append($"""
            , pr as (insert into {s}.mt_doc_profile as pr (id, data, mt_version, mt_dotnet_type, mt_last_modified, last_stored_at)
                   select st.id, jsonb_set(jsonb_set(jsonb_set($11, {"'{Id}'"}, to_jsonb(st.id)), {"'{Mpid}'"}, to_jsonb(p.mpid)), {"'{Identities}'"}, $16),
                          st.version, $12, transaction_timestamp(), now() from st, p
                   on conflict (id) do update set data = pr.data || jsonb_build_object('LastSeenAt', now(), 'LastStoredAt', now()),
                   mt_version = excluded.mt_version, mt_dotnet_type = excluded.mt_dotnet_type,
                   mt_last_modified = excluded.mt_last_modified, last_stored_at = excluded.last_stored_at)
            """);
        if (dedupe) sql.Append($"""
            , req as (select r.mpid from {s}.ep_ingest_requests r where r.input = $13 and r.source_request_id = $14),
              seen as (select m.source_message_id from {s}.ep_event_message_ids m, p where m.mpid = p.mpid and m.source_message_id = any($15)),
              rq as (insert into {s}.ep_ingest_requests (input, source_request_id, mpid, received_at) select $13, $14, p.mpid, now() from p),
              ms as (insert into {s}.ep_event_message_ids (mpid, source_message_id) select p.mpid, m from p, unnest($15::text[]) m on conflict do nothing)
            """);
        // Plain SELECT CTEs run only when referenced: the look-ups and the locks are referenced here.
        sql.Append(" select (select count(*) from st)")
           .Append(identity ? ", (select n from lk), (select count(*) from found)" : "")
           .Append(dedupe ? ", (select count(*) from req), (select count(*) from seen)" : "");
        var text = sql.ToString();

        var known = new Dictionary<string, long>();
        if (!identity)
        {
            await using var read = dataSource.CreateCommand($"select identity_value, mpid from {s}.ep_identity_index where identity_type = 'customer_id'");
            await using var reader = await read.ExecuteReaderAsync();
            while (await reader.ReadAsync()) known[reader.GetString(0)] = reader.GetInt64(1);
        }
        var accepted = Encoding.UTF8.GetBytes("{}");
        // FLOOR=design-group: DESIGN_WRITERS (2, as ours) writers, each committing up to 500 queued batches' statements
        // as one Npgsql batch: one round trip, one implicit transaction, one commit for the group.
        System.Threading.Channels.Channel<Pending>[]? writers = null;
        if (Environment.GetEnvironmentVariable("FLOOR") == "design-group")
        {
            writers = Enumerable.Range(0, int.Parse(Environment.GetEnvironmentVariable("DESIGN_WRITERS") ?? "2"))
                .Select(_ => System.Threading.Channels.Channel.CreateUnbounded<Pending>()).ToArray();
            foreach (var writer in writers) _ = Task.Run(() => WriteLoopAsync(dataSource, writer.Reader));
        }
        app.MapPost("/v2/events", async (HttpContext context) =>
        {
            using var buffer = new MemoryStream(context.Request.ContentLength is { } length ? (int)length : 4096);
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            using var batch = JsonDocument.Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
            var root = batch.RootElement;
            var types = new List<string>(); var values = new List<string>();
            foreach (var i in root.GetProperty("user_identities").EnumerateObject()) { types.Add(i.Name); values.Add(i.Value.GetString()!); }
            var messageIds = new List<string>();
            foreach (var e in root.GetProperty("events").EnumerateArray())
                if (e.GetProperty("data").TryGetProperty("source_message_id", out var m)) messageIds.Add(m.GetString()!);
            var n = messageIds.Count;
            var ids = new Guid[n]; var data = new string[n]; var eventTypes = new string[n]; var dotnet = new string[n];
            for (var k = 0; k < n; k++)
            {
                ids[k] = Guid.CreateVersion7();
                data[k] = templateData[k % templateData.Count]; eventTypes[k] = templateTypes[k % templateData.Count]; dotnet[k] = templateDotnet[k % templateData.Count];
            }
            var locks = Enumerable.Range(0, types.Count).Select(k => Hash(types[k], values[k])).Order().ToArray();

            var command = new NpgsqlBatchCommand(text);
            var p = command.Parameters;
            p.Add(new NpgsqlParameter<string[]> { TypedValue = [.. types] });
            p.Add(new NpgsqlParameter<string[]> { TypedValue = [.. values] });
            var customer = values[types.IndexOf("customer_id")];
            p.Add(new NpgsqlParameter<long> { TypedValue = known.TryGetValue(customer, out var mpid) ? mpid : Hash("customer_id", customer) & long.MaxValue });
            p.Add(new NpgsqlParameter<int[]> { TypedValue = locks.Select(h => (int)(h >> 32)).ToArray() });
            p.Add(new NpgsqlParameter<int[]> { TypedValue = locks.Select(h => (int)h).ToArray() });
            p.Add(new NpgsqlParameter<long> { TypedValue = n });
            p.Add(new NpgsqlParameter<Guid[]> { TypedValue = ids });
            p.Add(new NpgsqlParameter<string[]> { TypedValue = data, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
            p.Add(new NpgsqlParameter<string[]> { TypedValue = eventTypes, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Varchar });
            p.Add(new NpgsqlParameter<string[]> { TypedValue = dotnet, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Varchar });
            p.Add(new NpgsqlParameter<string> { TypedValue = profileTemplate, NpgsqlDbType = NpgsqlDbType.Jsonb });
            p.Add(new NpgsqlParameter<string> { TypedValue = profileType, NpgsqlDbType = NpgsqlDbType.Varchar });
            p.Add(new NpgsqlParameter<string> { TypedValue = input });
            p.Add(new NpgsqlParameter<string> { TypedValue = root.GetProperty("source_request_id").GetString()! });
            p.Add(new NpgsqlParameter<string[]> { TypedValue = [.. messageIds] });
            var now = DateTimeOffset.UtcNow.ToString("O");
            p.Add(new NpgsqlParameter<string>
            {
                TypedValue = JsonSerializer.Serialize(Enumerable.Range(0, types.Count).Select(k => new Dictionary<string, object>
                    { ["Type"] = types[k], ["Input"] = input, ["Value"] = values[k], ["AddedAt"] = now, ["WorkspaceId"] = 1 })),
                NpgsqlDbType = NpgsqlDbType.Jsonb,
            });
            if (writers is null)
            {
                // One statement without an explicit transaction: committed when this returns.
                await using var single = dataSource.CreateBatch();
                single.BatchCommands.Add(command);
                await single.ExecuteNonQueryAsync(context.RequestAborted);
            }
            else
            {
                // design-group: a writer (by customer id, as ours routes by person) commits what is queued with it.
                var pending = new Pending(command, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                await writers[(int)((ulong)Hash("customer_id", customer) % (ulong)writers.Length)].Writer.WriteAsync(pending);
                await pending.Done.Task;
            }

            context.Response.StatusCode = 202;
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = accepted.Length;
            await context.Response.Body.WriteAsync(accepted, context.RequestAborted);
        });
    }

    sealed record Pending(NpgsqlBatchCommand Command, TaskCompletionSource Done);

    static async Task WriteLoopAsync(NpgsqlDataSource dataSource, System.Threading.Channels.ChannelReader<Pending> reader)
    {
        var group = new List<Pending>();
        while (await reader.WaitToReadAsync())
        {
            group.Clear();
            while (group.Count < 500 && reader.TryRead(out var next)) group.Add(next);
            try
            {
                await using var batch = dataSource.CreateBatch();
                foreach (var pending in group) batch.BatchCommands.Add(pending.Command);
                await batch.ExecuteNonQueryAsync();
                foreach (var pending in group) pending.Done.SetResult();
            }
            catch (Exception ex)
            {
                foreach (var pending in group) pending.Done.TrySetException(ex);
            }
        }
    }

    // IdentityLocks.Hash: FNV-1a over "type\0value".
    static long Hash(string type, string value)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes($"{type}\0{value}")) { hash ^= b; hash *= 1099511628211UL; }
        return unchecked((long)hash);
    }
}
