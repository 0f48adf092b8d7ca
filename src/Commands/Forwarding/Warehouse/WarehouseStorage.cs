using System.Text.Json.Nodes;
using EventProfiles.Domain.Forwarding.Warehouse;
using Marten;
using Npgsql;
using NpgsqlTypes;
using Weasel.Postgresql.Tables;

namespace EventProfiles.Commands.Forwarding.Warehouse;

/// <summary>
/// Our side: one row per warehouse output whose lock is the right to flush it (any node may hold it, one at a time) and
/// which records when it last flushed (the micro-batch interval). Their side: the tables we create, migrate and write in
/// the warehouse's schema — all SQL of this output kind is here.
/// </summary>
public static class WarehouseStorage
{
    public const string FlushesTable = "ep_warehouse_flushes";

    /// <summary>The version of the warehouse tables this code writes; <see cref="Migrations"/> brings older ones up to it.</summary>
    public const int SchemaVersion = 2;

    public static StoreOptions AddWarehouseOutputs(this StoreOptions opts)
    {
        var flushes = new Table($"{opts.DatabaseSchemaName}.{FlushesTable}");
        flushes.AddColumn<string>("output_id").AsPrimaryKey();
        flushes.AddColumn<DateTimeOffset>("flushed_at").NotNull().DefaultValueByExpression("'1970-01-01T00:00:00Z'");
        // When an envelope is scheduled to flush next (written with it): later groups before then need not schedule one.
        flushes.AddColumn<DateTimeOffset>("scheduled_for").AllowNulls();
        opts.Storage.ExtendedSchemaObjects.Add(flushes);
        return opts;
    }

    /// <summary>
    /// Version 1 of the warehouse's tables (idempotent DDL). <c>profiles</c> is the current state; the *_updates and
    /// *_changes tables only ever get rows added, so any past state can be rebuilt from them.
    /// </summary>
    private static readonly string[] Migrations =
    [
        """
        create table if not exists {0}.profiles (
          workspace_id int not null, mpid bigint not null,
          identities jsonb not null, user_attributes jsonb not null, calculated_attributes jsonb not null,
          audience_memberships jsonb not null, consent_state jsonb not null,
          first_seen_at timestamptz, last_seen_at timestamptz, updated_at timestamptz not null, synced_at timestamptz not null default now(),
          primary key (workspace_id, mpid));
        create table if not exists {0}.identity_updates (
          batch_id uuid not null, workspace_id int not null, mpid bigint not null, identity_type text not null, identity text,
          at timestamptz not null, synced_at timestamptz not null default now(),
          primary key (batch_id, workspace_id, mpid, identity_type));
        create index if not exists identity_updates_person on {0}.identity_updates (workspace_id, mpid, at);
        create table if not exists {0}.attribute_updates (
          batch_id uuid not null, workspace_id int not null, mpid bigint not null, name text not null, value jsonb,
          calculated boolean not null, at timestamptz not null, synced_at timestamptz not null default now(),
          primary key (batch_id, workspace_id, mpid, name));
        create index if not exists attribute_updates_person on {0}.attribute_updates (workspace_id, mpid, at);
        create table if not exists {0}.events (
          batch_id uuid not null, event_index int not null, workspace_id int not null, mpid bigint not null,
          input text not null, environment text not null, event_type text not null, event_name text, event_timestamp timestamptz,
          data jsonb not null, batch jsonb not null, is_replay boolean not null, synced_at timestamptz not null default now(),
          primary key (batch_id, event_index));
        create index if not exists events_person on {0}.events (workspace_id, mpid, event_timestamp);
        create table if not exists {0}.audience_memberships (
          workspace_id int not null, audience_id int not null, mpid bigint not null, audience_name text, since timestamptz not null,
          primary key (workspace_id, audience_id, mpid));
        create index if not exists audience_memberships_person on {0}.audience_memberships (workspace_id, mpid);
        create table if not exists {0}.audience_membership_changes (
          change_id uuid not null, audience_id int not null, workspace_id int not null, mpid bigint not null, audience_name text,
          action text not null, at timestamptz not null, synced_at timestamptz not null default now(),
          primary key (change_id, audience_id));
        create index if not exists audience_membership_changes_person on {0}.audience_membership_changes (workspace_id, mpid, at);
        """,
        // Version 2 (issue 21): splits, merges and undos, one row per person of each; their rows were re-keyed by it.
        """
        create table if not exists {0}.identity_changes (
          change_id text not null, workspace_id int not null, mpid bigint not null, other_mpid bigint not null, change text not null,
          gave boolean not null, batch_ids jsonb not null, identities jsonb not null, reason text, changed_by text,
          at timestamptz not null, synced_at timestamptz not null default now(),
          primary key (change_id, workspace_id, mpid));
        create index if not exists identity_changes_person on {0}.identity_changes (workspace_id, mpid, at);
        """,
    ];

