using System.Net;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Forwarding;

/// <summary>A delivery that fails shows on the Live Stream as outbound, with the reason (forwarding.md §6).</summary>
[Collection(AppCollection.Name)]
public sealed class LiveStreamFailureTests(AppFixture app) : WithReceiver(app)
{
    [Fact]
    public async Task a_failed_delivery_shows_on_the_live_stream_with_its_reason()
    {
        var customer = Api.NewId("live-fail");
        await NewOutputAsync();
        await App.Connect(AppFixture.ForwardingInput, OutputId);
        Receiver.Failing = true;

        using var client = App.AdminClient();
        client.Timeout = TimeSpan.FromSeconds(30);
        using var response = await client.GetAsync($"/api/admin/live-stream?direction=outbound", HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        string? line;
        while ((line = await reader.ReadLineAsync(timeout.Token)) is not null && line != "data: ready") { }

        await App.Ingested($$"""
            { "environment": "development", "user_identities": { "customer_id": "{{customer}}" },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "Will fail", "custom_event_type": "other" } } ] }
            """, key: AppFixture.ForwardingKey, secret: AppFixture.ForwardingSecret);

        JsonObject? failed = null;
        while (failed is null && (line = await reader.ReadLineAsync(timeout.Token)) is not null)
        {
            if (!line.StartsWith("data: {")) continue;
            var message = JsonNode.Parse(line["data: ".Length..])!.AsObject();
            if (message["batch"]!.ToJsonString().Contains(customer) && message["error"] is not null) failed = message;
        }
        failed.ShouldNotBeNull();
        failed["direction"]!.GetValue<string>().ShouldBe("outbound");
        failed["output_id"]!.GetValue<string>().ShouldBe(OutputId);
        failed["error"]!.GetValue<string>().ShouldContain("answered 500");
        Receiver.Failing = false;
    }
}
