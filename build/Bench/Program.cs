// Load generator for build/bench: posts realistic mParticle batches (the shape of
// /work/shared/fixtures/real-clients/node-sdk-single.json) to POST /v2/bulkevents with N concurrent clients,
// measures throughput and 202 latency, and samples the Host's RSS as the number of profiles grows.
// Configured by environment variables (see Config); results go to stdout and, as key=value lines, to a file
// that build/bench reads for its summary and durability check.
using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

if (Environment.GetEnvironmentVariable("BENCH_MODE") == "forward") return await ForwardingBench.RunAsync();
if (Environment.GetEnvironmentVariable("BENCH_MODE") == "dsr-probe") return await PrivacyBench.RunAsync();
if (Environment.GetEnvironmentVariable("BENCH_MODE") is { } caMode && caMode.StartsWith("ca-", StringComparison.Ordinal)) return await CalculatedAttributesBench.RunAsync(caMode);
if (Environment.GetEnvironmentVariable("BENCH_MODE") is { } audMode && audMode.StartsWith("aud-", StringComparison.Ordinal)) return await AudiencesBench.RunAsync(audMode);

var cfg = Config.FromEnvironment();
var runId = Guid.NewGuid().ToString("N")[..8]; // keeps request/message ids unique across reruns on one database

// ---- schedule: every user gets `Rounds` batches. Step s sends round r to user s - r*lag, so new users are
// created at a steady pace through the whole run (memory can be watched as users grow), and a user's next
// batch comes `lag` users later, far more batches than are ever in flight, so it never races its own create.
var lag = Math.Max(cfg.Users / 40, cfg.Clients * cfg.Bulk);
var schedule = new List<(int User, int Round)>(cfg.Users * cfg.Rounds);
for (var s = 0; s < cfg.Users + (cfg.Rounds - 1) * lag; s++)
    for (var r = 0; r < cfg.Rounds; r++)
        if (s - r * lag is var u && u >= 0 && u < cfg.Users) schedule.Add((cfg.FirstUser + u, r));

using var http = new HttpClient(new SocketsHttpHandler
{
    MaxConnectionsPerServer = cfg.Clients,
    PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
})
{
    BaseAddress = new Uri(cfg.Url),
    Timeout = TimeSpan.FromMinutes(2), // back-pressure can hold a request for a while; that shows in p99
};
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(cfg.Credentials)));

Console.WriteLine($"load: {cfg.Users:N0} users x {cfg.Rounds} batches = {schedule.Count:N0} batches, {cfg.Clients} clients, " +
                  $"{cfg.Bulk} batches per POST /v2/bulkevents, stop after {cfg.MaxSeconds} s at the latest");

// ---- warm-up (not timed): the first request pays for JIT and Wolverine's runtime code generation.
var warm = await PostAsync(http, Payload.Body([(-1, 0)], runId, out var warmEvents));
if (warm.Status != HttpStatusCode.Accepted) { Console.Error.WriteLine($"warm-up answered {(int)warm.Status}: {warm.Body}"); return 3; }

// ---- measured run
var stats = new Stats(cfg);
var cpu = CpuClock.Start(cfg.HostPid);
var started = Stopwatch.GetTimestamp();
var deadline = started + (long)(cfg.MaxSeconds * Stopwatch.Frequency);
var next = 0;
stats.SampleRss("start (0 users)");
using var progress = new CancellationTokenSource();
var monitor = Task.Run(() => stats.ReportEvery(TimeSpan.FromSeconds(15), started, progress.Token));

await Task.WhenAll(Enumerable.Range(0, cfg.Clients).Select(_ => Task.Run(async () =>
{
    while (Stopwatch.GetTimestamp() < deadline && !stats.HostGone)
    {
        var from = Interlocked.Add(ref next, cfg.Bulk) - cfg.Bulk;
        if (from >= schedule.Count) break;
        var slice = schedule.GetRange(from, Math.Min(cfg.Bulk, schedule.Count - from));
        var body = Payload.Body(slice, runId, out var events); // cheap: the generator's CPU share is printed at the end
        var t0 = Stopwatch.GetTimestamp();
        var answer = await PostAsync(http, body);
        stats.Record(answer, Stopwatch.GetElapsedTime(t0), slice, events);
    }
})));
var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
progress.Cancel();
await monitor;
var usage = cpu.Stop();
stats.SampleRss("end");

