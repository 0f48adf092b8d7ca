using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Commands.Privacy;
using EventProfiles.Domain.Forwarding;
using EventProfiles.Integration.Tests.Fixtures;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Wolverine;

namespace EventProfiles.Integration.Tests.Security;

/// <summary>
/// Issue 14 item 4: no URL a tenant configures (webhook outputs, OpenDSR status callbacks) reaches inside the network.
/// Every refused case here is refused before a connection is attempted; the only traffic these tests cause goes to
/// receivers on 127.0.0.1 (allow-listed by the development configuration) or, where the policy fails, to loopback.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class OutboundAddressPolicyTests(AppFixture app) : WithReceiver(app)
{
    /// <summary>Inside-the-network addresses in the spellings resolvers and .NET's Uri accept. None is ever called.</summary>
    public static TheoryData<string> RefusedUrls() => new()
    {
        "http://169.254.169.254/latest/meta-data/",
        "http://2852039166/latest/meta-data/",
        "http://0xA9FEA9FE/",
        "http://0251.0376.0251.0376/",
        "http://169.254.43518/",
        "http://[::ffff:169.254.169.254]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:a9fe:a9fe::1]/",
        "http://10.0.0.1/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://0/",
        "http://0.0.0.0:8080/",
        "http://224.0.0.1/",
        "http://255.255.255.255/",
        "http://[fd00:ec2::254]/",
        "http://[fe80::1]/",
        "http://[::]/",
        // loopback other than the allow-listed 127.0.0.1, as written
        "http://127.0.0.2/hook",
        "http://127.1/hook",
        "http://2130706433/hook",
        "http://0x7f000001/hook",
        "http://①②⑦.0.0.1/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://localhost/hook", // a name: resolved (from the hosts file) and refused for what it resolves to
    };

    [Theory]
    [MemberData(nameof(RefusedUrls))]
    public async Task an_output_to_an_address_inside_the_network_is_refused_naming_the_field_and_reason(string url)
    {
        var name = Api.NewId("ssrf");
        using var response = await App.AdminClient().PostAsJsonAsync("/api/admin/outputs", new { name, kind = "webhook", webhook = new { url } });
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync());
        var error = (await response.Errors()).ShouldHaveSingleItem();
        error.Field.ShouldBe("webhook.url");
        error.Message.ShouldStartWith("address not allowed: ");

        var outputs = (await App.AdminClient().GetFromJsonAsync<JsonArray>("/api/admin/outputs"))!;
        outputs.ShouldNotContain(o => o!["name"]!.GetValue<string>() == name);
    }

    [Fact]
    public async Task an_output_cannot_be_moved_inside_the_network_nor_take_credentials_or_other_schemes()
    {
        await NewOutputAsync();
        using (var moved = await App.AdminClient().PutAsJsonAsync($"/api/admin/outputs/{OutputId}",
                   new { name = "moved", kind = "webhook", webhook = new { url = "http://2852039166/latest/meta-data/" } }))
        {
            moved.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            (await moved.Errors()).ShouldBe([("webhook.url", "address not allowed: 169.254.169.254 is link-local (cloud metadata).")]);
        }
        (await App.Output(OutputId))["webhook"]!["url"]!.GetValue<string>().ShouldBe(Receiver.Url);

        foreach (var (url, reason) in new[]
                 {
                     ("http://user:secret@127.0.0.1/hook", "must not contain a user name or password."),
                     ("ftp://127.0.0.1/hook", "must be an absolute http or https URL."),
                     ("gopher://127.0.0.1:6379/_", "must be an absolute http or https URL."),
                 })
        {
            using var bad = await App.AdminClient().PostAsJsonAsync("/api/admin/outputs", new { name = Api.NewId("bad"), kind = "webhook", webhook = new { url } });
            bad.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            (await bad.Errors()).ShouldBe([("webhook.url", reason)]);
        }
    }

    [Theory]
    [MemberData(nameof(RefusedUrls))]
    public async Task a_dsr_callback_to_an_address_inside_the_network_is_refused_naming_its_index(string url)
    {
        var id = Guid.NewGuid().ToString();
        using var response = await SubmitDsr(id, [Receiver.Url, url]);
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync());
        var error = (await response.Errors()).ShouldHaveSingleItem();
        error.Field.ShouldBe("status_callback_urls[1]");
        error.Message.ShouldStartWith("address not allowed: ");
        using var status = await Dsr(HttpMethod.Get, $"/v3/requests/{id}");
        status.StatusCode.ShouldBe(HttpStatusCode.NotFound); // nothing stored
    }

    [Fact]
    public async Task a_dsr_request_takes_at_most_five_callback_urls()
    {
        var six = Enumerable.Range(0, 6).Select(i => $"{Receiver.Url}?n={i}").ToList();
        var refusedId = Guid.NewGuid().ToString();
        using (var refused = await SubmitDsr(refusedId, six))
        {
            refused.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            (await refused.Errors()).ShouldBe([("status_callback_urls", "At most 5 callback URLs.")]);
        }
        using (var status = await Dsr(HttpMethod.Get, $"/v3/requests/{refusedId}")) status.StatusCode.ShouldBe(HttpStatusCode.NotFound);

        var acceptedId = Guid.NewGuid().ToString();
        using (var accepted = await SubmitDsr(acceptedId, six.Take(5).ToList()))
            accepted.StatusCode.ShouldBe(HttpStatusCode.Created, await accepted.Content.ReadAsStringAsync());
        // The allow-listed receiver gets the creation callback at each of the five URLs.
        await Waiting.Until(() => Task.FromResult(Receiver.Received.Count(r => r.Batch["subject_request_id"]?.GetValue<string>() == acceptedId) >= 5),
            "the five callbacks");

        using var shaped = await SubmitDsr(Guid.NewGuid().ToString(), ["http://user:pw@127.0.0.1/x", "not a url"]);
        shaped.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await shaped.Errors()).ShouldBe([
            ("status_callback_urls[0]", "must not contain a user name or password."),
            ("status_callback_urls[1]", "must be an absolute http or https URL.")], ignoreOrder: true);
    }

    [Fact]
    public async Task a_stored_output_whose_host_resolves_inside_the_network_is_refused_at_connect_time_whether_or_not_the_port_is_open()
    {
        // An output stored before the policy existed, or whose name resolved elsewhere when it was created: only the
        // connect-time check stands between it and the network. localhost resolves to loopback and is not allow-listed.
        var closed = await Receiver.StartAsync();
        await closed.StopAsync();
        var open = await StoredOutput(Receiver.Url.Replace("127.0.0.1", "localhost"));
        var shut = await StoredOutput(closed.Url.Replace("127.0.0.1", "localhost"));
        try
        {
            var customer = Api.NewId("ssrf-connect");
            await App.Connect(AppFixture.ForwardingInput, open);
            await App.Connect(AppFixture.ForwardingInput, shut);
            await App.Ingested($$"""
                { "environment": "development", "user_identities": { "customer_id": "{{customer}}" },
                  "events": [ { "event_type": "custom_event", "data": { "event_name": "Reach inside", "custom_event_type": "other" } } ] }
                """, key: AppFixture.ForwardingKey, secret: AppFixture.ForwardingSecret);

            var openError = await DeadLetterError(open, customer);
            var shutError = await DeadLetterError(shut, customer);
            Receiver.BatchesOf(customer).ShouldBeEmpty(); // the listener on the open port was never called
            openError.ShouldContain("address not allowed");
            // Refused before connecting: the same answer whether something listens there or not (no port scanner).
            openError.Replace(Receiver.Url.Replace("127.0.0.1", "localhost"), "URL").ShouldBe(shutError.Replace(closed.Url.Replace("127.0.0.1", "localhost"), "URL"));
        }
        finally
        {
            foreach (var id in new[] { open, shut }) using (await App.AdminClient().DeleteAsync($"/api/admin/outputs/{id}")) { }
        }
    }

    [Fact]
    public async Task a_dsr_callback_to_a_host_resolving_inside_the_network_is_refused_at_connect_time()
    {
        using var scope = App.Services.CreateScope();
        var bus = scope.ServiceProvider.GetRequiredService<IMessageBus>();
        var refused = await Should.ThrowAsync<Exception>(() => bus.InvokeAsync(new SendDsrCallback(Receiver.Url.Replace("127.0.0.1", "localhost"), "{}")));
        refused.Message.ShouldContain("address not allowed");
        Receiver.Received.ShouldBeEmpty();
    }

    [Fact]
    public async Task a_webhook_redirect_is_not_followed()
    {
        await using var redirecting = await RedirectingReceiver.StartAsync();
        OutputId = (await App.CreateOutput(redirecting.Url))["id"]!.GetValue<string>();
        await App.Connect(AppFixture.ForwardingInput, OutputId);
        var customer = Api.NewId("redirect");
        await App.Ingested($$"""
            { "environment": "development", "user_identities": { "customer_id": "{{customer}}" },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "Go elsewhere", "custom_event_type": "other" } } ] }
            """, key: AppFixture.ForwardingKey, secret: AppFixture.ForwardingSecret);

        (await DeadLetterError(OutputId, customer)).ShouldContain("answered 302; redirects are not followed");
        redirecting.HookHits.ShouldBeGreaterThanOrEqualTo(1);
        redirecting.LandingHits.ShouldBe(0);
    }

    [Fact]
    public async Task a_dsr_callback_redirect_is_not_followed()
    {
        await using var redirecting = await RedirectingReceiver.StartAsync();
        using var scope = App.Services.CreateScope();
        var bus = scope.ServiceProvider.GetRequiredService<IMessageBus>();
        var rejected = await Should.ThrowAsync<Exception>(() => bus.InvokeAsync(new SendDsrCallback(redirecting.Url, "{}")));
        rejected.Message.ShouldContain("redirects are not followed");
        redirecting.HookHits.ShouldBeGreaterThanOrEqualTo(1);
        redirecting.LandingHits.ShouldBe(0);
    }

    private async Task<string> StoredOutput(string url)
    {
        var output = new Output(Guid.NewGuid().ToString("N"), Api.NewId("stored"), OutputKind.Webhook, new WebhookSettings(url, null), false, DateTimeOffset.UtcNow);
        await using var session = App.Services.GetRequiredService<IDocumentStore>().LightweightSession();
        session.Insert(output);
        await session.SaveChangesAsync();
        return output.Id;
    }

    private async Task<string> DeadLetterError(string outputId, string customer)
    {
        JsonNode? found = null;
        await Waiting.Until(async () =>
        {
            var dead = (await App.AdminClient().GetFromJsonAsync<JsonArray>($"/api/admin/outputs/{outputId}/dead-letters"))!;
            found = dead.FirstOrDefault(d => d!["error"] is not null);
            return found is not null;
        }, $"the dead letter of output {outputId} for {customer}", seconds: 30);
        return found!["error"]!.GetValue<string>();
    }

    private Task<HttpResponseMessage> SubmitDsr(string id, List<string> callbacks) =>
        Dsr(HttpMethod.Post, "/v3/requests", $$"""
            { "regulation": "gdpr", "subject_request_id": "{{id}}", "subject_request_type": "access",
              "submitted_time": "2026-11-01T10:00:00Z", "subject_identities": { "email": { "value": "{{Api.NewId("ssrf")}}@example.org", "encoding": "raw" } },
              "api_version": "3.0", "status_callback_urls": {{System.Text.Json.JsonSerializer.Serialize(callbacks)}} }
            """);

    private async Task<HttpResponseMessage> Dsr(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        request.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
        return await App.Client.SendAsync(request);
    }
}
