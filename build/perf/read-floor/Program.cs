// The floor of a Profile API read on this machine (build/perf/read-cost.sh, FLOOR=json|sql): a bare Kestrel app with
// nothing of ours in the way. GET /json/{id} answers a fixed 300-byte JSON body; GET /sql/{id} runs one prepared
// `SELECT data FROM <profiles> WHERE id = $1` through Npgsql (the read pool's settings: multiplexing, auto-prepare,
// no reset on close) and writes the stored jsonb through. No authentication, no middleware, no logging per request.
using System.Text;
using Npgsql;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();

var fixedBody = Encoding.UTF8.GetBytes("{\"mpid\":1234567890123456789,\"user_identities\":[{\"type\":\"customer_id\",\"value\":\"cust-0000001\"},{\"type\":\"email\",\"value\":\"user0000001@example.org\"}],\"user_attributes\":{\"plan\":\"pro\",\"city\":\"Lisbon\",\"age\":\"42\"},\"audience_memberships\":[],\"padding\":\"" + new string('x', 56) + "\"}");
var table = Environment.GetEnvironmentVariable("FLOOR_TABLE") ?? "eventprofiles_hot.mt_doc_profile";
var settings = new NpgsqlConnectionStringBuilder(Environment.GetEnvironmentVariable("FLOOR_CONNECTION") ?? "Host=127.0.0.1")
    { NoResetOnClose = true, MaxAutoPrepare = 8, AutoPrepareMinUsages = 2, Multiplexing = true, MaxPoolSize = 32 };
await using var dataSource = NpgsqlDataSource.Create(settings.ConnectionString);
var sql = $"select data from {table} where id = $1";

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
Console.WriteLine($"floor: {fixedBody.Length}-byte JSON at /json/{{id}}, {sql} at /sql/{{id}}");
app.Run();
