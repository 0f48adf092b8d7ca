// Audiences for build/bench part (e):
//   BENCH_MODE=aud-probe     a real-time audience on a "Probe" event, connected to a webhook receiver in this process;
//                            while the main load runs, a fresh user sends one Probe batch every 250 ms: the time from
//                            its 202 to the arrival of its "add" message is the membership latency under load
//                            (BENCH_PROBE_READY_FILE is written once the audience is active, that is its counters
//                            replayed and everyone stored evaluated; with BENCH_PROBE_GO_FILE
//                            the probes start only once that file exists);
//   BENCH_MODE=aud-standard  a standard audience over all stored data, timed from activation to ready.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

static class AudiencesBench
{
    public static async Task<int> RunAsync(string mode)
    {
        var url = ForwardingBench.Env("BENCH_URL", "http://127.0.0.1:8080/");
        using var platform = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(2) };
        using (var token = await platform.PostAsJsonAsync("oauth/token", new
               { client_id = "demo-client", client_secret = "demo-client-secret", audience = "https://api.mparticle.com", grant_type = "client_credentials" }))
            platform.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer",
                (await token.Content.ReadFromJsonAsync<JsonObject>())!["access_token"]!.GetValue<string>());
        var run = Guid.NewGuid().ToString("N")[..6];
        return mode == "aud-probe" ? await ProbeAsync(url, platform, run) : await StandardAsync(platform, run);
    }

    private static async Task<int> ProbeAsync(string url, HttpClient platform, string run)
    {
        var seconds = int.Parse(ForwardingBench.Env("BENCH_PROBE_SECONDS", "100"), CultureInfo.InvariantCulture);
        // ---- the receiver: arrival time of each "add", by MPID
        var port = ForwardingBench.FreePort();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/hook/");
        listener.Start();
        var arrivals = new ConcurrentDictionary<string, long>();
        _ = Task.Run(async () =>
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try { context = await listener.GetContextAsync(); } catch { return; }
                var at = Stopwatch.GetTimestamp();
                string body;
                using (var reader = new StreamReader(context.Request.InputStream)) body = await reader.ReadToEndAsync();
                foreach (var profile in JsonNode.Parse(body)?["user_profiles"]?.AsArray() ?? [])
                    if (profile!["audiences"]!.AsArray().Any(a => a!["action"]!.GetValue<string>() == "add")
                        && profile["user_identities"]!.AsArray().FirstOrDefault(i => i!["type"]!.GetValue<string>() == "customer_id") is { } customer)
                        arrivals.TryAdd(customer["value"]!.GetValue<string>(), at);
                context.Response.StatusCode = 200;
                context.Response.Close();
            }
        });

        // ---- the audience, its output and connection
        using var admin = new HttpClient { BaseAddress = new Uri(url) };
        admin.DefaultRequestHeaders.Authorization = ForwardingBench.Basic("admin:admin-password");
        using var created = await admin.PostAsJsonAsync("api/admin/outputs", new { name = "bench audience receiver", kind = "webhook", webhook = new { url = $"http://127.0.0.1:{port}/hook/" } });
        var outputId = (await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
        using var audience = await platform.PostAsync("v1/audiences?accountId=1", Json($$"""
            { "name": "probes {{run}}", "workspaces": [1], "criteria": [ { "kind": "event", "event_type": "custom_event", "event_name": "Probe {{run}}", "recency": { "within_days": 30 } } ] }
            """));
        var audienceId = (await audience.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<int>();
        using (await admin.PostAsJsonAsync("api/admin/audience-connections", new { audience_id = audienceId, output_id = outputId })) { }
        var activatedAt = Stopwatch.GetTimestamp();
        using (await platform.PostAsync($"v1/audiences/{audienceId}/activation?accountId=1", null)) { }
        // Active once its counters are replayed and everyone stored is evaluated (calculating until then).
        while ((await platform.GetFromJsonAsync<JsonObject>($"v1/audiences/{audienceId}?accountId=1"))!["status"]!.GetValue<string>() != "active") await Task.Delay(250);
        Console.WriteLine($"  probe audience {audienceId} active {Stopwatch.GetElapsedTime(activatedAt).TotalSeconds:0.0} s after its activation; sending a probe every 250 ms for {seconds} s");
        var ready = ForwardingBench.Env("BENCH_PROBE_READY_FILE", "");
        if (ready.Length > 0) await File.WriteAllTextAsync(ready, "ready");
        // The caller may hold the probes back (until the activation's evaluation of everyone stored has finished).
        var go = ForwardingBench.Env("BENCH_PROBE_GO_FILE", "");
        while (go.Length > 0 && !File.Exists(go)) await Task.Delay(100);

        // ---- probes: one fresh user each, 202 time by MPID
        using var events = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(2) };
        events.DefaultRequestHeaders.Authorization = ForwardingBench.Basic("demo-key:demo-secret");
        var accepted = new ConcurrentDictionary<string, long>();
        var deadline = Stopwatch.GetTimestamp() + seconds * Stopwatch.Frequency;
        var sends = new List<Task>();
        for (var i = 0; Stopwatch.GetTimestamp() < deadline; i++)
        {
            var n = i;
            sends.Add(Task.Run(async () =>
            {
                var customer = $"probe-{run}-{n}";
                using var response = await events.PostAsync("v2/events", Json($$"""
                    { "environment": "development", "user_identities": { "customer_id": "{{customer}}" },
                      "events": [ { "event_type": "custom_event", "data": { "event_name": "Probe {{run}}", "custom_event_type": "other" } } ] }
                    """));
                if (response.StatusCode == HttpStatusCode.Accepted) accepted[customer] = Stopwatch.GetTimestamp();
            }));
            await Task.Delay(250);
        }
        await Task.WhenAll(sends);
        var wait = Stopwatch.GetTimestamp() + 60 * Stopwatch.Frequency;
        while (accepted.Keys.Any(k => !arrivals.ContainsKey(k)) && Stopwatch.GetTimestamp() < wait) await Task.Delay(100);
        listener.Stop();

        var latencies = accepted.Where(a => arrivals.ContainsKey(a.Key))
            .Select(a => (arrivals[a.Key] - a.Value) * 1000.0 / Stopwatch.Frequency).Order().ToList();
        double P(double q) => latencies.Count == 0 ? double.NaN : latencies[Math.Min(latencies.Count - 1, (int)(q * latencies.Count))];
        Console.WriteLine($"  probes: {accepted.Count} accepted, {latencies.Count} add messages received; 202 → add: p50 {P(0.5):F0} ms, p99 {P(0.99):F0} ms, max {latencies.LastOrDefault():F0} ms");
        if (Environment.GetEnvironmentVariable("BENCH_RESULT_FILE") is { Length: > 0 } file)
            await File.WriteAllTextAsync(file, FormattableString.Invariant(
                $"aud_probes={accepted.Count}\naud_received={latencies.Count}\naud_p50_ms={P(0.5):F0}\naud_p99_ms={P(0.99):F0}\naud_max_ms={latencies.LastOrDefault():F0}\n"));
        return latencies.Count == accepted.Count ? 0 : 2;
    }

    private static async Task<int> StandardAsync(HttpClient platform, string run)
    {
        using var created = await platform.PostAsync("v1/audiences?accountId=1", Json($$"""
            { "name": "trial starters {{run}}", "audience_type": "standard", "workspaces": [1],
              "criteria": [ { "kind": "event", "event_type": "custom_event", "event_name": "Started Trial", "frequency": { "operator": "greater_or_equal", "count": 2 } },
                            { "join": "or", "kind": "event", "event_type": "commerce_event", "custom_event_type": "purchase", "frequency": { "operator": "greater_than", "count": 3 } } ] }
            """));
        var id = (await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<int>();
        var started = Stopwatch.GetTimestamp();
        using (await platform.PostAsync($"v1/audiences/{id}/activation?accountId=1", null)) { }
        JsonObject status;
        while ((status = (await platform.GetFromJsonAsync<JsonObject>($"v1/audiences/{id}?accountId=1"))!)["status"]!.GetValue<string>() != "ready") await Task.Delay(250);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var calc = status["calculation"]!;
        Console.WriteLine($"  standard audience {id}: {status["size"]} members of {calc["people_total"]} people, {calc["events_read"]} selected events read, {seconds:F1} s activation → ready");
        if (Environment.GetEnvironmentVariable("BENCH_RESULT_FILE") is { Length: > 0 } file)
            await File.WriteAllTextAsync(file, FormattableString.Invariant(
                $"std_seconds={seconds:F1}\nstd_members={status["size"]}\nstd_people={calc["people_total"]}\nstd_events={calc["events_read"]}\n"));
        return 0;
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