// ---- report
var lat = stats.Latencies();
var ok = stats.BatchesOk;
Console.WriteLine();
Console.WriteLine($"run: {elapsed:F1} s{(stats.HostGone ? " (STOPPED: the Host process is gone)" : next < schedule.Count ? $" (stopped by the {cfg.MaxSeconds} s limit before the schedule ended)" : "")}");
Console.WriteLine($"accepted (202): {stats.Requests202:N0} requests, {ok:N0} batches, {stats.EventsOk:N0} events, {stats.UsersCreated:N0} of {cfg.Users:N0} users created");
Console.WriteLine($"throughput: {ok / elapsed:N0} batches/s, {stats.EventsOk / elapsed:N0} events/s");
Console.WriteLine($"202 latency per request of {cfg.Bulk} batches: p50 {lat.P50:F1} ms, p99 {lat.P99:F1} ms, max {lat.Max:F1} ms");
Console.WriteLine($"not 202: {stats.Non202Summary()}");
Console.WriteLine($"host RSS: {string.Join(", ", stats.RssSamples.Select(x => $"{x.Label} {x.Mb:N0} MB"))}");
Console.WriteLine($"cpu (100% = the whole {Environment.ProcessorCount}-core box): busy {usage.Box:F0}%, generator {usage.Self:F0}%, host {usage.Host:F0}%, everything else (mostly PostgreSQL) {usage.Box - usage.Self - usage.Host:F0}%");

if (cfg.ResultFile is { Length: > 0 } file)
{
    var r = new StringBuilder();
    void Put(string key, FormattableString value) => r.Append(key).Append('=').Append(FormattableString.Invariant(value)).Append('\n');
    Put("gen_seconds", $"{elapsed:F1}");
    Put("gen_requests_ok", $"{stats.Requests202}");
    Put("gen_batches_ok", $"{ok}");
    Put("gen_events_ok", $"{stats.EventsOk}");
    Put("gen_users_created", $"{stats.UsersCreated}");
    Put("gen_batches_per_s", $"{ok / elapsed:F0}");
    Put("gen_events_per_s", $"{stats.EventsOk / elapsed:F0}");
    Put("gen_p50_ms", $"{lat.P50:F1}");
    Put("gen_p99_ms", $"{lat.P99:F1}");
    Put("gen_non202", $"{stats.Non202}");
    Put("gen_warmup_batches", $"1");
    Put("gen_warmup_events", $"{warmEvents}");
    Put("gen_cpu_box", $"{usage.Box:F0}");
    Put("gen_cpu_self", $"{usage.Self:F0}");
    Put("gen_cpu_host", $"{usage.Host:F0}");
    Put("gen_rss", $"\"{string.Join(", ", stats.RssSamples.Select(x => FormattableString.Invariant($"{x.Label} {x.Mb:F0} MB")))}\"");
    File.WriteAllText(file, r.ToString());
}
return stats.Non202 == 0 ? 0 : 2;

static async Task<Answer> PostAsync(HttpClient http, ReadOnlyMemory<byte> body)
{
    try
    {
        using var content = new ReadOnlyMemoryContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await http.PostAsync("v2/bulkevents", content);
        var text = response.StatusCode == HttpStatusCode.Accepted ? "" : await response.Content.ReadAsStringAsync();
        return new Answer(response.StatusCode, text);
    }
    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
    {
        return new Answer(0, ex.GetType().Name + ": " + ex.Message); // status 0 = no HTTP answer (timeout, refused)
    }
}

sealed record Answer(HttpStatusCode Status, string Body);

