using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using EventProfiles.Integration.Tests.Fixtures;
using Microsoft.Playwright;
using Npgsql;
using static Microsoft.Playwright.Assertions;

namespace EventProfiles.Browser.Tests;

/// <summary>
/// The Connections page's form per output kind, in Debian's Chromium: refused settings are shown next to the field the
/// server names (nothing is created); a warehouse output (this run's PostgreSQL), a files output (under the run's files
/// root) and a RabbitMQ output (build/test's private node, amq.topic) are added from the page with their passwords typed
/// once, connected to the server input, and shown delivered in their health rows after a batch; the warehouse output is
/// edited (its password kept, never shown) and the files output deleted. Screenshots go to the screenshot folder.
/// </summary>
[Collection(BrowserCollection.Name)]
public class ConsoleOutputsTests(BrowserFixture host)
{
    [Fact]
    public async Task outputs_of_every_kind_are_added_from_their_forms_delivered_edited_and_deleted_and_refusals_are_shown_at_their_fields()
    {
        SetDefaultExpectTimeout(30_000);
        var run = Guid.NewGuid().ToString("N")[..8];
        var rabbitUri = Environment.GetEnvironmentVariable("EVENTPROFILES_TEST_RABBITMQ"); // build/test starts a node; none: that kind is checked for refusals only
        var created = new List<string>();
        try
        {
            await using var console = await host.SignedInAsync("/ui/connections");
            var page = console.Page;
            page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Connections", Exact = true })).ToBeVisibleAsync();
            var form = page.GetByRole(AriaRole.Region, new() { Name = "Add an output" });
            var status = page.Locator("#connections-status");

            // Refusals, each next to the field the server names: an internal webhook address, an internal warehouse host, a
            // folder outside the server's files root, a broker URI that is not amqp.
            await form.GetByLabel("Name", new() { Exact = true }).FillAsync($"Refused {run}");
            await form.GetByLabel("Workspace").SelectOptionAsync("1");
            await form.GetByLabel("Webhook URL").FillAsync("http://10.0.0.1/hook");
            await form.GetByRole(AriaRole.Button, new() { Name = "Add webhook output" }).ClickAsync();
            await Expect(form.Locator("#output-url-error")).ToContainTextAsync("address not allowed: 10.0.0.1 is");
            await Expect(form.GetByLabel("Webhook URL")).ToHaveAttributeAsync("aria-invalid", "true");
            await Expect(form.GetByLabel("Webhook URL")).ToHaveAttributeAsync("aria-describedby", new Regex("output-url-error"));
            await Expect(form.GetByRole(AriaRole.Alert)).ToContainTextAsync("the reasons are next to the fields");

            await form.GetByLabel("Kind").SelectOptionAsync("warehouse");
            await Expect(form.GetByLabel("Webhook URL")).ToHaveCountAsync(0); // only the fields of the kind picked
            await form.GetByLabel("Connection string (without the password)").FillAsync("Host=192.168.1.10;Database=dw;Username=ep");
            await form.GetByLabel("Database password").FillAsync("never-sent");
            await form.GetByLabel("Schema").FillAsync("Bad-Name");
            await form.GetByRole(AriaRole.Button, new() { Name = "Add warehouse output" }).ClickAsync();
            await Expect(form.Locator("#output-schema-error")).ToContainTextAsync("must be a lower-case PostgreSQL name");
            await form.GetByLabel("Schema").FillAsync("dw"); // the shape first, then where the host leads
            await form.GetByRole(AriaRole.Button, new() { Name = "Add warehouse output" }).ClickAsync();
            await Expect(form.Locator("#output-connection-error")).ToContainTextAsync("address not allowed: 192.168.1.10 is");
            await Expect(form.Locator("#output-schema-error")).ToHaveCountAsync(0);
            await console.ScreenshotAsync("console-outputs-refused");
            await console.EveryControlIsLabelledAsync();

            await form.GetByLabel("Kind").SelectOptionAsync("files");
            await form.GetByLabel("Folder").FillAsync("/etc/eventprofiles");
            await form.GetByRole(AriaRole.Button, new() { Name = "Add files output" }).ClickAsync();
            await Expect(form.Locator("#output-folder-error")).ToContainTextAsync("must be a folder under");

            await form.GetByLabel("Kind").SelectOptionAsync("rabbitmq");
            await form.GetByLabel("Broker URI").FillAsync("http://127.0.0.1/");
            await form.GetByLabel("Exchange").FillAsync("amq.gen-x");
            await form.GetByRole(AriaRole.Button, new() { Name = "Add RabbitMQ output" }).ClickAsync();
            await Expect(form.Locator("#output-uri-error")).ToContainTextAsync("must be an absolute amqp or amqps URI");
            await Expect(form.Locator("#output-exchange-error")).ToContainTextAsync("not a server-named exchange");
            (await Outputs()).ShouldNotContain(o => o["name"]!.GetValue<string>() == $"Refused {run}"); // nothing was created

            // A warehouse output into this run's database, its password typed once in its own field.
            var target = new NpgsqlConnectionStringBuilder(Environment.GetEnvironmentVariable("EVENTPROFILES_TEST_CONNECTION"));
            var password = $"typed-once-{run}"; // the test cluster trusts loopback, so it is stored, never needed
            var schema = $"wh_{run}";
            await form.GetByLabel("Kind").SelectOptionAsync("warehouse");
            await form.GetByLabel("Name", new() { Exact = true }).FillAsync($"Warehouse {run}");
            await form.GetByLabel("Connection string (without the password)").FillAsync($"Host={target.Host};Port={target.Port};Database={target.Database};Username={target.Username}");
            await form.GetByLabel("Database password").FillAsync(password);
            await form.GetByLabel("Schema").FillAsync(schema);
            await form.GetByRole(AriaRole.Button, new() { Name = "Add warehouse output" }).ClickAsync();
            await Expect(status).ToContainTextAsync($"Output Warehouse {run} added");
            created.Add(await OutputId(page, $"Warehouse {run}"));
            await Expect(form.GetByLabel("Database password")).ToHaveValueAsync(""); // gone from the page once sent
            await Expect(form.GetByLabel("Kind")).ToHaveValueAsync("warehouse");

            // A files output under the server's root.
            var folder = Path.Combine(host.FilesRoot, run);
            await form.GetByLabel("Kind").SelectOptionAsync("files");
            await form.GetByLabel("Name", new() { Exact = true }).FillAsync($"Files {run}");
            await form.GetByLabel("Workspace").SelectOptionAsync("1");
            await form.GetByLabel("Folder").FillAsync(folder);
            await form.GetByLabel("Largest file (MiB)").FillAsync("1");
            await form.GetByRole(AriaRole.Button, new() { Name = "Add files output" }).ClickAsync();
            await Expect(status).ToContainTextAsync($"Output Files {run} added");
            created.Add(await OutputId(page, $"Files {run}"));

            // A RabbitMQ output to build/test's node (amq.topic exists on every broker), the password in its own field.
            if (rabbitUri is not null)
            {
                var broker = new Uri(rabbitUri);
                await form.GetByLabel("Kind").SelectOptionAsync("rabbitmq");
                await form.GetByLabel("Name", new() { Exact = true }).FillAsync($"Rabbit {run}");
                await form.GetByLabel("Workspace").SelectOptionAsync("1");
                await form.GetByLabel("Broker URI").FillAsync($"amqp://guest@{broker.Host}:{broker.Port}/");
                await form.GetByLabel("Broker password").FillAsync("guest");
                await form.GetByLabel("Exchange").FillAsync("amq.topic");
                await form.GetByRole(AriaRole.Button, new() { Name = "Add RabbitMQ output" }).ClickAsync();
                await Expect(status).ToContainTextAsync($"Output Rabbit {run} added");
                created.Add(await OutputId(page, $"Rabbit {run}"));
                await Expect(page.Locator($"tr[data-output='Rabbit {run}']")).ToContainTextAsync($"amqp://guest:***@{broker.Host}:{broker.Port}/ → amq.topic");
            }

            // Each connected to the server input from the page; one batch; each row shows it delivered.
            foreach (var id in created)
            {
                await page.GetByLabel("Input", new() { Exact = true }).SelectOptionAsync("demo-server");
                await page.GetByLabel("Output", new() { Exact = true }).SelectOptionAsync(id);
                await page.GetByRole(AriaRole.Button, new() { Name = "Connect", Exact = true }).ClickAsync();
                await Expect(status).ToContainTextAsync("demo-server is connected to");
            }
            await SendBatch($"outputs-{run}", $"Exported {run}");
            foreach (var name in created.Count == 3 ? new[] { $"Warehouse {run}", $"Files {run}", $"Rabbit {run}" } : [$"Warehouse {run}", $"Files {run}"])
                await Waiting.Until(async () =>
                {
                    await page.ReloadAsync();
                    var row = page.Locator($"tr[data-output='{name}']");
                    await row.WaitForAsync();
                    return Regex.IsMatch(await row.InnerTextAsync(), @"\b[1-9]\d* delivered") && (await row.InnerTextAsync()).Contains("healthy");
                }, $"{name} delivered on the page", 60);
            // Delivered means there: the warehouse's events table and the files output's manifest have the batch.
            await using (var count = host.Db.CreateCommand($"select count(*) from {schema}.events where event_name = $1"))
            {
                count.Parameters.AddWithValue($"Exported {run}");
                ((long)(await count.ExecuteScalarAsync())!).ShouldBe(1);
            }
            File.ReadAllText(Path.Combine(folder, "_manifest.json")).ShouldContain("\"table\": \"events\"");
            (await page.ContentAsync()).ShouldNotContain(password);
            await console.ScreenshotAsync("console-outputs");
            await console.EveryControlIsLabelledAsync();

            // Edit: the warehouse's settings as a form, its password neither shown nor lost; a refusal at its field, then saved.
            var warehouseRow = page.Locator($"tr[data-output='Warehouse {run}']");
            await warehouseRow.GetByRole(AriaRole.Button, new() { Name = $"Edit Warehouse {run}" }).ClickAsync();
            var editor = page.GetByRole(AriaRole.Region, new() { Name = $"Edit output Warehouse {run}" });
            var connection = editor.GetByLabel("Connection string (without the password)");
            await Expect(connection).ToHaveValueAsync(new Regex($"^Host={Regex.Escape(target.Host!)};Port={target.Port};"));
            (await connection.InputValueAsync()).ShouldNotContain("Password");
            await Expect(editor.GetByLabel("Database password")).ToHaveValueAsync("");
            await Expect(editor).ToContainTextAsync("A password is stored and never shown");
            await editor.GetByLabel("Output name").FillAsync($"Warehouse {run} renamed");
            await editor.GetByLabel("Schema").FillAsync("Still-Bad");
            await editor.GetByRole(AriaRole.Button, new() { Name = "Save output" }).ClickAsync();
            await Expect(editor.Locator("#edit-output-schema-error")).ToContainTextAsync("must be a lower-case PostgreSQL name");
            await console.ScreenshotAsync("console-output-editor");
            await console.EveryControlIsLabelledAsync();
            await editor.GetByLabel("Schema").FillAsync(schema);
            await editor.GetByRole(AriaRole.Button, new() { Name = "Save output" }).ClickAsync();
            await Expect(status).ToContainTextAsync($"Output Warehouse {run} renamed is saved");
            var saved = (await Outputs()).Single(o => o["id"]!.GetValue<string>() == created[0]);
            saved["name"]!.GetValue<string>().ShouldBe($"Warehouse {run} renamed");
            saved["warehouse"]!["has_password"]!.GetValue<bool>().ShouldBeTrue(); // kept: the form never sent it back
            saved["warehouse"]!["schema"]!.GetValue<string>().ShouldBe(schema);

            // The broker URI is shown without its password and saved as it is: the stored password stays.
            if (rabbitUri is not null)
            {
                await page.Locator($"tr[data-output='Rabbit {run}']").GetByRole(AriaRole.Button, new() { Name = $"Edit Rabbit {run}" }).ClickAsync();
                var rabbitEditor = page.GetByRole(AriaRole.Region, new() { Name = $"Edit output Rabbit {run}" });
                var broker = new Uri(rabbitUri);
                await Expect(rabbitEditor.GetByLabel("Broker URI")).ToHaveValueAsync($"amqp://guest@{broker.Host}:{broker.Port}/");
                await Expect(rabbitEditor.GetByLabel("Exchange")).ToHaveValueAsync("amq.topic");
                await rabbitEditor.GetByRole(AriaRole.Button, new() { Name = "Save output" }).ClickAsync();
                await Expect(status).ToContainTextAsync($"Output Rabbit {run} is saved");
                var rabbit = (await Outputs()).Single(o => o["id"]!.GetValue<string>() == created[2])["rabbitmq"]!;
                rabbit["has_password"]!.GetValue<bool>().ShouldBeTrue();
                rabbit["uri"]!.GetValue<string>().ShouldBe($"amqp://guest:***@{broker.Host}:{broker.Port}/");
            }

            // Delete: the files output and its connection go.
            await page.Locator($"tr[data-output='Files {run}']").GetByRole(AriaRole.Button, new() { Name = $"Delete Files {run}" }).ClickAsync();
            await Expect(status).ToContainTextAsync($"Output Files {run} is deleted");
            await Expect(page.Locator($"tr[data-output='Files {run}']")).ToHaveCountAsync(0);
            (await Outputs()).ShouldNotContain(o => o["id"]!.GetValue<string>() == created[1]);

            // The deliberate refusals above are 400 answers, which Chromium reports as failed loads; nothing else may appear.
            console.Errors.Where(e => !e.Contains("status of 400")).ShouldBeEmpty();
        }
        finally
        {
            // Later tests' batches are not sent to these outputs.
            foreach (var id in created)
            {
                using var request = new HttpRequestMessage(HttpMethod.Delete, $"/api/admin/outputs/{id}");
                request.Headers.Authorization = Basic("admin:admin-password");
                using var _ = await host.Client.SendAsync(request);
            }
        }
    }

    private static AuthenticationHeaderValue Basic(string credentials) => new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));

    private async Task<List<JsonObject>> Outputs()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/outputs");
        request.Headers.Authorization = Basic("admin:admin-password");
        using var response = await host.Client.SendAsync(request);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync<JsonArray>())!.Select(o => o!.AsObject()).ToList();
    }

    private static async Task<string> OutputId(IPage page, string name)
    {
        var row = page.Locator($"tr[data-output='{name}']");
        await Expect(row).ToHaveCountAsync(1);
        return (await row.GetAttributeAsync("id"))!["output-".Length..];
    }

    private async Task SendBatch(string customerId, string eventName)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/events")
        {
            Content = new StringContent($$"""
                { "environment": "development", "user_identities": { "customer_id": "{{customerId}}" },
                  "events": [ { "event_type": "custom_event", "data": { "event_name": "{{eventName}}", "custom_event_type": "other" } } ] }
                """, Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = Basic("demo-key:demo-secret");
        using var response = await host.Client.SendAsync(request);
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
    }
}
