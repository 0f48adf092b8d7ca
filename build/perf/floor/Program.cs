// The floors of our two hot paths on this machine: a bare Kestrel app with nothing of ours in the way (no
// authentication, no middleware, no logging per request), built and started by build/perf/read-cost.sh (FLOOR=json|sql)
// and build/perf/host-cost.sh (FLOOR=ingest).
// - GET /json/{id}: a fixed 300-byte JSON body.
// - GET /sql/{id}: one prepared `SELECT data FROM <profiles> WHERE id = $1` through Npgsql (the read pool's settings:
//   multiplexing, auto-prepare, no reset on close), the stored jsonb written through.
// - POST /v2/events: the SDK's batch parsed (System.Text.Json), then the raw limit's per-batch transaction (pg-limit.sh's
//   ingest: bump the stream's version, insert the batch's events as jsonb, merge the user attributes into the profile
//   row) as one Npgsql batch, one round trip, committed before the 202. Tables floor_streams/floor_events/floor_profile
//   are created at start in FLOOR_SCHEMA (default public).
// - FLOOR=design: POST /v2/events stores what the DESIGN requires per batch, in OUR tables (DESIGN_SCHEMA, default
//   eventprofiles, made by the Host before), in one statement, one round trip, committed before the 202: the batch's
//   identities looked up in ep_identity_index (and, for a new person, their advisory xact locks and index rows), the
//   stream's mt_streams row inserted or its version bumped, the events as mt_events rows with Marten's columns, the profile
//   document upserted with its last_stored_at column, the request's and the events' dedupe rows (and their look-ups).
//   The rows' jsonb and type names are copied from the newest rows the Host stored, so sizes match ours. DESIGN_OMIT
//   (comma-separated: identity, dedupe, profile, events) leaves parts out, to weigh each; DESIGN_DROP (fk,
//   events-unique, profile-indexes) drops those constraints and indexes of our tables and puts back the others (ablation
//   only: run it on host-cost.sh's throwaway cluster).
// - FLOOR=design-group: the same statements, committed in groups of what concurrent requests queued (as our writers do).
using System.Text;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();

var fixedBody = Encoding.UTF8.GetBytes("{\"mpid\":1234567890123456789,\"user_identities\":[{\"type\":\"customer_id\",\"value\":\"cust-0000001\"},{\"type\":\"email\",\"value\":\"user0000001@example.org\"}],\"user_attributes\":{\"plan\":\"pro\",\"city\":\"Lisbon\",\"age\":\"42\"},\"audience_memberships\":[],\"padding\":\"" + new string('x', 56) + "\"}");
var accepted = Encoding.UTF8.GetBytes("{}");
var table = Environment.GetEnvironmentVariable("FLOOR_TABLE") ?? "eventprofiles_hot.mt_doc_profile";
var schema = Environment.GetEnvironmentVariable("FLOOR_SCHEMA") ?? "public";
var settings = new NpgsqlConnectionStringBuilder(Environment.GetEnvironmentVariable("FLOOR_CONNECTION") ?? "Host=127.0.0.1")
    { NoResetOnClose = true, MaxAutoPrepare = 8, AutoPrepareMinUsages = 2, Multiplexing = true, MaxPoolSize = 32 };
await using var dataSource = NpgsqlDataSource.Create(settings.ConnectionString);
var sql = $"select data from {table} where id = $1";

// pg-limit.sh's ingest tables, keyed by the customer id the SDK sent.
await using (var create = dataSource.CreateCommand($"""
    create table if not exists {schema}.floor_streams (id text primary key, version int not null, "timestamp" timestamptz not null default now());
    create table if not exists {schema}.floor_events (seq bigserial primary key, stream_id text not null, version int not null,
        type text not null, data jsonb not null, "timestamp" timestamptz not null default now());
    create index if not exists floor_events_stream_version on {schema}.floor_events (stream_id, version);
    create table if not exists {schema}.floor_profile (id text primary key, data jsonb not null, last_seen timestamptz);
    """))
    await create.ExecuteNonQueryAsync();