    /// <summary>Creates the schema and brings its tables to <see cref="SchemaVersion"/>, under a lock so two nodes do not migrate at once.</summary>
    public static async Task MigrateAsync(NpgsqlDataSource warehouse, string schema, CancellationToken ct)
    {
        var s = Quote(schema);
        await using var connection = await warehouse.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await Execute(connection, $"select pg_advisory_xact_lock(hashtext('eventprofiles-warehouse:' || $1))", ct, schema);
        await Execute(connection, $"create schema if not exists {s}; create table if not exists {s}.eventprofiles_schema (version int not null)", ct);
        await using (var read = new NpgsqlCommand($"select coalesce(max(version), 0) from {s}.eventprofiles_schema", connection))
        {
            var version = (int)(await read.ExecuteScalarAsync(ct))!;
            for (var v = version; v < SchemaVersion; v++) await Execute(connection, string.Format(System.Globalization.CultureInfo.InvariantCulture, Migrations[v], s), ct);
            if (version < SchemaVersion)
            {
                await Execute(connection, $"delete from {s}.eventprofiles_schema", ct);
                await Execute(connection, $"insert into {s}.eventprofiles_schema (version) values ($1)", ct, SchemaVersion);
            }
        }
        await tx.CommitAsync(ct);
    }

    /// <summary>The warehouse's current identities and attributes of these people: what the micro-batch's history rows differ from.</summary>
    public static async Task<Dictionary<(int WorkspaceId, long Mpid), WarehousePerson>> PeopleAsync(NpgsqlConnection connection, string schema,
        IReadOnlyCollection<(int WorkspaceId, long Mpid)> people, CancellationToken ct)
    {
        var found = new Dictionary<(int, long), WarehousePerson>();
        if (people.Count == 0) return found;
        await using var command = new NpgsqlCommand(
            $"select p.workspace_id, p.mpid, p.identities::text, p.user_attributes::text, p.calculated_attributes::text from {Quote(schema)}.profiles p " +
            "join unnest($1::int[], $2::bigint[]) as k(w, m) on p.workspace_id = k.w and p.mpid = k.m", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = people.Select(p => p.WorkspaceId).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = people.Select(p => p.Mpid).ToArray() });
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var identities = new Dictionary<string, string>();
            foreach (var i in JsonNode.Parse(reader.GetString(2)) as JsonArray ?? [])
                if (i?["identity_type"]?.GetValue<string>() is { } type && i["identity"]?.GetValue<string>() is { } value) identities[type] = value;
            var attributes = new Dictionary<string, string>();
            // Re-serialised the way the decision writes them, so an unchanged value compares equal whatever jsonb made of its spacing.
            foreach (var column in new[] { 3, 4 })
                foreach (var (name, value) in JsonNode.Parse(reader.GetString(column)) as JsonObject ?? [])
                    attributes[name] = value?.ToJsonString() ?? "null";
            found[(reader.GetInt32(0), reader.GetInt64(1))] = new WarehousePerson(identities, attributes);
        }
        return found;
    }

    /// <summary>
    /// One micro-batch in one statement per table, all in one round trip: erasures first, then the multi-row upserts.
    /// History and event rows are keyed by batch (and event position), so writing the same deliveries again adds nothing.
    /// </summary>
    public static async Task WriteAsync(NpgsqlConnection connection, string schema, WarehouseRows rows, CancellationToken ct)
    {
        var s = Quote(schema);
        await using var batch = new NpgsqlBatch(connection);
        // Moves first, in the order they happened: an erasure later in the micro-batch then finds the rows where they are now.
        foreach (var move in rows.Moves)
            foreach (var table in new[] { "events", "identity_updates", "attribute_updates" })
                Add(batch, $"update {s}.{table} set mpid = $3 where workspace_id = $1 and mpid = $2 and batch_id = any($4)",
                    move.WorkspaceId, move.From, move.To, move.BatchIds.ToArray());
        if (rows.Erased.Count > 0)
            foreach (var table in new[] { "profiles", "identity_updates", "attribute_updates", "events", "audience_memberships", "audience_membership_changes", "identity_changes" })
                Add(batch, $"delete from {s}.{table} t using unnest($1::int[], $2::bigint[]) as k(w, m) where t.workspace_id = k.w and t.mpid = k.m",
                    rows.Erased.Select(e => e.WorkspaceId).ToArray(), rows.Erased.Select(e => e.Mpid).ToArray());
        // A person refreshed by an identity change: their row is replaced, not merged with the old one (its first and last seen included).
        if (rows.Replaced.Count > 0)
            Add(batch, $"delete from {s}.profiles t using unnest($1::int[], $2::bigint[]) as k(w, m) where t.workspace_id = k.w and t.mpid = k.m",
                rows.Replaced.Select(e => e.WorkspaceId).ToArray(), rows.Replaced.Select(e => e.Mpid).ToArray());
        if (rows.IdentityChanges.Count > 0)
        {
            var c = rows.IdentityChanges;
            Add(batch,
                $"insert into {s}.identity_changes (change_id, workspace_id, mpid, other_mpid, change, gave, batch_ids, identities, reason, changed_by, at) " +
                "select i, w, m, o, c, g, b::jsonb, ids::jsonb, r, cb, t from unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[], $5::text[], $6::boolean[], $7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[]) " +
                "as u(i, w, m, o, c, g, b, ids, r, cb, t) on conflict do nothing",
                c.Select(r => r.ChangeId).ToArray(), c.Select(r => r.WorkspaceId).ToArray(), c.Select(r => r.Mpid).ToArray(), c.Select(r => r.OtherMpid).ToArray(),
                c.Select(r => r.Change).ToArray(), c.Select(r => r.Gave).ToArray(), c.Select(r => r.BatchIds).ToArray(), c.Select(r => r.Identities).ToArray(),
                Texts(c.Select(r => r.Reason)), Texts(c.Select(r => r.By)), Times(c.Select(r => (DateTimeOffset?)r.At)));
        }
        if (rows.Profiles.Count > 0)
        {
            var p = rows.Profiles;
            Add(batch,
                $"insert into {s}.profiles as p (workspace_id, mpid, identities, user_attributes, calculated_attributes, audience_memberships, consent_state, first_seen_at, last_seen_at, updated_at) " +
                "select w, m, i::jsonb, a::jsonb, c::jsonb, am::jsonb, cs::jsonb, f, l, u from unnest($1::int[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[]) as r(w, m, i, a, c, am, cs, f, l, u) " +
                "on conflict (workspace_id, mpid) do update set identities = excluded.identities, user_attributes = excluded.user_attributes, " +
                "calculated_attributes = excluded.calculated_attributes, audience_memberships = excluded.audience_memberships, consent_state = excluded.consent_state, " +
                "first_seen_at = least(p.first_seen_at, excluded.first_seen_at), last_seen_at = greatest(p.last_seen_at, excluded.last_seen_at), " +
                "updated_at = greatest(p.updated_at, excluded.updated_at), synced_at = now()",
                p.Select(r => r.WorkspaceId).ToArray(), p.Select(r => r.Mpid).ToArray(), p.Select(r => r.Identities).ToArray(), p.Select(r => r.Attributes).ToArray(),
                p.Select(r => r.Calculated).ToArray(), p.Select(r => r.Memberships).ToArray(), p.Select(r => r.Consent).ToArray(),
                Times(p.Select(r => r.FirstSeenAt)), Times(p.Select(r => r.LastSeenAt)), Times(p.Select(r => (DateTimeOffset?)r.UpdatedAt)));
        }
        if (rows.IdentityUpdates.Count > 0)
        {
            var u = rows.IdentityUpdates;
            Add(batch,
                $"insert into {s}.identity_updates (batch_id, workspace_id, mpid, identity_type, identity, at) " +
                "select * from unnest($1::uuid[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::timestamptz[]) on conflict do nothing",
                u.Select(r => r.BatchId).ToArray(), u.Select(r => r.WorkspaceId).ToArray(), u.Select(r => r.Mpid).ToArray(), u.Select(r => r.IdentityType).ToArray(),
                u.Select(r => r.Value).ToArray(), Times(u.Select(r => (DateTimeOffset?)r.At)));
        }
        if (rows.AttributeUpdates.Count > 0)
        {
            var u = rows.AttributeUpdates;
            Add(batch,
                $"insert into {s}.attribute_updates (batch_id, workspace_id, mpid, name, value, calculated, at) " +
                "select b, w, m, n, v::jsonb, c, t from unnest($1::uuid[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::boolean[], $7::timestamptz[]) as r(b, w, m, n, v, c, t) " +
                "on conflict do nothing",
                u.Select(r => r.BatchId).ToArray(), u.Select(r => r.WorkspaceId).ToArray(), u.Select(r => r.Mpid).ToArray(), u.Select(r => r.Name).ToArray(),
                u.Select(r => r.Value).ToArray(), u.Select(r => r.Calculated).ToArray(), Times(u.Select(r => (DateTimeOffset?)r.At)));
        }
        if (rows.Events.Count > 0)
        {
            var e = rows.Events;
            Add(batch,
                $"insert into {s}.events (batch_id, event_index, workspace_id, mpid, input, environment, event_type, event_name, event_timestamp, data, batch, is_replay) " +
                "select b, i, w, m, inp, env, et, en, ts, d::jsonb, c::jsonb, r from unnest($1::uuid[], $2::int[], $3::int[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::text[], $11::text[], $12::boolean[]) " +
                "as u(b, i, w, m, inp, env, et, en, ts, d, c, r) on conflict do nothing",
                e.Select(r => r.BatchId).ToArray(), e.Select(r => r.Index).ToArray(), e.Select(r => r.WorkspaceId).ToArray(), e.Select(r => r.Mpid).ToArray(),
                e.Select(r => r.Input).ToArray(), e.Select(r => r.Environment).ToArray(), e.Select(r => r.EventType).ToArray(), e.Select(r => r.EventName).ToArray(),
                Times(e.Select(r => r.Timestamp)), e.Select(r => r.Data).ToArray(), e.Select(r => r.Context).ToArray(), e.Select(r => r.IsReplay).ToArray());
        }
        if (rows.MembershipChanges.Count > 0)
        {
            var c = rows.MembershipChanges;
            Add(batch,
                $"insert into {s}.audience_membership_changes (change_id, audience_id, workspace_id, mpid, audience_name, action, at) " +
                "select * from unnest($1::uuid[], $2::int[], $3::int[], $4::bigint[], $5::text[], $6::text[], $7::timestamptz[]) on conflict do nothing",
                c.Select(r => r.ChangeId).ToArray(), c.Select(r => r.AudienceId).ToArray(), c.Select(r => r.WorkspaceId).ToArray(), c.Select(r => r.Mpid).ToArray(),
                c.Select(r => r.AudienceName).ToArray(), c.Select(r => r.Added ? "add" : "delete").ToArray(), Times(c.Select(r => (DateTimeOffset?)r.At)));
            var current = rows.CurrentMemberships.ToList();
            var added = current.Where(m => m.Added).ToList();
            var removed = current.Where(m => !m.Added).ToList();
            if (added.Count > 0)
                Add(batch,
                    $"insert into {s}.audience_memberships (workspace_id, audience_id, mpid, audience_name, since) " +
                    "select * from unnest($1::int[], $2::int[], $3::bigint[], $4::text[], $5::timestamptz[]) " +
                    "on conflict (workspace_id, audience_id, mpid) do update set audience_name = excluded.audience_name",
                    added.Select(r => r.WorkspaceId).ToArray(), added.Select(r => r.AudienceId).ToArray(), added.Select(r => r.Mpid).ToArray(),
                    added.Select(r => r.AudienceName).ToArray(), Times(added.Select(r => (DateTimeOffset?)r.At)));
            if (removed.Count > 0)
                Add(batch,
                    $"delete from {s}.audience_memberships t using unnest($1::int[], $2::int[], $3::bigint[]) as k(w, a, m) " +
                    "where t.workspace_id = k.w and t.audience_id = k.a and t.mpid = k.m",
                    removed.Select(r => r.WorkspaceId).ToArray(), removed.Select(r => r.AudienceId).ToArray(), removed.Select(r => r.Mpid).ToArray());
        }
        if (batch.BatchCommands.Count > 0) await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Takes the right to flush an output: its row, locked until the transaction ends, or null when another node holds it.
    /// Also says how long until the interval since its last flush has passed (zero when due), and whether an envelope
    /// is already scheduled for then.
    /// </summary>
    public static async Task<(TimeSpan Wait, bool Scheduled)?> TryLockFlushAsync(NpgsqlConnection connection, string schema, string outputId, TimeSpan interval,
        CancellationToken ct)
    {
        // The row first, and the insert only for an output that has none yet: an "insert … on conflict do nothing" every
        // time waited behind each transaction that had updated the row (a flush finishing, a flush being scheduled), and
        // that was a quarter to a third of the database's time with a warehouse or files output under load.
        if (await LockFlushRowAsync(connection, schema, outputId, interval, ct) is { } locked) return locked;
        await using (var exists = new NpgsqlCommand($"select exists (select 1 from {schema}.{FlushesTable} where output_id = $1)", connection))
        {
            exists.Parameters.Add(new NpgsqlParameter { Value = outputId });
            if ((bool)(await exists.ExecuteScalarAsync(ct))!) return null; // held by another handler
        }
        await using (var insert = new NpgsqlCommand($"insert into {schema}.{FlushesTable} (output_id) values ($1) on conflict do nothing", connection))
        {
            insert.Parameters.Add(new NpgsqlParameter { Value = outputId });
            await insert.ExecuteNonQueryAsync(ct);
        }
        return await LockFlushRowAsync(connection, schema, outputId, interval, ct);
    }

    private static async Task<(TimeSpan Wait, bool Scheduled)?> LockFlushRowAsync(NpgsqlConnection connection, string schema, string outputId, TimeSpan interval,
        CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(
            "select greatest(extract(epoch from (flushed_at + $2 - now())), 0)::float8, coalesce(scheduled_for >= flushed_at + $2, false) " +
            $"from {schema}.{FlushesTable} where output_id = $1 for update skip locked", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = outputId });
        command.Parameters.Add(new NpgsqlParameter { Value = interval, NpgsqlDbType = NpgsqlDbType.Interval });
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? (TimeSpan.FromSeconds(reader.GetDouble(0)), reader.GetBoolean(1)) : null;
    }

    /// <summary>
    /// Whether, as last committed, a flush of the output is scheduled for a time still to come. Then no flush can be
    /// running (it is not due yet), and the scheduled one will take every delivery waiting by then.
    /// </summary>
    public static async Task<bool> FlushScheduledLaterAsync(NpgsqlConnection connection, string schema, string outputId, TimeSpan interval, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(
            $"select coalesce(scheduled_for >= flushed_at + $2 and scheduled_for > now(), false) from {schema}.{FlushesTable} where output_id = $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = outputId });
        command.Parameters.Add(new NpgsqlParameter { Value = interval, NpgsqlDbType = NpgsqlDbType.Interval });
        return await command.ExecuteScalarAsync(ct) is true;
    }

    /// <summary>In the handler's transaction, with the envelope it schedules: the output's next flush is taken care of.</summary>
    public static void MarkFlushScheduled(this IDocumentSession session, string outputId, TimeSpan interval) =>
        session.QueueSqlCommand($"update {session.DocumentStore.Options.DatabaseSchemaName}.{FlushesTable} set scheduled_for = flushed_at + ?::interval where output_id = ?",
            interval, outputId);

    /// <summary>The output's waiting deliveries (every group's), oldest first, locked for this flush.</summary>
    public static async Task<List<WarehouseDelivery>> ClaimAsync(NpgsqlConnection connection, string schema, string outputId, int limit, List<Guid> workIds,
        CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(
            "select work_id, delivery_id, batch_id, mpid, workspace_id, input, environment, payload " +
            $"from {schema}.{ForwardingStorage.DeliveriesTable} where output_id = $1 and group_id is not null " +
            $"order by created_at, group_id, position limit {limit} for update skip locked", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = outputId });
        var claimed = new List<WarehouseDelivery>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            workIds.Add(reader.GetGuid(0));
            claimed.Add(new WarehouseDelivery(reader.GetGuid(1), reader.GetGuid(2), reader.GetInt64(3), reader.GetInt32(4), reader.GetString(5), reader.GetString(6), reader.GetString(7)));
        }
        return claimed;
    }

    public static async Task FinishFlushAsync(NpgsqlConnection connection, string schema, string outputId, Guid[] workIds, CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(connection);
        Add(batch, $"delete from {schema}.{ForwardingStorage.DeliveriesTable} where work_id = any($1)", workIds);
        Add(batch, $"update {schema}.{FlushesTable} set flushed_at = now() where output_id = $1", outputId);
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>A schema name is checked at creation (<see cref="OutputBody"/>); quoted all the same.</summary>
    public static string Quote(string schema) => "\"" + schema.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static DateTime?[] Times(IEnumerable<DateTimeOffset?> times) => times.Select(t => t?.UtcDateTime).ToArray();

    private static NpgsqlParameter Texts(IEnumerable<string?> texts) =>
        new() { Value = texts.ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text };

    private static void Add(NpgsqlBatch batch, string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values) command.Parameters.Add(value as NpgsqlParameter ?? new NpgsqlParameter { Value = value });
        batch.BatchCommands.Add(command);
    }

    private static async Task Execute(NpgsqlConnection connection, string sql, CancellationToken ct, params object[] values)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value });
        await command.ExecuteNonQueryAsync(ct);
    }
}