sealed record Config(string Url, string Credentials, int Users, int Rounds, int Clients, int Bulk, double MaxSeconds, int HostPid, string? ResultFile, int FirstUser)
{
    public static Config FromEnvironment() => new(
        Env("BENCH_URL", "http://127.0.0.1:8080/"),
        Env("BENCH_CREDENTIALS", "demo-key:demo-secret"),
        Int("BENCH_USERS", 100_000),
        Int("BENCH_BATCHES_PER_USER", 4),
        Int("BENCH_CLIENTS", 32),
        Int("BENCH_BULK", 20),
        Int("BENCH_MAX_SECONDS", 420),
        Int("BENCH_HOST_PID", 0),
        Environment.GetEnvironmentVariable("BENCH_RESULT_FILE"),
        Int("BENCH_FIRST_USER", 0)); // build/bench (h) grows the people in steps: users FirstUser .. FirstUser + Users - 1

    private static string Env(string name, string fallback) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : fallback;
    private static int Int(string name, int fallback) => int.Parse(Env(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
}

/// <summary>Counters shared by the clients, the 202 latencies, and the Host RSS samples.</summary>
sealed class Stats(Config cfg)
{
    private readonly Lock _lock = new();
    private readonly List<double> _latencyMs = new(capacity: 64 * 1024);
    private readonly ConcurrentDictionary<int, int> _non202 = new();
    private readonly List<(string Label, double Mb)> _rss = [];
    private int _nextMark; // next quarter of the users whose creation triggers an RSS sample
    private long _batches, _events, _requests, _users;
    private int _reported;

    public long BatchesOk => Interlocked.Read(ref _batches);
    public long EventsOk => Interlocked.Read(ref _events);
    public long Requests202 => Interlocked.Read(ref _requests);
    public long UsersCreated => Interlocked.Read(ref _users);
    public int Non202 => _non202.Values.Sum();
    /// <summary>The Host process has exited: no point in sending the rest.</summary>
    public bool HostGone { get; private set; }
    public IReadOnlyList<(string Label, double Mb)> RssSamples { get { lock (_lock) return _rss.ToList(); } }

    public void Record(Answer answer, TimeSpan latency, List<(int User, int Round)> slice, int events)
    {
        if (answer.Status != HttpStatusCode.Accepted)
        {
            _non202.AddOrUpdate((int)answer.Status, 1, (_, n) => n + 1);
            if (answer.Status == 0 && cfg.HostPid > 0 && !IsAlive(cfg.HostPid)) HostGone = true;
            if (Interlocked.Increment(ref _reported) <= 5) Console.Error.WriteLine($"answer {(int)answer.Status}: {answer.Body}");
            return;
        }
        Interlocked.Increment(ref _requests);
        Interlocked.Add(ref _batches, slice.Count);
        Interlocked.Add(ref _events, events);
        var users = Interlocked.Add(ref _users, slice.Count(b => b.Round == 0)); // a user's round 0 creates the profile
        lock (_lock)
        {
            _latencyMs.Add(latency.TotalMilliseconds);
            // RSS after 25/50/75/100% of the users exist: flat figures mean memory does not grow with users.
            while (_nextMark < 4 && users >= (long)cfg.Users * (_nextMark + 1) / 4)
                SampleRssLocked($"{25 * ++_nextMark}% users");
        }
    }

    public void SampleRss(string label) { lock (_lock) SampleRssLocked(label); }

    private void SampleRssLocked(string label)
    {
        if (cfg.HostPid > 0 && HostRssMb(cfg.HostPid) is { } mb) _rss.Add((label, mb));
    }

    /// <summary>Running, and not a zombie waiting for build/bench to reap it.</summary>
    private static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2] != 'Z';
        }
        catch (IOException) { return false; }
    }

    public static double? HostRssMb(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? null : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        }
        catch (IOException) { return null; }
    }

    public (double P50, double P99, double Max) Latencies()
    {
        lock (_lock)
        {
            if (_latencyMs.Count == 0) return (0, 0, 0);
            var sorted = _latencyMs.Order().ToArray();
            double At(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
            return (At(0.50), At(0.99), sorted[^1]);
        }
    }

    public string Non202Summary() =>
        _non202.IsEmpty ? "0" : string.Join(", ", _non202.OrderBy(x => x.Key).Select(x => $"{x.Value} x {(x.Key == 0 ? "no answer" : x.Key.ToString(CultureInfo.InvariantCulture))}"));

    public async Task ReportEvery(TimeSpan every, long started, CancellationToken ct)
    {
        var (lastEvents, lastAt) = (0L, started);
        try
        {
            while (true)
            {
                await Task.Delay(every, ct);
                var now = Stopwatch.GetTimestamp();
                var events = EventsOk;
                var rate = (events - lastEvents) / Stopwatch.GetElapsedTime(lastAt, now).TotalSeconds;
                (lastEvents, lastAt) = (events, now);
                var rss = cfg.HostPid > 0 ? $", host RSS {HostRssMb(cfg.HostPid):N0} MB" : "";
                Console.WriteLine($"  {Stopwatch.GetElapsedTime(started, now).TotalSeconds,5:F0} s: {BatchesOk,9:N0} batches, {events,10:N0} events, " +
                                  $"{UsersCreated,7:N0} users, {rate,7:N0} events/s (last {every.TotalSeconds:F0} s){rss}");
            }
        }
        catch (OperationCanceledException) { }
    }
}

