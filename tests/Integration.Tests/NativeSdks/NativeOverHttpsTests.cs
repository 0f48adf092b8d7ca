using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;
using Npgsql;

namespace EventProfiles.Integration.Tests.NativeSdks;

/// <summary>
/// A second Host, started as an operator starts it for real devices (native-sdks.md §1.2): HTTPS only, Kestrel serving
/// a certificate file named by <c>Kestrel:Certificates:Default:Path</c>/<c>Password</c> (a throwaway self-signed one,
/// made here), on a schema of its own so the fixtures' ids are new to it. Its ingestion queue holds one batch and
/// nobody waits for room, so "over capacity" can be reached on purpose.
/// </summary>
public sealed class NativeHttpsHost : IAsyncLifetime
{
    private const string CertificatePassword = "throwaway-test-password";
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"ep-native-https-{Guid.NewGuid():N}");

    public string Schema { get; } = $"native_https_{DateTime.UtcNow:yyyyMMdd_HHmmss}_{Random.Shared.Next(1000, 9999)}";
    public string Connection { get; } = Environment.GetEnvironmentVariable("EVENTPROFILES_TEST_CONNECTION")
        ?? throw new InvalidOperationException("EVENTPROFILES_TEST_CONNECTION is not set. Run the tests with build/test.");
    /// <summary>The server's certificate (public part): the only one the test clients trust.</summary>
    public X509Certificate2 Certificate { get; private set; } = null!;
    public Uri BaseAddress { get; private set; } = null!;
    public HostProcess Process { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.1")], false)); // server authentication
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var pfx = Path.Combine(_folder, "eventprofiles.pfx");
        await File.WriteAllBytesAsync(pfx, created.Export(X509ContentType.Pfx, CertificatePassword));
        Certificate = X509CertificateLoader.LoadCertificate(created.RawData);

        var port = HostProcess.FreePort();
        BaseAddress = new Uri($"https://127.0.0.1:{port}");
        const string input = "EventProfiles__Org__Accounts__0__Workspaces__0__Inputs__4__"; // after the four of appsettings.Development.json
        Process = HostProcess.Start("Development", new Dictionary<string, string>
        {
            ["ConnectionStrings__EventProfiles"] = Connection,
            ["EventProfiles__Schema"] = Schema,
            ["Kestrel__Endpoints__Https__Url"] = BaseAddress.ToString().TrimEnd('/'),
            ["Kestrel__Certificates__Default__Path"] = pfx,
            ["Kestrel__Certificates__Default__Password"] = CertificatePassword,
            [input + "Name"] = "recorded-sdks",
            [input + "Kind"] = "Server",
            [input + "Key"] = AppFixture.RecordedKey,
            [input + "Secret"] = AppFixture.RecordedSecret,
            [input + "Environment"] = "development",
            ["EventProfiles__Ingestion__QueueCapacity"] = "1",
            ["EventProfiles__Ingestion__QueueWaitMs"] = "0",
            ["EventProfiles__Ingestion__RetryAfterSeconds"] = "7",
        });
        using var client = Client();
        await Process.WaitUntilLiveAsync(client);
    }

    /// <summary>An HTTPS client that trusts this server's certificate and no other (as an app that adds its root).</summary>
    public HttpClient Client(CookieContainer? cookies = null) =>
        new(new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                CertificateChainPolicy = new X509ChainPolicy
                {
                    TrustMode = X509ChainTrustMode.CustomRootTrust,
                    CustomTrustStore = { Certificate },
                    RevocationMode = X509RevocationMode.NoCheck,
                },
            },
            UseCookies = cookies is not null,
            CookieContainer = cookies ?? new CookieContainer(),
            AllowAutoRedirect = false,
        })
        { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

    public NpgsqlDataSource NewDataSource() => NpgsqlDataSource.Create(Connection);

    public async Task DisposeAsync()
    {
        if (Process is not null) await Process.DisposeAsync();
        Certificate?.Dispose();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}

/// <summary>
/// Issue 17 over HTTPS, as devices reach it: every fixture of Fixtures/native-sdks replayed byte for byte (headers,
/// gzip, signature) through a Host serving TLS from a certificate file; the answers the SDKs need, then what the fixtures
/// set, seen by the Profile API, the User Activity View's timeline and a webhook receiver. And over capacity: 429 with
/// Retry-After, nothing written.
/// </summary>
[Collection(AppCollection.Name)]
public class NativeOverHttpsTests(NativeHttpsHost host) : IClassFixture<NativeHttpsHost>
{
    private static readonly string[] AndroidFixtures =
        ["android-first-launch.json", "android-custom-events-and-screen-views.json", "android-commerce-purchase.json", "android-user-attributes.json", "android-opt-out.json"];
    private static readonly string[] IosFixtures =
        ["ios-first-launch.json", "ios-custom-events-and-screen-view.json", "ios-commerce-purchase.json", "ios-login-identity-change-and-consent.json"];

    private async Task<JsonObject> Replay(HttpClient client, NativeExchange exchange)
    {
        using var request = exchange.ToRequest();
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        ((int)response.StatusCode).ShouldBe(exchange.Status, $"{exchange.Name}: {text}");
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/json");
        var body = JsonNode.Parse(text)!.AsObject();
        body["dt"]!.GetValue<string>().ShouldBe("rh");
        body["ci"]!["ck"]!["uid"]!["c"]!.GetValue<string>().ShouldBe($"g={exchange.Body.GetProperty("das").GetString()}");
        return body;
    }

    private async Task<JsonObject> Profile(HttpClient client, long mpid)
    {
        using var token = await client.PostAsJsonAsync("/oauth/token", new
        {
            client_id = "demo-client", client_secret = "demo-client-secret", audience = "https://api.mparticle.com", grant_type = "client_credentials",
        });
        var access = (await token.Content.ReadFromJsonAsync<JsonObject>())!["access_token"]!.GetValue<string>();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/userprofile/v1/1/1/1/{mpid}?fields={Api.AllFields}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", access);
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    [Fact]
    public async Task the_fixtures_replayed_over_https_are_answered_as_the_sdks_need_and_show_in_the_profile_the_timeline_and_a_forwarded_batch()
    {
        // TLS is real: a client that trusts only the usual roots refuses this certificate.
        using (var untrusting = new HttpClient { BaseAddress = host.BaseAddress })
            await Should.ThrowAsync<HttpRequestException>(() => untrusting.GetAsync("/health/live"));

        using var client = host.Client();
        using var admin = host.Client();
        admin.DefaultRequestHeaders.Authorization = AppFixture.Basic("admin", "admin-password");
        await using var receiver = await Receiver.StartAsync();
        using (var output = await admin.PostAsJsonAsync("/api/admin/outputs", new { name = Api.NewId("out"), kind = "webhook", webhook = new { url = receiver.Url } }))
        {
            var created = JsonNode.Parse(await output.Content.ReadAsStringAsync())!;
            output.StatusCode.ShouldBe(HttpStatusCode.Created, created.ToJsonString());
            using var connection = await admin.PostAsJsonAsync("/api/admin/connections",
                new { input = "recorded-sdks", output_id = created["id"]!.GetValue<string>(), active = true });
            connection.StatusCode.ShouldBe(HttpStatusCode.Created, await connection.Content.ReadAsStringAsync());
        }

        // Configuration first (iOS uploads nothing before it): 200 with an ETag, then 304.
        string? etag = null;
        foreach (var exchange in NativeExchange.Load("config-response.json"))
        {
            using var request = exchange.ToRequest(headers: h => { if (h.ContainsKey("if-none-match") && etag is not null) h["if-none-match"] = etag; });
            using var response = await client.SendAsync(request);
            ((int)response.StatusCode).ShouldBe(exchange.Status, exchange.Name);
            etag ??= response.Headers.GetValues("ETag").Single();
        }
        etag.ShouldNotBeNull();

        var mpids = new Dictionary<string, List<long>> { ["android"] = [], ["ios"] = [] };
        foreach (var file in AndroidFixtures.Concat(IosFixtures))
            mpids[file.Split('-')[0]].Add((await Replay(client, NativeExchange.Load(file).Single()))["ci"]!["mpid"]!.GetValue<long>());
        var android = mpids["android"].Distinct().ShouldHaveSingleItem();
        var ios = mpids["ios"].Distinct().ShouldHaveSingleItem();
        // The fixtures carry no IDFA (iOS sends it only once ATT is authorized): the same device's next upload does.
        var att = NativeExchange.Load("ios-first-launch.json").Single().Body;
        var idfa = "6D92078A-8246-4BA4-AE5B-76104861E7DC";
        var later = $"{{\"dt\":\"h\",\"id\":\"{Guid.NewGuid()}\",\"mpid\":{att.GetProperty("mpid").GetRawText()},\"das\":\"{att.GetProperty("das").GetString()}\","
                    + $"\"di\":{{\"vid\":\"3F2504E0-4F89-41D3-9A0C-0305E82C3301\",\"aid\":\"{idfa}\",\"atts\":\"authorized\",\"attt\":1717510500000,\"dp\":\"iOS\"}},"
                    + $"\"msgs\":[{{\"dt\":\"e\",\"id\":\"{Guid.NewGuid()}\",\"ct\":1717510500001,\"n\":\"Tracking Allowed\",\"et\":\"Other\"}}]}}";
        using (var response = await client.SendAsync(NativeExchange.Signed(later)))
            response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());

        // The Profile API.
        var androidProfile = await Profile(client, android);
        var text = androidProfile.ToJsonString();
        androidProfile.Attribute("membership_tier").ShouldBe(["gold"], text);
        androidProfile.Attribute("favorite_categories").ShouldBe(["running", "hiking", "yoga"], text);
        androidProfile["user_attributes"]!.AsObject().ContainsKey("newsletter_opt_in").ShouldBeTrue(text); // a tag
        androidProfile["user_attributes"]!.AsObject().ContainsKey("legacy_segment").ShouldBeFalse(text); // removed
        text.ShouldContain("38400000-8cf0-11bd-b23e-10b96e40000d"); // GAID
        var iosProfile = await Profile(client, ios);
        text = iosProfile.ToJsonString();
        iosProfile.Identities().ShouldContain("customer_id=C-100234", text);
        iosProfile.Identities().ShouldContain("email=ana.silva@example.org", text);
        iosProfile.Identities().ShouldNotContain("email=ana.old@example.org", text);
        text.ShouldContain("3F2504E0-4F89-41D3-9A0C-0305E82C3301"); // IDFV
        text.ShouldContain(idfa);
        iosProfile["consent_state"]!["gdpr"]!["marketing"]!["consented"]!.GetValue<bool>().ShouldBeTrue(text);
        iosProfile["consent_state"]!["ccpa"]!["data_sale_opt_out"]!["consented"]!.GetValue<bool>().ShouldBeFalse(text);

        // The User Activity View's timeline, as the web UI reads it.
        using var browser = host.Client(new CookieContainer());
        using (var signIn = await browser.PostAsync("/ui/sign-in", new FormUrlEncodedContent(new Dictionary<string, string>
               { ["username"] = "admin", ["password"] = "admin-password", ["returnUrl"] = "/ui/" })))
            signIn.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        var androidTimeline = await Timeline(browser, android);
        androidTimeline.Types.ShouldBe(["application_state_transition", "commerce_event", "custom_event", "first_run", "opt_out", "screen_view", "session_end", "session_start", "user_attribute_change"], ignoreOrder: true);
        androidTimeline.Json.ShouldContain("legacy_segment"); // the removal, kept as its change event
        androidTimeline.Names.ShouldContain("Product List");
        androidTimeline.Names.ShouldContain("Checkout Started");
        androidTimeline.Json.ShouldContain("Trail Runner 2"); // the purchase's products
        androidTimeline.Json.ShouldContain("38400000-8cf0-11bd-b23e-10b96e40000d"); // device info with the GAID
        androidTimeline.Json.ShouldContain("Pixel 7");
        var iosTimeline = await Timeline(browser, ios);
        iosTimeline.Types.ShouldContain("commerce_event");
        iosTimeline.Types.ShouldContain("screen_view");
        iosTimeline.Types.ShouldContain("session_start");
        iosTimeline.Names.ShouldContain("Login Completed");
        iosTimeline.Names.ShouldContain("Home");
        iosTimeline.Json.ShouldContain("Sport Socks (3-pack)");
        iosTimeline.Json.ShouldContain(idfa);
        iosTimeline.Json.ShouldContain("authorized"); // ATT status

        // A forwarded batch at the webhook: what the device set, as the Events API shape.
        await Waiting.Until(() => Task.FromResult(Forwarded(receiver, android).Count >= AndroidFixtures.Length && Forwarded(receiver, ios).Count >= IosFixtures.Length + 1),
            "the native batches at the webhook", 60);
        var androidOut = Forwarded(receiver, android);
        androidOut.ShouldAllBe(b => b["source_info"]!["channel"]!.GetValue<string>() == "native");
        var lastAndroid = androidOut.Single(b => b.ToJsonString().Contains("Privacy Settings Opened"));
        lastAndroid["user_attributes"]!["favorite_categories"]!.AsArray().Select(v => v!.GetValue<string>()).ShouldBe(["running", "hiking", "yoga"]);
        lastAndroid["user_attributes"]!.AsObject().ContainsKey("legacy_segment").ShouldBeFalse();
        lastAndroid["device_info"]!.ToJsonString().ShouldContain("38400000-8cf0-11bd-b23e-10b96e40000d");
        lastAndroid["events"]!.AsArray().Select(e => e!["event_type"]!.GetValue<string>()).ShouldBe(["custom_event", "opt_out", "session_end"]);
        var androidAll = string.Join("\n", androidOut.Select(b => b.ToJsonString()));
        androidAll.ShouldContain("\"commerce_event\"");
        androidAll.ShouldContain("Trail Runner 2");
        androidAll.ShouldContain("\"screen_view\"");
        androidAll.ShouldContain("\"session_start\"");
        var iosOut = Forwarded(receiver, ios);
        var login = iosOut.Single(b => b.ToJsonString().Contains("Login Completed"));
        login["user_identities"]!.AsArray().Select(i => $"{i!["identity_type"]}={i["identity"]}").ShouldContain("email=ana.silva@example.org");
        login["consent_state"]!["gdpr"]!["marketing"]!["consented"]!.GetValue<bool>().ShouldBeTrue();
        login["consent_state"]!["ccpa"]!["data_sale_opt_out"]!["consented"]!.GetValue<bool>().ShouldBeFalse();
        var tracking = iosOut.Single(b => b.ToJsonString().Contains("Tracking Allowed"));
        tracking["device_info"]!["ios_advertising_id"]!.GetValue<string>().ShouldBe(idfa);
        tracking["device_info"]!["ios_idfv"]!.GetValue<string>().ShouldBe("3F2504E0-4F89-41D3-9A0C-0305E82C3301");
        tracking["device_info"]!["att_authorization_status"]!.GetValue<string>().ShouldBe("authorized");
        string.Join("\n", iosOut.Select(b => b.ToJsonString())).ShouldContain("Sport Socks (3-pack)");
    }

    private static List<JsonObject> Forwarded(Receiver receiver, long mpid) =>
        receiver.Received.Select(r => r.Batch).Where(b => b["mpid"]?.GetValue<long>() == mpid).ToList();

    private static async Task<(List<string> Types, List<string> Names, string Json)> Timeline(HttpClient browser, long mpid)
    {
        using var response = await browser.GetAsync($"/ui/api/people/{mpid}/events?size=200");
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        var page = JsonNode.Parse(text)!;
        var events = page["events"]!.AsArray();
        return (page["event_types"]!.AsArray().Select(t => t!.GetValue<string>()).ToList(),
            events.Select(e => e!["name"]?.GetValue<string>()).OfType<string>().ToList(),
            string.Join("\n", events.Select(e => e!["json"]!.GetValue<string>())));
    }

    [Fact]
    public async Task over_capacity_a_native_upload_and_an_events_api_batch_get_429_with_retry_after_and_nothing_is_written()
    {
        using var client = host.Client();
        await using var db = host.NewDataSource();
        // Hold the identity index (ours) so the one batch the queue may hold stays in it, waiting for the lock.
        await using var blocker = await db.OpenConnectionAsync();
        await using var lockTx = await blocker.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand($"lock table {host.Schema}.ep_identity_index in access exclusive mode", blocker, lockTx))
            await command.ExecuteNonQueryAsync();

        var first = $"{{\"dt\":\"h\",\"id\":\"{Guid.NewGuid()}\",\"mpid\":\"{Random.Shared.NextInt64(1_000_000_000, long.MaxValue)}\",\"das\":\"{Guid.NewGuid()}\","
                    + $"\"msgs\":[{{\"dt\":\"e\",\"id\":\"{Guid.NewGuid()}\",\"ct\":1717510410000,\"n\":\"first\",\"et\":\"Other\"}}]}}";
        var queued = client.SendAsync(NativeExchange.Signed(first));
        await Waiting.Until(async () =>
        {
            await using var waiting = db.CreateCommand(
                "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query like $1");
            waiting.Parameters.AddWithValue($"%from {host.Schema}.ep_identity_index i join unnest%"); // the resolver's lookup
            return (long)(await waiting.ExecuteScalarAsync())! > 0;
        }, "the first batch to wait for the locked identity index", 60);

        var before = await Counts(db);
        var secondId = Guid.NewGuid().ToString();
        var second = $"{{\"dt\":\"h\",\"id\":\"{secondId}\",\"mpid\":\"{Random.Shared.NextInt64(1_000_000_000, long.MaxValue)}\",\"das\":\"{Guid.NewGuid()}\","
                     + $"\"msgs\":[{{\"dt\":\"e\",\"id\":\"{Guid.NewGuid()}\",\"ct\":1717510410000,\"n\":\"second\",\"et\":\"Other\"}}]}}";
        using (var response = await client.SendAsync(NativeExchange.Signed(second)))
        {
            ((int)response.StatusCode).ShouldBe(429, await response.Content.ReadAsStringAsync());
            response.Headers.RetryAfter!.Delta.ShouldBe(TimeSpan.FromSeconds(7));
        }
        using (var events = new HttpRequestMessage(HttpMethod.Post, "/v2/events"))
        {
            var customer = Api.NewId("over");
            events.Content = new StringContent(
                $"{{\"environment\":\"development\",\"user_identities\":{{\"customer_id\":\"{customer}\"}},"
                + "\"events\":[{\"event_type\":\"custom_event\",\"data\":{\"event_name\":\"over\",\"custom_event_type\":\"other\"}}]}",
                System.Text.Encoding.UTF8, "application/json");
            events.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
            using var response = await client.SendAsync(events);
            ((int)response.StatusCode).ShouldBe(429, await response.Content.ReadAsStringAsync());
            response.Headers.RetryAfter!.Delta.ShouldBe(TimeSpan.FromSeconds(7));
        }
        (await Counts(db)).ShouldBe(before);

        await lockTx.RollbackAsync();
        using (var answered = await queued)
            answered.StatusCode.ShouldBe(HttpStatusCode.Accepted, await answered.Content.ReadAsStringAsync());
        // The SDK keeps a batch answered 429 and sends it again: now there is room, and it is stored.
        using (var again = await client.SendAsync(NativeExchange.Signed(second)))
            again.StatusCode.ShouldBe(HttpStatusCode.Accepted, await again.Content.ReadAsStringAsync());
    }

    private async Task<(long Events, long Streams)> Counts(NpgsqlDataSource db)
    {
        await using var command = db.CreateCommand($"select (select count(*) from {host.Schema}.mt_events), (select count(*) from {host.Schema}.mt_streams)");
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }
}
