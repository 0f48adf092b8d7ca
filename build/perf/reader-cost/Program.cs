// The request side of POST /v2/events in-process, per batch: the body check (JsonBodyCheck), the reader (BatchReader)
// and the validation (IngestSteps.Validate with the Host's BatchValidator), on batches shaped as build/perf/ingest.lua
// sends them (5 events, 5 user attributes, 5 custom attributes per event). Allocations are counted exactly
// (GC.GetAllocatedBytesForCurrentThread), so they do not depend on how busy the machine is; CPU time is indicative.
using System.Diagnostics;
using System.Text;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Ingestion;

if (args is ["errors", var corpus])
{
    // Each line a body ("H " first: historical): the errors the Events API answers with, to compare builds.
    var v = new BatchValidator();
    foreach (var line in File.ReadAllLines(corpus))
    {
        var historical = line.StartsWith("H ");
        var read = BatchReader.Parse(Encoding.UTF8.GetBytes(historical ? line[2..] : line), historical ? BodyShape.Bulk : BodyShape.Single, truncate: true)
            with { ReceivedAt = new DateTimeOffset(2026, 12, 5, 0, 0, 0, TimeSpan.Zero) };
        var problem = IngestSteps.Validate(read, v, historical);
        Console.WriteLine(line.Length > 100 ? line[..100] : line);
        Console.WriteLine("  -> " + System.Text.Json.JsonSerializer.Serialize(problem.Extensions.TryGetValue("errors", out var e) ? e : problem.Status)
            + (read.Rejected.Count > 0 ? " rejected: " + System.Text.Json.JsonSerializer.Serialize(read.Rejected) : ""));
    }
    return;
}
var iterations = args.Length > 0 ? int.Parse(args[0]) : 20_000;
var random = new Random(42);
var bodies = Enumerable.Range(0, 256).Select(_ => Encoding.UTF8.GetBytes(Body(random))).ToArray();
var validator = new BatchValidator();
var sink = 0;

void Check(byte[] body) { if (JsonBodyCheck.Find(body) is not null) throw new InvalidOperationException("check"); }
IngestRequest Read(byte[] body) => BatchReader.Parse(body, BodyShape.Single, truncate: true);
void Validate(IngestRequest request)
{
    if (IngestSteps.Validate(request, validator, historical: false) is { Status: not null } problem) throw new InvalidOperationException("invalid: " + problem.Detail);
}

var parsed = bodies.Select(Read).ToArray();
Measure("body check (JsonBodyCheck)", i => Check(bodies[i & 255]));
Measure("read (BatchReader.Parse)", i => sink += Read(bodies[i & 255]).Batches.Count);
Measure("validate (IngestSteps.Validate)", i => Validate(parsed[i & 255]));
if (Environment.GetEnvironmentVariable("DETAIL") == "1")
{
    var plain = new System.Text.Json.JsonSerializerOptions();
    Measure("  JsonDocument.Parse", i => sink += System.Text.Json.JsonDocument.Parse(bodies[i & 255].AsMemory()).RootElement.GetArrayLengthOrZero());
    Measure("  Deserialize<Batch> (plain)", i => sink += System.Text.Json.JsonSerializer.Deserialize<EventProfiles.Domain.Ingestion.Batch>(bodies[i & 255], plain)!.Events!.Count);
}
// The body middleware as the Host runs it on /v2/events (limit, then the JSON check), over a fresh request each time;
// the request itself (DefaultHttpContext, headers, a stream over the bytes) is measured alone and taken off.
var middleware = new RequestBodyMiddleware(new BodyLimits(BodyLimits.DefaultMaxUploadBytes));
Microsoft.AspNetCore.Http.DefaultHttpContext Request(byte[] body)
{
    var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
    context.Request.Method = "POST";
    context.Request.Path = "/v2/events";
    context.Request.ContentType = "application/json";
    context.Request.ContentLength = body.Length;
    context.Request.Body = new MemoryStream(body, writable: false);
    return context;
}
var requestAlone = Measure("  (the request alone)", i => sink += Request(bodies[i & 255]).Request.Body.CanRead ? 1 : 0);
var withMiddleware = Measure("  (the request + middleware)", i =>
{
    var context = Request(bodies[i & 255]);
    middleware.LimitAsync(context, () => middleware.CheckJsonAsync(context, () => Task.CompletedTask)).GetAwaiter().GetResult();
    if (context.Response.StatusCode != 200) throw new InvalidOperationException("middleware refused the body");
});
Console.WriteLine($"{"body middleware (RequestBodyMiddleware)",-34} {(withMiddleware - requestAlone) / 1024,8:F2} KB/batch");
Measure("all three", i => { var b = bodies[i & 255]; Check(b); Validate(Read(b)); });
GC.KeepAlive(sink);

double Measure(string label, Action<int> step)
{
    for (var i = 0; i < 2_000; i++) step(i); // JIT tiers, caches
    GC.Collect();
    var before = GC.GetAllocatedBytesForCurrentThread();
    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
    for (var i = 0; i < iterations; i++) step(i);
    var spent = Process.GetCurrentProcess().TotalProcessorTime - cpu;
    var bytes = GC.GetAllocatedBytesForCurrentThread() - before;
    Console.WriteLine($"{label,-34} {bytes / (double)iterations / 1024,8:F2} KB/batch {spent.TotalMicroseconds / iterations,8:F1} µs CPU/batch");
    return bytes / (double)iterations;
}

static string Body(Random r)
{
    string[][] kinds = [["Viewed Product", "navigation", "shoes"], ["Added to Cart", "transaction", "outerwear"], ["Search", "search", "accessories"],
        ["Checkout Started", "transaction", "kitchen"], ["Played Video", "media", "books"]];
    string[] plans = ["free", "silver", "gold"], cities = ["Lisbon", "Berlin", "Austin", "Osaka", "Lagos"];
    var u = r.Next(1, 100_000);
    var now = 1_796_000_000_000L;
    var events = string.Join(",", Enumerable.Range(0, 5).Select(_ =>
    {
        var k = kinds[r.Next(kinds.Length)];
        return $$$"""{"event_type":"custom_event","data":{"event_name":"{{{k[0]}}}","custom_event_type":"{{{k[1]}}}","source_message_id":"{{{Guid.NewGuid()}}}","timestamp_unixtime_ms":{{{now - r.Next(60_000)}}},"custom_attributes":{"sku":"SKU-{{{r.Next(99_999):D5}}}","category":"{{{k[2]}}}","price":"{{{r.Next(1, 300)}}}.99","currency":"USD","page":"/products/{{{k[2]}}}/item-{{{r.Next(1, 5000)}}}"}}""" + "}";
    }));
    return $$$"""{"environment":"development","source_request_id":"{{{Guid.NewGuid()}}}","user_identities":{"customer_id":"c{{{u}}}","email":"u{{{u}}}@example.com"},"user_attributes":{"plan":"{{{plans[u % 3]}}}","$firstname":"Ana","$city":"{{{cities[u % 5]}}}","interests":["ski","jazz"],"ltv":"{{{u % 5000}}}.50"},"events":[{{{events}}}]}""";
}

static class Extensions
{
    public static int GetArrayLengthOrZero(this System.Text.Json.JsonElement e) => e.ValueKind == System.Text.Json.JsonValueKind.Array ? e.GetArrayLength() : 1;
}
