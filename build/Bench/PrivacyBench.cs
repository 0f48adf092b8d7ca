// Data-subject requests for build/bench part (f): BENCH_MODE=dsr-probe submits BENCH_DSR_COUNT erasures (no waiting
// period) for people of the load, while it runs, and times each from submission to "completed".
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

static class PrivacyBench
{
    public static async Task<int> RunAsync()
    {
        var url = ForwardingBench.Env("BENCH_URL", "http://127.0.0.1:8080/");
        var count = int.Parse(ForwardingBench.Env("BENCH_DSR_COUNT", "200"), CultureInfo.InvariantCulture);
        var firstUser = int.Parse(ForwardingBench.Env("BENCH_DSR_FIRST_USER", "0"), CultureInfo.InvariantCulture);
        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(2) };
        http.DefaultRequestHeaders.Authorization = ForwardingBench.Basic("demo-key:demo-secret");
        var latencies = new ConcurrentBag<double>();
        var failed = 0;
        await Parallel.ForEachAsync(Enumerable.Range(firstUser, count), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (user, ct) =>
        {
            var id = Guid.NewGuid().ToString();
            var started = Stopwatch.GetTimestamp();
            using var submitted = await http.PostAsync("v3/requests", new StringContent($$"""
                { "regulation": "gdpr", "subject_request_id": "{{id}}", "subject_request_type": "erasure", "submitted_time": "{{DateTimeOffset.UtcNow:O}}",
                  "subject_identities": { "controller_customer_id": { "value": "cust-{{user:D7}}", "encoding": "raw" } },
                  "extensions": { "opendsr.mparticle.com": { "skip_waiting_period": true } } }
                """, Encoding.UTF8, "application/json"), ct);
            if (!submitted.IsSuccessStatusCode) { Interlocked.Increment(ref failed); return; }
            var deadline = Stopwatch.GetTimestamp() + 180 * Stopwatch.Frequency;
            while (Stopwatch.GetTimestamp() < deadline)
            {
                // Once a second per request: status calls count against the workspace's rate limit (429 → wait as told).
                using var response = await http.GetAsync($"v3/requests/{id}", ct);
                if (response.StatusCode == System.Net.HttpStatusCode.TooManyRequests)
                {
                    await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(5), ct);
                    continue;
                }
                var status = await response.Content.ReadFromJsonAsync<JsonObject>(ct);
                if (status!["request_status"]!.GetValue<string>() == "completed") { latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds); return; }
                await Task.Delay(1000, ct);
            }
            Interlocked.Increment(ref failed);
        });
        var sorted = latencies.Order().ToList();
        double P(double q) => sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)(q * sorted.Count))];
        Console.WriteLine($"  erasures: {sorted.Count} of {count} completed; submit → completed p50 {P(0.5):F0} ms, p99 {P(0.99):F0} ms, max {sorted.LastOrDefault():F0} ms; failed {failed}");
        if (Environment.GetEnvironmentVariable("BENCH_RESULT_FILE") is { Length: > 0 } file)
            await File.WriteAllTextAsync(file, FormattableString.Invariant($"dsr_completed={sorted.Count}\ndsr_p50_ms={P(0.5):F0}\ndsr_p99_ms={P(0.99):F0}\ndsr_failed={failed}\n"));
        return failed == 0 ? 0 : 2;
    }
}
