using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Security;

/// <summary>
/// Password and client-secret guessing: one throttle for the admin API's Basic and the web UI's sign-in, and one for
/// <c>/oauth/token</c>, keyed by name and client address. The Host believes X-Forwarded-For from 127.0.0.1 only (the
/// fixture's configured proxy), so each test guesses from addresses of its own (documentation ranges, only ever header
/// values) and never locks out the other tests, which all come from 127.0.0.1.
/// </summary>
[Collection(AppCollection.Name)]
public class CredentialThrottleTests(AppFixture app)
{
    private const int Limit = 10; // EventProfiles:CredentialThrottle:Failures, default

    [Fact]
    public async Task fifteen_wrong_basic_passwords_then_the_right_one_is_answered_429_with_retry_after()
    {
        var guesser = NewAddress();
        for (var attempt = 1; attempt <= 15; attempt++)
        {
            using var wrong = await Admin(guesser, "admin", $"guess-{attempt}");
            wrong.StatusCode.ShouldBe(attempt <= Limit ? HttpStatusCode.Forbidden : HttpStatusCode.TooManyRequests, $"attempt {attempt}");
        }
        using (var right = await Admin(guesser, "admin", "admin-password"))
        {
            right.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
            RetryAfter(right).ShouldBeInRange(1, 15 * 60);
            var error = (await right.Errors()).Single();
            error.Field.ShouldBe("Authorization");
            error.Message.ShouldContain("Too many failed attempts");
        }
        // The web UI's sign-in is the same credential: refused from there too, with the form saying why.
        using (var signIn = await BrowserAt(guesser).SignIn("admin", "admin-password"))
        {
            signIn.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
            RetryAfter(signIn).ShouldBeInRange(1, 15 * 60);
            signIn.Headers.Contains("Set-Cookie").ShouldBeFalse();
            (await signIn.Content.ReadAsStringAsync()).ShouldContain("try again later");
        }

        // The real user elsewhere is not locked out by someone else's guesses.
        using (var elsewhere = await Admin(NewAddress(), "admin", "admin-password")) elsewhere.StatusCode.ShouldBe(HttpStatusCode.OK);
        using (var direct = await app.AdminClient().GetAsync("/api/admin/outputs")) direct.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task a_user_name_that_does_not_exist_is_throttled_the_same()
    {
        var guesser = NewAddress();
        var nobody = Api.NewId("nobody");
        for (var attempt = 1; attempt <= Limit; attempt++)
        {
            using var wrong = await Admin(guesser, nobody, $"guess-{attempt}");
            wrong.StatusCode.ShouldBe(HttpStatusCode.Forbidden, $"attempt {attempt}");
        }
        using var refused = await Admin(guesser, nobody, "another-guess");
        refused.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
        RetryAfter(refused).ShouldBeInRange(1, 15 * 60);
        // Also through the sign-in form: the answer is the same whether the name exists or not.
        using var signIn = await BrowserAt(guesser).SignIn(nobody, "yet-another-guess");
        signIn.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task x_forwarded_for_is_ignored_unless_a_configured_proxy_sent_it()
    {
        var nobody = Api.NewId("spoofer");
        // From 127.0.0.2, which is not a configured proxy: every guess claims another address, all count for 127.0.0.2.
        using var notAProxy = From(IPAddress.Parse("127.0.0.2"));
        for (var attempt = 1; attempt <= Limit + 1; attempt++)
        {
            using var request = AdminRequest(NewAddress(), nobody, $"guess-{attempt}");
            using var response = await notAProxy.SendAsync(request);
            response.StatusCode.ShouldBe(attempt <= Limit ? HttpStatusCode.Forbidden : HttpStatusCode.TooManyRequests, $"attempt {attempt}");
        }
        // From the configured proxy (127.0.0.1) the same claims are believed: each address has one failure, none is refused.
        for (var attempt = 1; attempt <= Limit + 1; attempt++)
        {
            using var response = await Admin(NewAddress(), nobody, $"guess-{attempt}");
            response.StatusCode.ShouldBe(HttpStatusCode.Forbidden, $"attempt {attempt}");
        }
    }

    [Fact]
    public async Task oauth_token_requests_are_throttled_by_client_id_and_address()
    {
        var guesser = NewAddress();
        for (var attempt = 1; attempt <= Limit; attempt++)
        {
            using var wrong = await TokenRequest(guesser, "demo-client", $"guess-{attempt}");
            wrong.StatusCode.ShouldBe(HttpStatusCode.Unauthorized, $"attempt {attempt}");
        }
        using (var right = await TokenRequest(guesser, "demo-client", "demo-client-secret"))
        {
            right.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
            RetryAfter(right).ShouldBeInRange(1, 15 * 60);
            var body = (await right.Content.ReadFromJsonAsync<JsonObject>())!;
            body["error"]!.GetValue<string>().ShouldBe("temporarily_unavailable");
            body["errors"]!.AsArray().Single()!["field"]!.GetValue<string>().ShouldBe("client_id");
        }
        // Unknown client ids count the same; another client id or another address is not affected.
        var unknown = Api.NewId("client");
        for (var attempt = 1; attempt <= Limit; attempt++)
        {
            using var wrong = await TokenRequest(guesser, unknown, "guess");
            wrong.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        }
        using (var refused = await TokenRequest(guesser, unknown, "guess")) refused.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
        using (var other = await TokenRequest(guesser, "other-client", "other-client-secret")) other.StatusCode.ShouldBe(HttpStatusCode.OK);
        using (var elsewhere = await TokenRequest(NewAddress(), "demo-client", "demo-client-secret")) elsewhere.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    /// <summary>An address from a documentation range (RFC 3849): only ever the value of a header, never a destination.</summary>
    private static string NewAddress() => $"2001:db8::{Random.Shared.Next(1, 0xffff):x}:{Random.Shared.Next(1, 0xffff):x}";

    /// <summary>A browser behind the configured proxy, as the client at <paramref name="clientAddress"/>.</summary>
    private HttpClient BrowserAt(string clientAddress)
    {
        var browser = app.Browser();
        browser.DefaultRequestHeaders.Add("X-Forwarded-For", clientAddress);
        return browser;
    }

    private static HttpRequestMessage AdminRequest(string clientAddress, string user, string password)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/outputs");
        request.Headers.Authorization = AppFixture.Basic(user, password);
        request.Headers.Add("X-Forwarded-For", clientAddress);
        return request;
    }

    private async Task<HttpResponseMessage> Admin(string clientAddress, string user, string password)
    {
        using var request = AdminRequest(clientAddress, user, password);
        return await app.NewClient().SendAsync(request);
    }

    private async Task<HttpResponseMessage> TokenRequest(string clientAddress, string clientId, string secret)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/oauth/token")
        {
            Content = JsonContent.Create(new { client_id = clientId, client_secret = secret, audience = "https://api.mparticle.com", grant_type = "client_credentials" }),
        };
        request.Headers.Add("X-Forwarded-For", clientAddress);
        return await app.NewClient().SendAsync(request);
    }

    /// <summary>A client whose connections leave from <paramref name="source"/> (another loopback address) to the Host.</summary>
    private HttpClient From(IPAddress source) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, ct) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(source, 0));
                await socket.ConnectAsync(IPAddress.Loopback, context.DnsEndPoint.Port, ct); // the Host listens on 127.0.0.1 only
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch { socket.Dispose(); throw; }
        },
    }) { BaseAddress = app.Client.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

    private static int RetryAfter(HttpResponseMessage response) => int.Parse(response.Headers.GetValues("Retry-After").Single());
}
