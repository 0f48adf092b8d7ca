using System.Net;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Identity;

/// <summary>
/// Issue 14 item 5: the public web key (x-mp-key alone, readable from any page that embeds it) cannot take a known
/// customer's identity through identify or modify; a server (Basic or HMAC with the secret) still can.
/// </summary>
[Collection(AppCollection.Name)]
public class KeyOnlyIdentityTests(AppFixture app)
{
    private const string WebKey = "demo-web-key";

    /// <summary>A customer the server knows: customer id and email, through the Events API.</summary>
    private async Task<(string Customer, string Email, long Mpid)> KnownCustomer()
    {
        var customer = Api.NewId("victim");
        var email = $"{customer}@example.org";
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}", "email": "{{email}}" }, "events": [] }""");
        return (customer, email, (await app.ProfileOf(customer))["mpid"]!.GetValue<long>());
    }

    private async Task<JsonObject> Identify(object knownIdentities, string key = WebKey, string? secret = null)
    {
        using var response = await app.Call("/v1/identify", new { environment = "development", request_id = Guid.NewGuid().ToString(), known_identities = knownIdentities }, key, secret);
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    [Fact]
    public async Task identify_with_the_web_key_alone_cannot_take_a_known_customers_email()
    {
        var (customer, email, mpid) = await KnownCustomer();

        var answer = await Identify(new { email });

        answer.Mpid().ShouldNotBe(mpid.ToString()); // as the strategy says: without the login identity, a new anonymous profile
        answer["matched_identities"]!.AsObject().ShouldBeEmpty();
        (await app.ProfileOf(customer)).Identities().ShouldContain($"email={email}");
        (await app.EventCount(mpid, "user_identity_removed")).ShouldBe(0);
        (await app.EventCount(long.Parse(answer.Mpid()), "user_identity_added")).ShouldBe(0);
    }

    [Fact]
    public async Task modify_with_the_web_key_alone_cannot_take_a_known_customers_email()
    {
        var (customer, email, mpid) = await KnownCustomer();
        var anonymous = await Identify(new { device_application_stamp = Api.NewId("das") });

        using var response = await app.ModifyWithKey(anonymous.Mpid(), new { identity_type = "email", old_value = (string?)null, new_value = email }, WebKey);

        response.StatusCode.ShouldBe(HttpStatusCode.OK, await response.Content.ReadAsStringAsync()); // answered as mParticle would
        (await app.ProfileOf(customer)).Identities().ShouldContain($"email={email}");
        (await app.EventCount(mpid, "user_identity_removed")).ShouldBe(0);
        (await app.EventCount(long.Parse(anonymous.Mpid()), "user_identity_added")).ShouldBe(1); // its device only
    }

    [Fact]
    public async Task the_web_key_alone_still_links_what_no_known_person_holds()
    {
        var anonymous = await Identify(new { device_application_stamp = Api.NewId("das") });
        var email = $"{Api.NewId("fresh")}@example.org";

        using var response = await app.ModifyWithKey(anonymous.Mpid(), new { identity_type = "email", old_value = (string?)null, new_value = email }, WebKey);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await Identify(new { email })).Mpid().ShouldBe(anonymous.Mpid());
    }

    [Fact]
    public async Task a_server_call_keeps_todays_rules_and_takes_the_email()
    {
        var (customer, email, mpid) = await KnownCustomer();

        var answer = await Identify(new { email }, Api.DemoKey, Api.DemoSecret);

        answer.Mpid().ShouldNotBe(mpid.ToString());
        (await app.ProfileOf(customer)).Identities().ShouldNotContain($"email={email}");
        (await app.EventCount(mpid, "user_identity_removed")).ShouldBe(1);
    }
}
