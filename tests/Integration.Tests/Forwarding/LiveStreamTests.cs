using System.Net;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Forwarding;

[Collection(AppCollection.Name)]
public class LiveStreamTests(AppFixture app)
{
    [Fact]
    public async Task a_batch_sent_after_subscribing_shows_on_the_live_stream()
    {
        var customer = Api.NewId("live");
        using var client = app.AdminClient();
        client.Timeout = TimeSpan.FromSeconds(30);
        using var response = await client.GetAsync($"/api/admin/live-stream?input={AppFixture.ForwardingInput}", HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("text/event-stream");
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        string? line;
        while ((line = await reader.ReadLineAsync(timeout.Token)) is not null && line != "data: ready") { } // subscribed

        await app.Ingested($$"""
            { "environment": "development", "user_identities": { "customer_id": "{{customer}}" },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "Watched live", "custom_event_type": "other" } } ] }
            """, key: AppFixture.ForwardingKey, secret: AppFixture.ForwardingSecret);

        JsonObject? seen = null;
        while (seen is null && (line = await reader.ReadLineAsync(timeout.Token)) is not null)
        {
            if (!line.StartsWith("data: {")) continue;
            var message = JsonNode.Parse(line["data: ".Length..])!.AsObject();
            if (message["batch"]!.ToJsonString().Contains(customer)) seen = message;
        }
        seen.ShouldNotBeNull();
        seen["direction"]!.GetValue<string>().ShouldBe("inbound");
        seen["input"]!.GetValue<string>().ShouldBe(AppFixture.ForwardingInput);
        seen["batch"]!["events"]![0]!["data"]!["event_name"]!.GetValue<string>().ShouldBe("Watched live");
    }

    [Fact]
    public async Task the_live_stream_needs_an_admin()
    {
        using var response = await app.NewClient().GetAsync("/api/admin/live-stream");
        response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }
}
