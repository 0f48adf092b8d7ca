// Calculated attributes for build/bench-calculated-attributes, through the Platform API as a user would:
//   BENCH_MODE=ca-define      creates and activates the live definitions (before the load), waits until ready;
//   BENCH_MODE=ca-sync-define creates and activates BENCH_SYNC_CALCS (1-3) synchronous definitions over the events of
//                             build/perf/ingest.lua (part h's h2 load), waits until ready (issue 16 §7's cost);
//   BENCH_MODE=ca-initialise  creates and activates one more definition over the stored events and times its
//                             initialisation by replay (calculating → ready), polling its status and progress.
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

static class CalculatedAttributesBench
{
    private const string Path = "platform/v2/workspaces/1/calculatedattributes";

    /// <summary>What the load generator's batches contain: custom events, screen views and purchases (see Payload).</summary>
    private static readonly (string Name, string Definition)[] Live =
    [
        ("trials_30d", """{ "data_point": { "type": "event", "event_type": "custom_event", "event_name": "Started Trial" }, "calculation_type": "count", "time_period": { "type": "within", "within": 30, "within_unit": "days" } }"""),
        ("revenue_30d", """{ "data_point": { "type": "event", "event_type": "commerce_event", "custom_event_type": "purchase", "attribute_name": "total_amount" }, "calculation_type": "sum", "time_period": { "type": "within", "within": 30, "within_unit": "days" } }"""),
        ("screens_seen", """{ "data_point": { "type": "event", "event_type": "screen_view", "event_name": "Search", "attribute_name": "step" }, "calculation_type": "unique_list", "time_period": { "type": "within", "within": 4, "within_unit": "weeks" } }"""),
    ];

    /// <summary>Synchronous types (issue 16 §7) over what build/perf/ingest.lua sends, so each batch has events they count.</summary>
    private static readonly (string Name, string Definition)[] Synchronous =
    [
        ("carts_30d", """{ "data_point": { "type": "event", "event_type": "custom_event", "event_name": "Added to Cart" }, "calculation_type": "count", "time_period": { "type": "within", "within": 30, "within_unit": "days" } }"""),
        ("checkout_value_30d", """{ "data_point": { "type": "event", "event_type": "custom_event", "event_name": "Checkout Started", "attribute_name": "price" }, "calculation_type": "sum", "time_period": { "type": "within", "within": 30, "within_unit": "days" } }"""),
        ("categories_viewed", """{ "data_point": { "type": "event", "event_type": "custom_event", "event_name": "Viewed Product", "attribute_name": "category" }, "calculation_type": "unique_list", "time_period": { "type": "within", "within": 4, "within_unit": "weeks" } }"""),
    ];

    private const string Initialised =
        """{ "data_point": { "type": "event", "event_type": "commerce_event", "custom_event_type": "purchase", "attribute_name": "price", "attribute_category": "product_attribute", "use_product_quantity": true }, "calculation_type": "average", "time_period": { "type": "within", "within": 30, "within_unit": "days" } }""";

    public static async Task<int> RunAsync(string mode)
    {
        var url = Environment.GetEnvironmentVariable("BENCH_URL") ?? "http://127.0.0.1:8080/";
        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(2) };
        var token = await TokenAsync(http);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var run = Guid.NewGuid().ToString("N")[..6];
        var results = new StringBuilder();

        if (mode is "ca-define" or "ca-sync-define")
        {
            var count = int.TryParse(Environment.GetEnvironmentVariable("BENCH_SYNC_CALCS"), out var n) ? Math.Clamp(n, 1, Synchronous.Length) : Synchronous.Length;
            foreach (var (name, definition) in mode == "ca-define" ? Live : Synchronous.Take(count))
            {
                var id = await CreateAndActivateAsync(http, $"{name}_{run}", definition);
                await UntilReadyAsync(http, id, _ => { });
                Console.WriteLine($"  active: {name}_{run} (id {id})");
            }
        }
        else
        {
            var started = Stopwatch.GetTimestamp();
            var id = await CreateAndActivateAsync(http, $"avg_price_{run}", Initialised);
            var last = Stopwatch.GetTimestamp();
            var final = await UntilReadyAsync(http, id, status =>
            {
                if (Stopwatch.GetElapsedTime(last).TotalSeconds < 10) return;
                last = Stopwatch.GetTimestamp();
                Console.WriteLine($"  {Stopwatch.GetElapsedTime(started).TotalSeconds,6:F1} s  {status["initialization"]?["events_done"]} of {status["initialization"]?["events_total"]} events ({status["initialization"]?["percent"]} %)");
            });
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            var init = final["initialization"]!;
            var events = init["events_done"]!.GetValue<long>();
            var people = init["people"]!.GetValue<long>();
            Console.WriteLine($"  initialised avg_price_{run}: {events:N0} selected events of {people:N0} people in {seconds:F1} s (activation to ready, polled every 250 ms)");
            results.AppendLine(CultureInfo.InvariantCulture, $"ca_init_seconds={seconds:F1}");
            results.AppendLine(CultureInfo.InvariantCulture, $"ca_init_events={events}");
            results.AppendLine(CultureInfo.InvariantCulture, $"ca_init_people={people}");
        }
        if (Environment.GetEnvironmentVariable("BENCH_RESULT_FILE") is { Length: > 0 } file) await File.WriteAllTextAsync(file, results.ToString());
        return 0;
    }

    private static async Task<string> TokenAsync(HttpClient http)
    {
        using var response = await http.PostAsJsonAsync("oauth/token", new
        {
            client_id = "demo-client", client_secret = "demo-client-secret", audience = "https://api.mparticle.com", grant_type = "client_credentials",
        });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["access_token"]!.GetValue<string>();
    }

    private static async Task<int> CreateAndActivateAsync(HttpClient http, string name, string definition)
    {
        using var created = await http.PostAsync(Path, new StringContent($$"""{ "name": "{{name}}", "draft_definition": {{definition}} }""", Encoding.UTF8, "application/json"));
        var body = await created.Content.ReadAsStringAsync();
        if (!created.IsSuccessStatusCode) throw new InvalidOperationException($"create {name}: {(int)created.StatusCode} {body}");
        var id = int.Parse(body, CultureInfo.InvariantCulture);
        using var activated = await http.PostAsync($"{Path}/{id}/activation", null);
        if (!activated.IsSuccessStatusCode) throw new InvalidOperationException($"activate {name}: {(int)activated.StatusCode} {await activated.Content.ReadAsStringAsync()}");
        return id;
    }

    private static async Task<JsonObject> UntilReadyAsync(HttpClient http, int id, Action<JsonObject> progress)
    {
        while (true)
        {
            var status = (await http.GetFromJsonAsync<JsonObject>($"{Path}/{id}"))!;
            if (status["status"]!.GetValue<string>() == "ready") return status;
            progress(status);
            await Task.Delay(250);
        }
    }
}