var appendSql = $"""
    with s as (insert into {schema}.floor_streams as s (id, version) values ($1, $2) on conflict (id)
               do update set version = s.version + excluded.version, "timestamp" = now() returning version)
    insert into {schema}.floor_events (stream_id, version, type, data)
    select $1, s.version - $2 + e.o::int, e.t, e.d from s, unnest($3::text[], $4::jsonb[]) with ordinality e(t, d, o)
    """;
var profileSql = $"""
    insert into {schema}.floor_profile (id, data, last_seen) values ($1, $2::jsonb, now())
    on conflict (id) do update set data = floor_profile.data || excluded.data, last_seen = excluded.last_seen
    """;

app.MapGet("/json/{id}", (HttpContext context) =>
{
    context.Response.ContentType = "application/json";
    context.Response.ContentLength = fixedBody.Length;
    return context.Response.Body.WriteAsync(fixedBody).AsTask();
});
app.MapGet("/sql/{id}", async (string id, HttpContext context) =>
{
    await using var command = dataSource.CreateCommand(sql);
    command.Parameters.Add(new NpgsqlParameter { Value = id });
    await using var reader = await command.ExecuteReaderAsync(context.RequestAborted);
    if (!await reader.ReadAsync(context.RequestAborted)) { context.Response.StatusCode = 404; return; }
    var body = Encoding.UTF8.GetBytes(reader.GetString(0));
    context.Response.ContentType = "application/json";
    context.Response.ContentLength = body.Length;
    await context.Response.Body.WriteAsync(body, context.RequestAborted);
});
if (Environment.GetEnvironmentVariable("FLOOR") is not ("design" or "design-group")) app.MapPost("/v2/events", async (HttpContext context) =>
{
    using var buffer = new MemoryStream(context.Request.ContentLength is { } length ? (int)length : 4096);
    await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
    using var batch = JsonDocument.Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
    var root = batch.RootElement;
    var customer = root.GetProperty("user_identities").GetProperty("customer_id").GetString()!;
    var events = root.GetProperty("events");
    var types = new string[events.GetArrayLength()];
    var data = new string[types.Length];
    var i = 0;
    foreach (var e in events.EnumerateArray())
    {
        types[i] = e.GetProperty("event_type").GetString()!;
        data[i++] = e.GetProperty("data").GetRawText();
    }
    var profile = root.TryGetProperty("user_attributes", out var attributes) ? attributes.GetRawText() : "{}";

    await using var write = dataSource.CreateBatch();
    var append = new NpgsqlBatchCommand(appendSql);
    append.Parameters.Add(new NpgsqlParameter<string> { TypedValue = customer });
    append.Parameters.Add(new NpgsqlParameter<int> { TypedValue = types.Length });
    append.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = types });
    append.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = data, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
    write.BatchCommands.Add(append);
    var upsert = new NpgsqlBatchCommand(profileSql);
    upsert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = customer });
    upsert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = profile, NpgsqlDbType = NpgsqlDbType.Jsonb });
    write.BatchCommands.Add(upsert);
    // A batch without an explicit transaction runs as one implicit transaction: committed when this returns.
    await write.ExecuteNonQueryAsync(context.RequestAborted);

    context.Response.StatusCode = 202;
    context.Response.ContentType = "application/json";
    context.Response.ContentLength = accepted.Length;
    await context.Response.Body.WriteAsync(accepted, context.RequestAborted);
});
if (Environment.GetEnvironmentVariable("FLOOR") is "design" or "design-group") await DesignFloor.MapAsync(app, dataSource);
Console.WriteLine($"floor: {fixedBody.Length}-byte JSON at /json/{{id}}, {sql} at /sql/{{id}}, the raw ingest transaction at /v2/events");
app.Run();
