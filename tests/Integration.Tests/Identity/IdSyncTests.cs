using System.Net;
using System.Security.Cryptography;
using System.Text;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Identity;

[Collection(AppCollection.Name)]
public class IdSyncTests(AppFixture app)
{
    [Fact]
    public async Task an_anonymous_visitor_who_logs_in_with_a_new_customer_id_keeps_the_mpid()
    {
        var device = Api.NewId("das");
        var anonymous = await app.Identity("identify", new { device_application_stamp = device });
        anonymous["is_logged_in"]!.GetValue<bool>().ShouldBeFalse();

        var customer = Api.NewId("conv");
        var login = await app.Identity("login", new { customerid = customer, device_application_stamp = device }, anonymous.Mpid());

        login.Mpid().ShouldBe(anonymous.Mpid());
        login["is_logged_in"]!.GetValue<bool>().ShouldBeTrue();
        (await app.ProfileOf(customer))["mpid"]!.GetValue<long>().ToString().ShouldBe(anonymous.Mpid());
    }

    [Fact]
    public async Task login_with_a_customer_id_of_another_profile_switches_to_it_and_brings_the_device()
    {
        var customer = Api.NewId("known");
        var known = await app.Identity("identify", new { customerid = customer });
        var device = Api.NewId("das");
        var anonymous = await app.Identity("identify", new { device_application_stamp = device });

        var login = await app.Identity("login", new { customerid = customer, device_application_stamp = device }, anonymous.Mpid());

        login.Mpid().ShouldBe(known.Mpid());
        login["matched_identities"]!["customerid"]!.GetValue<string>().ShouldBe(customer);
        (await app.ProfileOf(customer)).Identities("device_identities").ShouldContain($"device_application_stamp={device}");
    }

    [Fact]
    public async Task logout_returns_a_new_anonymous_profile()
    {
        var device = Api.NewId("das");
        var login = await app.Identity("login", new { customerid = Api.NewId("out"), device_application_stamp = device });
        var logout = await app.Identity("logout", new { device_application_stamp = device }, login.Mpid());

        logout.Mpid().ShouldNotBe(login.Mpid());
        logout["is_logged_in"]!.GetValue<bool>().ShouldBeFalse();
        // the device's next anonymous identify lands on that anonymous profile, not on the logged-in one
        (await app.Identity("identify", new { device_application_stamp = device })).Mpid().ShouldBe(logout.Mpid());
    }

    [Fact]
    public async Task modify_moves_a_unique_identity_and_records_it_on_both_streams()
    {
        var email = $"{Api.NewId("moving")}@example.org";
        var (a, b) = (Api.NewId("a"), Api.NewId("b"));
        var first = await app.Identity("identify", new { customerid = a, email });
        var second = await app.Identity("identify", new { customerid = b });

        using var response = await app.ModifyAsServer(second.Mpid(), new { identity_type = "email", old_value = (string?)null, new_value = email });
        response.StatusCode.ShouldBe(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());

        (await app.EventCount(long.Parse(first.Mpid()), "user_identity_removed")).ShouldBe(1);
        (await app.EventCount(long.Parse(second.Mpid()), "user_identity_added")).ShouldBe(2);
        (await app.Identity("search", new { customerid = b, email })).Mpid().ShouldBe(second.Mpid());
        (await app.ProfileOf(b)).Identities().ShouldContain($"email={email}");
        (await app.ProfileOf(a)).Identities().ShouldNotContain($"email={email}");
    }

    [Fact]
    public async Task modify_cannot_change_the_immutable_identity_or_create_a_profile()
    {
        var person = await app.Identity("identify", new { customerid = Api.NewId("imm") });
        using var immutable = await app.Modify(person.Mpid(), new { identity_type = "customerid", old_value = "x", new_value = Api.NewId("other") });
        immutable.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await immutable.Errors()).Single().Message.ShouldContain("immutable");

