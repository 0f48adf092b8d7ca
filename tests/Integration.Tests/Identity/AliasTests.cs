using System.Net;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Identity;

[Collection(AppCollection.Name)]
public class AliasTests(AppFixture app)
{
    private async Task<HttpResponseMessage> Alias(object source, object destination, long start, long end) =>
        await app.Call("/v1/alias", new
        {
            request_type = "alias", request_id = Guid.NewGuid().ToString(), environment = "development",
            data = new { source_mpid = source, destination_mpid = destination, start_unixtime_ms = start, end_unixtime_ms = end },
        }, key: "demo-web-key");

    [Fact]
    public async Task an_alias_copies_the_window_of_events_and_first_seen_but_no_identities_or_attributes()
    {
        var anonymousDevice = Api.NewId("das");
        var t = DateTimeOffset.UtcNow.AddDays(-2).ToUnixTimeMilliseconds();
        await app.Ingested($$"""
            { "mp_deviceid": "{{anonymousDevice}}", "user_attributes": { "anon_attr": "x" },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "before window", "custom_event_type": "other", "timestamp_unixtime_ms": {{t - 86_400_000}} } },
                          { "event_type": "custom_event", "data": { "event_name": "in window", "custom_event_type": "other", "timestamp_unixtime_ms": {{t + 1000}} } } ] }
            """);
        var source = (await app.Identity("identify", new { device_application_stamp = anonymousDevice })).Mpid();
        var customer = Api.NewId("dest");
        var destination = (await app.Identity("identify", new { customerid = customer })).Mpid();

        using (var response = await Alias(long.Parse(source), destination, t, t + 3_600_000))
            response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());

        await Waiting.Until(async () => await app.EventCount(long.Parse(destination), "profile_aliased_from") == 1, "the alias copy");
        (await app.EventCount(long.Parse(destination), "event_captured")).ShouldBe(1);
        var profile = await app.ProfileOf(customer);
        profile.Identities().ShouldBe([$"customer_id={customer}"]);
        profile["user_attributes"]!.AsObject().ContainsKey("anon_attr").ShouldBeFalse();
    }

    [Theory]
    [InlineData("same", "data.destination_mpid", "must differ")]
    [InlineData("unknown", "data.destination_mpid", "there is no profile")]
    [InlineData("backwards", "data.start_unixtime_ms", "must not be after")]
    public async Task a_bad_alias_is_400_and_names_the_field(string mistake, string field, string reason)
    {
        var mpid = long.Parse((await app.Identity("identify", new { customerid = Api.NewId("al") })).Mpid());
        var other = long.Parse((await app.Identity("identify", new { customerid = Api.NewId("al") })).Mpid());
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        using var response = mistake switch
        {
            "same" => await Alias(mpid, mpid, now - 1000, now),
            "unknown" => await Alias(mpid, 987654321, now - 1000, now),
            _ => await Alias(mpid, other, now, now - 1000),
        };
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await response.Errors()).ShouldContain(e => e.Field == field && e.Message.Contains(reason));
    }
}
