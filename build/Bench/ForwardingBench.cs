// Forwarding throughput for build/bench: a webhook receiver on 127.0.0.1 (HttpListener), an output and a connection
// made through the admin API, then N realistic batches sent to the connected input; measures how fast the enriched
// batches reach the receiver, and checks every one arrives exactly once.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

static class ForwardingBench
{
    public static async Task<int> RunAsync()
    {
        if (Environment.GetEnvironmentVariable("BENCH_RABBITMQ_URI") is { Length: > 0 } rabbitUri) return await RunRabbitMqAsync(rabbitUri);
        var url = Env("BENCH_URL", "http://127.0.0.1:8080/");
        var batches = Int("BENCH_FORWARD_BATCHES", 20_000);
        var clients = Int("BENCH_CLIENTS", 32);
        var bulk = Int("BENCH_BULK", 20);
        var runId = Guid.NewGuid().ToString("N")[..8];

        // ---- the receiver
        var port = FreePort();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/hook/");
        listener.Start();
        var deliveries = new ConcurrentDictionary<string, long>();
        var duplicates = 0;
        long lastDelivery = 0;
        var receiving = Task.Run(async () =>
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try { context = await listener.GetContextAsync(); } catch { return; }
                _ = Task.Run(async () =>
                {
                    using (var reader = new StreamReader(context.Request.InputStream)) await reader.ReadToEndAsync();
                    var id = context.Request.Headers["X-EventProfiles-Delivery-Id"] ?? Guid.NewGuid().ToString();
                    if (!deliveries.TryAdd(id, Stopwatch.GetTimestamp())) Interlocked.Increment(ref duplicates);
                    Interlocked.Exchange(ref lastDelivery, Stopwatch.GetTimestamp());
                    context.Response.StatusCode = 200;
                    context.Response.Close();
                });
            }
        });

        // ---- the output and its connection
        using var admin = new HttpClient { BaseAddress = new Uri(url) };
        admin.DefaultRequestHeaders.Authorization = Basic(Env("BENCH_ADMIN", "admin:admin-password"));
        if (await ConnectOutputAsync(admin, new { name = "bench receiver", kind = "webhook", webhook = new { url = $"http://127.0.0.1:{port}/hook/" } }) is not { } outputId) return 3;

        // ---- send
        var started = Stopwatch.GetTimestamp();
        var accepted = await SendBatchesAsync(url, 20_000_000, batches, clients, bulk, runId); // fresh users, apart from the main run's
        var ingested = Stopwatch.GetElapsedTime(started).TotalSeconds;

        // ---- wait for the deliveries (at most 10 minutes)
        var deadline = Stopwatch.GetTimestamp() + 600 * Stopwatch.Frequency;
        while (deliveries.Count < accepted && Stopwatch.GetTimestamp() < deadline) await Task.Delay(100);
        var delivered = deliveries.Count;
        var seconds = (Interlocked.Read(ref lastDelivery) - started) / (double)Stopwatch.Frequency;
        listener.Stop();
        using (await admin.DeleteAsync($"api/admin/outputs/{outputId}")) { }

        Console.WriteLine($"forwarding: {accepted:N0} batches accepted in {ingested:F1} s ({accepted / ingested:N0} batches/s with forwarding on)");
        Console.WriteLine($"forwarding: {delivered:N0} delivered to a local webhook in {seconds:F1} s from the first send: {delivered / seconds:N0} batches/s; " +
                          $"missing {accepted - delivered}, duplicates {duplicates}");
        if (Environment.GetEnvironmentVariable("BENCH_RESULT_FILE") is { Length: > 0 } file)
            File.AppendAllText(file, FormattableString.Invariant(
                $"fwd_accepted={accepted}\nfwd_delivered={delivered}\nfwd_seconds={seconds:F1}\nfwd_delivered_per_s={delivered / seconds:F0}\nfwd_ingest_per_s={accepted / ingested:F0}\nfwd_duplicates={duplicates}\n"));
        return delivered == accepted && duplicates == 0 ? 0 : 2;
    }

    /// <summary>
    /// The same load with a rabbitmq output instead: published to the broker's built-in <c>amq.topic</c> exchange with no
    /// queue bound (the broker confirms and drops them), so what is measured is EventProfiles' side: deliveries confirmed
    /// by the broker per second, read from the output's <c>delivered</c> counter (written every half second).
    /// </summary>
    private static async Task<int> RunRabbitMqAsync(string rabbitUri)
    {
        var url = Env("BENCH_URL", "http://127.0.0.1:8080/");
        var batches = Int("BENCH_FORWARD_BATCHES", 20_000);
        var clients = Int("BENCH_CLIENTS", 32);
        var bulk = Int("BENCH_BULK", 20);
        var runId = Guid.NewGuid().ToString("N")[..8];
        using var admin = new HttpClient { BaseAddress = new Uri(url) };
        admin.DefaultRequestHeaders.Authorization = Basic(Env("BENCH_ADMIN", "admin:admin-password"));
        if (await ConnectOutputAsync(admin, new
            {
                name = "bench broker", kind = "rabbitmq", rabbitmq = new { uri = rabbitUri, exchange = "amq.topic", routing_key = "{workspace}.{input}.{event_type}" },
            }) is not { } outputId) return 3;

        var started = Stopwatch.GetTimestamp();
        var accepted = await SendBatchesAsync(url, 30_000_000, batches, clients, bulk, runId); // fresh users, apart from the other runs'
        var ingested = Stopwatch.GetElapsedTime(started).TotalSeconds;

        // Poll the counters until every accepted batch is confirmed or failed (at most 10 minutes).
        long delivered = 0, failed = 0;
        var seconds = 0.0;
        var deadline = Stopwatch.GetTimestamp() + 600 * Stopwatch.Frequency;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var counters = (await admin.GetFromJsonAsync<JsonObject>($"api/admin/outputs/{outputId}"))!["counters"]!;
            (delivered, failed) = (counters["delivered"]!.GetValue<long>(), counters["failed"]!.GetValue<long>());
            seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            if (delivered + failed >= accepted) break;
            await Task.Delay(200);
        }
        using (await admin.DeleteAsync($"api/admin/outputs/{outputId}")) { }

        Console.WriteLine($"forwarding (rabbitmq): {accepted:N0} batches accepted in {ingested:F1} s ({accepted / ingested:N0} batches/s with a rabbitmq output on)");
        Console.WriteLine($"forwarding (rabbitmq): {delivered:N0} confirmed by the broker in {seconds:F1} s from the first send: {delivered / seconds:N0} batches/s; failed {failed}");
        if (Environment.GetEnvironmentVariable("BENCH_RESULT_FILE") is { Length: > 0 } file)
            File.AppendAllText(file, FormattableString.Invariant(
                $"rmq_accepted={accepted}\nrmq_delivered={delivered}\nrmq_seconds={seconds:F1}\nrmq_delivered_per_s={delivered / seconds:F0}\nrmq_ingest_per_s={accepted / ingested:F0}\nrmq_failed={failed}\n"));
        return delivered == accepted ? 0 : 2;
    }

    internal static AuthenticationHeaderValue Basic(string credentials) => new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));

    internal static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    internal static string Env(string name, string fallback) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : fallback;
    private static int Int(string name, int fallback) => int.Parse(Env(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

    /// <summary>Creates the output and connects the bench input to it; null (reason on stderr) when either is refused.</summary>
    private static async Task<string?> ConnectOutputAsync(HttpClient admin, object output)
    {
        using var created = await admin.PostAsJsonAsync("api/admin/outputs", output);
        if (created.StatusCode != HttpStatusCode.Created) { Console.Error.WriteLine($"output: {(int)created.StatusCode} {await created.Content.ReadAsStringAsync()}"); return null; }
        var outputId = (await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
        using var connected = await admin.PostAsJsonAsync("api/admin/connections", new { input = Env("BENCH_FORWARD_INPUT", "demo-server"), output_id = outputId });
        if (connected.StatusCode != HttpStatusCode.Created) { Console.Error.WriteLine($"connection: {(int)connected.StatusCode} {await connected.Content.ReadAsStringAsync()}"); return null; }
        return outputId;
    }

    /// <summary>One batch for each of <paramref name="batches"/> users from <paramref name="firstUser"/>, <paramref name="bulk"/> per request over <paramref name="clients"/> connections; returns the batches answered 202.</summary>
    private static async Task<int> SendBatchesAsync(string url, int firstUser, int batches, int clients, int bulk, string runId)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients }) { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(2) };
        http.DefaultRequestHeaders.Authorization = Basic(Env("BENCH_CREDENTIALS", "demo-key:demo-secret"));
        var users = Enumerable.Range(firstUser, batches).Select(u => (User: u, Round: 0)).ToList();
        var next = 0;
        var accepted = 0;
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            while (true)
            {
                var from = Interlocked.Add(ref next, bulk) - bulk;
                if (from >= users.Count) return;
                var slice = users.GetRange(from, Math.Min(bulk, users.Count - from));
                using var content = new ReadOnlyMemoryContent(Payload.Body(slice, runId, out _));
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using var response = await http.PostAsync("v2/bulkevents", content);
                if (response.StatusCode == HttpStatusCode.Accepted) Interlocked.Add(ref accepted, slice.Count);
            }
        })));
        return accepted;
    }
}