        using var unknown = await app.Modify("123456789", new { identity_type = "email", old_value = (string?)null, new_value = "x@example.org" });
        unknown.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task concurrent_identify_calls_for_the_same_new_email_yield_one_mpid()
    {
        var email = $"{Api.NewId("race")}@example.org";
        var answers = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => app.Identity("identify", new { email })));
        answers.Select(a => a.Mpid()).Distinct().Count().ShouldBe(1);
    }

    [Fact]
    public async Task search_finds_without_creating_and_answers_404_otherwise()
    {
        using var missing = await app.Call("/v1/search", new { environment = "development", known_identities = new { email = $"{Api.NewId("none")}@example.org" } });
        missing.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        (await missing.Errors()).Single().Field.ShouldBe("");
    }

    [Fact]
    public async Task a_known_profile_is_only_returned_to_a_request_with_its_login_identity()
    {
        var device = Api.NewId("das");
        var loggedIn = await app.Identity("login", new { customerid = Api.NewId("li"), device_application_stamp = device });
        var deviceOnly = await app.Identity("identify", new { device_application_stamp = device });
        deviceOnly.Mpid().ShouldNotBe(loggedIn.Mpid());
    }

    [Fact]
    public async Task bad_requests_name_the_field()
    {
        using var response = await app.Call("/v1/identify", new { environment = "staging", known_identities = new { passport = "X" } });
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await response.Errors()).Select(e => e.Field).ShouldBe(["environment", "known_identities.passport"], ignoreOrder: true);
    }

    [Fact]
    public async Task credentials_are_checked_the_three_ways_the_sdks_send_them()
    {
        var body = """{"environment":"development","known_identities":{"email":"auth@example.org"}}""";
        async Task<HttpStatusCode> Send(Action<HttpRequestMessage> authenticate)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/identify") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            authenticate(request);
            using var response = await app.NewClient().SendAsync(request);
            return response.StatusCode;
        }
        string Sign(string secret, string date) => Convert.ToHexStringLower(HMACSHA256.HashData(
            Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"POST\n{date}\n/v1/identify{body}")));

        (await Send(_ => { })).ShouldBe(HttpStatusCode.Unauthorized);
        (await Send(r => r.Headers.Add("x-mp-key", "no-such-key"))).ShouldBe(HttpStatusCode.Unauthorized);
        (await Send(r => r.Headers.Add("x-mp-key", Api.DemoKey))).ShouldBe(HttpStatusCode.Forbidden); // a server input: key alone is not enough
        (await Send(r => r.Headers.Add("x-mp-key", "demo-web-key"))).ShouldBe(HttpStatusCode.OK);
        (await Send(r => r.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret))).ShouldBe(HttpStatusCode.OK);
        (await Send(r => r.Headers.Authorization = AppFixture.Basic(Api.DemoKey, "wrong"))).ShouldBe(HttpStatusCode.Forbidden);

        var date = DateTimeOffset.UtcNow.ToString("r");
        (await Send(r => { r.Headers.Add("x-mp-key", Api.DemoKey); r.Headers.TryAddWithoutValidation("Date", date); r.Headers.Add("x-mp-signature", Sign(Api.DemoSecret, date)); }))
            .ShouldBe(HttpStatusCode.OK);
        (await Send(r => { r.Headers.Add("x-mp-key", Api.DemoKey); r.Headers.TryAddWithoutValidation("Date", date); r.Headers.Add("x-mp-signature", Sign("wrong", date)); }))
            .ShouldBe(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task the_cname_path_family_reaches_the_same_endpoints()
    {
        using var response = await app.Call("/identity/v1/identify", new { environment = "development", known_identities = new { email = $"{Api.NewId("cname")}@example.org" } });
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task the_identity_history_explains_who_took_what_when_and_through_which_request()
    {
        var email = $"{Api.NewId("hist")}@example.org";
        var (a, b) = (Api.NewId("ha"), Api.NewId("hb"));
        var first = await app.Identity("identify", new { customerid = a, email });
        var second = await app.Identity("identify", new { customerid = b });
        using (var modify = await app.ModifyAsServer(second.Mpid(), new { identity_type = "email", old_value = (string?)null, new_value = email }))
            modify.StatusCode.ShouldBe(HttpStatusCode.OK);

        var loser = await History(first.Mpid());
        var taken = loser["history"]!.AsArray().Single(h => h!["change"]!.GetValue<string>() == "taken")!;
        taken["value"]!.GetValue<string>().ShouldBe(email);
        taken["taken_by_mpid"]!.GetValue<long>().ToString().ShouldBe(second.Mpid());
        taken["input"]!.GetValue<string>().ShouldBe("recorded-sdks");
        taken["request_id"]!.GetValue<string>().ShouldNotBeNullOrEmpty();
        loser["identities"]!.AsArray().Select(i => i!["type"]!.GetValue<string>()).ShouldBe(["customer_id"]);

        var winner = await History(second.Mpid());
        winner["history"]!.AsArray().Select(h => $"{h!["change"]}:{h["type"]}").ShouldBe(["added:customer_id", "added:email"]);
    }

    private async Task<System.Text.Json.Nodes.JsonObject> History(string mpid)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/userprofile/v1/1/1/1/{mpid}/identity-history");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", await app.Token());
        using var response = await app.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return System.Text.Json.Nodes.JsonNode.Parse(text)!.AsObject();
    }
}
