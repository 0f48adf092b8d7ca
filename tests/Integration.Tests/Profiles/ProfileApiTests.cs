using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Profiles;

[Collection(AppCollection.Name)]
public class ProfileApiTests(AppFixture app)
{
    private async Task<(string Customer, long Mpid)> KnownCustomer()
    {
        var customer = Api.NewId("pa");
        await app.Ingested($$"""
            { "user_identities": { "customer_id": "{{customer}}", "email": "{{customer}}@example.org" },
              "user_attributes": { "$firstname": "Ana", "score": 342.1, "vip": true, "genres": ["drama", "jazz"], "tag": null },
              "mp_deviceid": "{{customer}}-das", "device_info": { "platform": "iOS", "ios_idfv": "{{customer}}-idfv", "att_authorization_status": "authorized" },
              "events": [ { "event_type": "custom_event", "data": { "event_name": "attribution", "custom_event_type": "attribution",
                            "custom_attributes": { "publisher": "PartnerX", "campaign": "spring" } } } ] }
            """);
        return (customer, (await app.ProfileOf(customer))["mpid"]!.GetValue<long>());
    }

    [Fact]
    public async Task a_profile_is_read_by_mpid_with_get_and_post()
    {
        var (customer, mpid) = await KnownCustomer();
        foreach (var method in new[] { HttpMethod.Get, HttpMethod.Post })
        {
            using var response = await app.GetProfile(mpid, method: method);
            response.StatusCode.ShouldBe(HttpStatusCode.OK);
            var profile = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
            profile["mpid"]!.GetValue<long>().ShouldBe(mpid);
            profile.Identities().ShouldContain($"customer_id={customer}");
        }
    }

    [Fact]
    public async Task attribute_values_come_back_as_strings_and_lists_of_strings()
    {
        var (customer, _) = await KnownCustomer();
        var attributes = (await app.ProfileOf(customer))["user_attributes"]!.AsObject();

        attributes["$firstname"]!.GetValue<string>().ShouldBe("Ana");
        attributes["score"]!.GetValue<string>().ShouldBe("342.1");
        attributes["vip"]!.GetValue<string>().ShouldBe("true");
        attributes["genres"]!.AsArray().Select(x => x!.GetValue<string>()).ShouldBe(["drama", "jazz"]);
        attributes.ContainsKey("tag").ShouldBeTrue();
        attributes["tag"].ShouldBeNull();
    }

    [Fact]
    public async Task devices_attribution_and_device_identities_are_shown()
    {
        var (customer, _) = await KnownCustomer();
        var profile = await app.ProfileOf(customer);

        profile.Identities("device_identities").ShouldBe(
            [$"ios_vendor_id={customer}-idfv", $"device_application_stamp={customer}-das"], ignoreOrder: true);
        var device = profile["devices"]!.AsArray().Single()!;
        device["device_application_stamp"]!.GetValue<string>().ShouldBe($"{customer}-das");
        device["platform"]!.GetValue<string>().ShouldBe("iOS");
        device["att_authorization_status"]!.GetValue<string>().ShouldBe("authorized");
        device["install_attribution"]!["campaign"]!.GetValue<string>().ShouldBe("spring");
        profile["attribution"]!.AsArray().Single()!["publisher"]!.GetValue<string>().ShouldBe("PartnerX");
    }

    [Fact]
    public async Task only_the_requested_sections_are_returned()
    {
        var (_, mpid) = await KnownCustomer();
        using var response = await app.GetProfile(mpid, fields: "user_attributes");
        var profile = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();

        profile.Select(p => p.Key).ShouldBe(
            ["mpid", "created_timestamp_ms", "last_stored_timestamp_ms", "is_opted_out", "limit_ad_tracking", "account_userattributes", "user_attributes"]);
    }