/// <summary>CPU shares over the run from /proc: the whole box, this process, the Host.</summary>
sealed class CpuClock
{
    private readonly int _hostPid;
    private readonly (long Busy, long Total) _box;
    private readonly TimeSpan _self;
    private readonly long _host;
    private readonly long _started = Stopwatch.GetTimestamp();

    private CpuClock(int hostPid) { _hostPid = hostPid; _box = Box(); _self = Process.GetCurrentProcess().TotalProcessorTime; _host = Ticks(hostPid); }

    public static CpuClock Start(int hostPid) => new(hostPid);

    /// <summary>Percent of the whole machine (all cores = 100%).</summary>
    public (double Box, double Self, double Host) Stop()
    {
        var wall = Stopwatch.GetElapsedTime(_started).TotalSeconds * Environment.ProcessorCount;
        var box = Box();
        var busy = 100.0 * (box.Busy - _box.Busy) / Math.Max(1, box.Total - _box.Total);
        var self = 100.0 * (Process.GetCurrentProcess().TotalProcessorTime - _self).TotalSeconds / wall;
        var host = 100.0 * (Ticks(_hostPid) - _host) / 100.0 / wall; // USER_HZ is 100 on Linux
        return (busy, self, host);
    }

    private static (long Busy, long Total) Box()
    {
        var f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8).Select(long.Parse).ToArray();
        var idle = f[3] + f[4]; // idle + iowait
        return (f.Sum() - idle, f.Sum());
    }

    private static long Ticks(int pid)
    {
        if (pid <= 0) return 0;
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // fields after "(comm)"; utime and stime are fields 14 and 15
            return long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture);
        }
        catch (IOException) { return 0; }
    }
}

/// <summary>
/// Builds request bodies: arrays of mParticle batches. Everything is derived from (user, round), so a user keeps
/// the same identities, device and most attributes; each round changes one attribute (an update on the profile)
/// and carries new events with unique source_message_ids (the service stores each of them).
/// </summary>
static class Payload
{
    private static readonly string[] Plans = ["free", "pro", "business"];
    private static readonly string[] AgeBands = ["18-24", "25-29", "30-39", "40-49", "50-64"];
    private static readonly string[] Cities = ["Berlin", "Paris", "Madrid", "Rome", "Vienna", "Lisbon", "Dublin"];
    private static readonly string[] Screens = ["Home", "Search", "Product Detail", "Cart", "Checkout", "Account"];
    private static readonly string[] Names = ["Viewed Pricing", "Added To Wishlist", "Started Trial", "Shared Article", "Played Video"];

    public static ReadOnlyMemory<byte> Body(IReadOnlyList<(int User, int Round)> batches, string runId, out int events)
    {
        var buffer = new ArrayBufferWriter<byte>(batches.Count * 2600);
        using var w = new Utf8JsonWriter(buffer);
        events = 0;
        w.WriteStartArray();
        foreach (var (user, round) in batches) events += Batch(w, user, round, runId);
        w.WriteEndArray();
        w.Flush();
        return buffer.WrittenMemory;
    }

