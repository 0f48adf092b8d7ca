using System.Text.Json;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Identity;

/// <summary>
/// What the real web SDK sends to IDSync, replayed byte for byte, gets answers of the recorded shape. The MPIDs we
/// hand out differ from the recording's, so later requests carry ours where the recording carries its own.
/// </summary>
[Collection(AppCollection.Name)]
public class WebSdkIdentityRecordingsTests(AppFixture app)
{
    private readonly Dictionary<string, string> _mpids = new();

    private async Task<(HttpResponseMessage Response, JsonObject? Body)> Replay(RecordedExchange exchange)
    {
        var path = exchange.Path;
        var body = exchange.Body;
        foreach (var (recorded, ours) in _mpids)
        {
            path = path.Replace(recorded, ours);
            body = body?.Replace(recorded, ours);
        }
        using var request = (exchange with { Path = path, Body = body }).ToRequest();
        var response = await app.NewClient().SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var json = text.Length > 0 && text.TrimStart().StartsWith('{') ? JsonNode.Parse(text)!.AsObject() : null;
        if (json?["mpid"] is JsonValue mpid && exchange.ResponseBody.ValueKind == JsonValueKind.Object &&
            exchange.ResponseBody.TryGetProperty("mpid", out var recordedMpid))
            _mpids[recordedMpid.GetString()!] = mpid.GetValue<string>();
        return (response, json);
    }

    private static void ShouldHaveRecordedShape(RecordedExchange exchange, HttpResponseMessage response, JsonObject? body)
    {
        ((int)response.StatusCode).ShouldBe(exchange.Status, body?.ToJsonString());
        response.Headers.GetValues("Access-Control-Allow-Origin").Single().ShouldBe(exchange.Headers["origin"]);
        if (exchange.ResponseBody.ValueKind != JsonValueKind.Object) return;
        body.ShouldNotBeNull();
        body.Select(p => p.Key).ShouldBe(exchange.ResponseBody.EnumerateObject().Select(p => p.Name), ignoreOrder: true);
        foreach (var property in exchange.ResponseBody.EnumerateObject())
            body[property.Name]?.GetValueKind().ShouldBe(property.Value.ValueKind, property.Name);
    }

    [Fact]
    public async Task identify_answers_as_recorded_and_creates_the_known_user()
    {
        var exchange = Recordings.Load("web-sdk-identify.json").Single();
        var (response, body) = await Replay(exchange);
        ShouldHaveRecordedShape(exchange, response, body);

        body!["is_logged_in"]!.GetValue<bool>().ShouldBeTrue();
        var profile = await app.ProfileOf("web-cust-1");
        profile["mpid"]!.GetValue<long>().ToString().ShouldBe(body.Mpid());
        profile.Identities().ShouldBe(["customer_id=web-cust-1", "email=web1@example.org"], ignoreOrder: true);

        // The same identify again finds the person.
        var (_, again) = await Replay(exchange);
        again.ShouldNotBeNull();
        again.Mpid().ShouldBe(body.Mpid());
        again["matched_identities"]!["customerid"]!.GetValue<string>().ShouldBe("web-cust-1");
    }

    [Fact]
    public async Task login_modify_logout_answer_as_recorded()
    {
        await Replay(Recordings.Load("web-sdk-identify.json").Single());
        var exchanges = Recordings.Load("web-sdk-login-logout-modify.json");

        var (loginResponse, login) = await Replay(exchanges[0]);
        ShouldHaveRecordedShape(exchanges[0], loginResponse, login);
        login!["is_logged_in"]!.GetValue<bool>().ShouldBeTrue();
        login.Mpid().ShouldNotBe(_mpids["-4997737961702686682"]); // web-cust-2 is another person than web-cust-1

        var (modifyResponse, modify) = await Replay(exchanges[1]);
        ShouldHaveRecordedShape(exchanges[1], modifyResponse, modify);
        modify!["change_results"]!.AsArray().Select(r => r!["modified_mpid"]!.GetValue<string>()).ShouldAllBe(m => m == login.Mpid());
        (await app.ProfileOf("web-cust-2")).Identities().ShouldContain("email=web2-new@example.org");

        var (logoutResponse, logout) = await Replay(exchanges[2]);
        ShouldHaveRecordedShape(exchanges[2], logoutResponse, logout);
        logout!["is_logged_in"]!.GetValue<bool>().ShouldBeFalse();
        logout.Mpid().ShouldNotBe(login.Mpid()); // a new anonymous profile
    }

    [Fact]
    public async Task preflights_allow_the_sdk_origin_methods_and_headers()
    {
        foreach (var exchange in Recordings.Load("web-sdk-cors-preflight.json"))
        {
            using var response = await app.NewClient().SendAsync(exchange.ToRequest());
            ((int)response.StatusCode).ShouldBeInRange(200, 204, exchange.Path);
            response.Headers.GetValues("Access-Control-Allow-Origin").Single().ShouldBe(exchange.Headers["origin"]);
            response.Headers.GetValues("Access-Control-Allow-Methods").Single().ShouldContain("POST");
            var allowed = string.Join(",", response.Headers.GetValues("Access-Control-Allow-Headers")).ToLowerInvariant();
            foreach (var header in exchange.Headers["access-control-request-headers"].Split(','))
                allowed.ShouldContain(header.Trim());
        }
    }
}