    [Theory]
    [InlineData("", "is required")]
    [InlineData("user_attributes,shoe_size", "\"shoe_size\"")]
    public async Task fields_is_required_and_checked(string fields, string reason)
    {
        var (_, mpid) = await KnownCustomer();
        using var response = await app.GetProfile(mpid, fields: fields);
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var error = (await response.Errors()).Single();
        error.Field.ShouldBe("fields");
        error.Message.ShouldContain(reason);
    }

    [Fact]
    public async Task an_unknown_mpid_is_404()
    {
        using var response = await app.GetProfile(123456789);
        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task without_a_valid_token_the_answer_is_401()
    {
        var (_, mpid) = await KnownCustomer();
        using var none = await app.NewClient().GetAsync($"/userprofile/v1/1/1/1/{mpid}?fields=user_attributes");
        none.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await none.Errors()).Single().Message.ShouldContain("bearer token");

        using var forged = await app.GetProfile(mpid, token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl");
        forged.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task wrong_client_credentials_get_no_token()
    {
        using var response = await app.Client.PostAsJsonAsync("/oauth/token",
            new { client_id = "demo-client", client_secret = "nope", audience = "https://api.mparticle.com", grant_type = "client_credentials" });
        response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await response.Content.ReadFromJsonAsync<JsonObject>())!["error"]!.GetValue<string>().ShouldBe("invalid_client");
    }

    [Fact]
    public async Task the_token_has_the_mparticle_shape()
    {
        using var response = await app.Client.PostAsJsonAsync("/oauth/token",
            new { client_id = "demo-client", client_secret = "demo-client-secret", audience = "https://api.mparticle.com", grant_type = "client_credentials" });
        var body = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        body["token_type"]!.GetValue<string>().ShouldBe("Bearer");
        body["expires_in"]!.GetValue<int>().ShouldBe(28800);
        body["access_token"]!.GetValue<string>().ShouldNotBeNullOrEmpty();
    }

    [Fact]
    public async Task one_workspaces_credentials_never_read_another_workspace()
    {
        var (customer, mpid) = await KnownCustomer();
        var otherToken = await app.Token("other-client", "other-client-secret");

        using var direct = await app.GetProfile(mpid, workspace: 1, token: otherToken);
        direct.StatusCode.ShouldBe(HttpStatusCode.Forbidden);

        // The person exists in workspace 1 only: workspace 2 does not see them at all...
        using var notThere = await app.GetProfile(mpid, workspace: 2, token: otherToken);
        notThere.StatusCode.ShouldBe(HttpStatusCode.NotFound);

        // ...and once workspace 2 has data of its own, it sees only its own attributes.
        await app.Ingested($$"""{ "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "ws2_only": "x" } }""",
            key: Api.OtherKey, secret: Api.OtherSecret);
        var inOther = await app.ProfileOf(customer, workspace: 2, token: otherToken);
        inOther["user_attributes"]!.AsObject().Select(a => a.Key).ShouldBe(["ws2_only"]);
        inOther["devices"]!.AsArray().ShouldBeEmpty();
        var inFirst = await app.ProfileOf(customer);
        inFirst["user_attributes"]!.AsObject().ContainsKey("ws2_only").ShouldBeFalse();
    }

    [Fact]
    public async Task resolve_accepts_only_the_immutable_identity()
    {
        var (customer, _) = await KnownCustomer();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/userprofile/v1/resolve/1/1/1?fields=user_attributes")
        {
            Content = JsonContent.Create(new { environment_type = "development", identity = new { type = "email", value = $"{customer}@example.org" } }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await app.Token());
        using var response = await app.Client.SendAsync(request);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await response.Errors()).Single().Field.ShouldBe("identity.type");
    }

    [Fact]
    public async Task a_path_outside_the_org_is_404()
    {
        var (_, mpid) = await KnownCustomer();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/userprofile/v1/9/1/1/{mpid}?fields=user_attributes");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await app.Token());
        using var response = await app.Client.SendAsync(request);
        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }
}