    /// <summary>Writes one batch; user -1 is the warm-up user. Returns the number of events.</summary>
    private static int Batch(Utf8JsonWriter w, int user, int round, string runId)
    {
        var id = user < 0 ? "warmup" : user.ToString("D7", CultureInfo.InvariantCulture);
        var u = Math.Max(user, 0);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var ios = u % 2 == 0;

        w.WriteStartObject();
        w.WriteString("environment", "development");
        w.WriteString("source_request_id", $"bench-{runId}-{id}-{round}");

        w.WriteStartObject("user_identities");
        w.WriteString("customer_id", $"cust-{id}");
        w.WriteString("email", $"user{id}@example.org");
        w.WriteEndObject();

        w.WriteStartObject("user_attributes"); // 3-5 attributes, loyalty_points changes every round
        w.WriteString("plan", Plans[u % Plans.Length]);
        w.WriteString("age_band", AgeBands[u % AgeBands.Length]);
        w.WriteNumber("loyalty_points", u % 1000 + 25 * round);
        if (u % 3 >= 1) w.WriteString("city", Cities[u % Cities.Length]);
        if (u % 3 == 2)
        {
            w.WriteStartArray("favorite_genres");
            w.WriteStringValue("documentary");
            w.WriteStringValue("comedy");
            w.WriteEndArray();
        }
        w.WriteEndObject();

        w.WriteStartObject("device_info");
        w.WriteString("platform", ios ? "iOS" : "Android");
        if (ios) w.WriteString("ios_idfv", $"A1B2C3D4-0000-4000-8000-{u:D12}");
        else w.WriteString("android_uuid", $"{u:x16}");
        w.WriteString("os_version", ios ? "17.4" : "14");
        w.WriteString("device_model", ios ? "iPhone15,2" : "Pixel 8");
        w.WriteString("locale_country", "DE");
        w.WriteString("locale_language", "de");
        w.WriteEndObject();

        var count = 4 + (u + round) % 2; // 4-5 events
        w.WriteStartArray("events");
        for (var i = 0; i < count; i++)
        {
            var kind = (u + i) % 3;
            w.WriteStartObject();
            w.WriteString("event_type", kind switch { 0 => "custom_event", 1 => "screen_view", _ => "commerce_event" });
            w.WriteStartObject("data");
            w.WriteNumber("timestamp_unixtime_ms", now - 1000 * (count - i));
            w.WriteString("source_message_id", $"m-{runId}-{id}-{round}-{i}");
            switch (kind)
            {
                case 0:
                    w.WriteString("custom_event_type", "navigation");
                    w.WriteString("event_name", Names[(u + round + i) % Names.Length]);
                    w.WriteStartObject("custom_attributes");
                    w.WriteString("plan", Plans[u % Plans.Length]);
                    w.WriteString("billing", round % 2 == 0 ? "annual" : "monthly");
                    w.WriteEndObject();
                    break;
                case 1:
                    w.WriteString("screen_name", Screens[(u + round + i) % Screens.Length]);
                    w.WriteStartObject("custom_attributes");
                    w.WriteString("step", (i + 1).ToString(CultureInfo.InvariantCulture));
                    w.WriteEndObject();
                    break;
                default:
                    w.WriteString("currency_code", "EUR");
                    w.WriteStartObject("product_action");
                    w.WriteString("action", "purchase");
                    w.WriteString("transaction_id", $"txn-{id}-{round}-{i}");
                    w.WriteNumber("total_amount", 210.5);
                    w.WriteStartArray("products");
                    w.WriteStartObject();
                    w.WriteString("id", $"sku-{(u + i) % 500}");
                    w.WriteString("name", "Annual Plan");
                    w.WriteNumber("price", 99.5);
                    w.WriteNumber("quantity", 2);
                    w.WriteNumber("total_product_amount", 199);
                    w.WriteEndObject();
                    w.WriteEndArray();
                    w.WriteEndObject();
                    break;
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        return count;
    }
}
