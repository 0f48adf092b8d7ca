using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Profiles;

/// <summary>
/// Issue 21 §2 and §3 through the real Host: the Profile API <c>as_of</c> an instant (by MPID and by <c>resolve</c>),
/// erasure reaching back, an attribute's history with inputs and batches, <c>include=provenance</c>, and a calculated
/// attribute's history naming its definition.
/// </summary>
[Collection(AppCollection.Name)]
public sealed class ProfileHistoryTests(AppFixture app)
{
    private static string Batch(string customer, string attributes, string events = "[]") => $$"""
        { "environment": "development", "user_identities": { "customer_id": "{{customer}}" },
          "user_attributes": {{attributes}}, "events": {{events}} }
        """;

    /// <summary>
    /// A moment strictly between two writes: after the first was answered 202 (its events are stored, with the
    /// database's time, which is this machine's clock) and before the next is sent.
    /// </summary>
    private static async Task<DateTimeOffset> Between()
    {
        await Task.Delay(20); // the stored times have microseconds: keep the instant clear of the neighbouring writes
        var at = DateTimeOffset.UtcNow;
        await Task.Delay(20);
        return at;
    }

    private static string Iso(DateTimeOffset at) => Uri.EscapeDataString(at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture));

    private async Task<HttpResponseMessage> Get(string path, string? token = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token ?? await app.Token());
        return await app.Client.SendAsync(request);
    }

    private async Task<HttpResponseMessage> AsOf(long mpid, string asOf, int workspace = 1, string? token = null, string fields = Api.AllFields) =>
        await Get($"/userprofile/v1/1/1/{workspace}/{mpid}?fields={fields}&as_of={asOf}", token);

    private async Task<HttpResponseMessage> ResolveAsOf(string customer, string asOf)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/userprofile/v1/resolve/1/1/1?fields={Api.AllFields}&as_of={asOf}")
        {
            Content = JsonContent.Create(new { environment_type = "development", identity = new { type = "customer_id", value = customer } }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await app.Token());
        return await app.Client.SendAsync(request);
    }

    private static async Task<JsonObject> Ok(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>The person's batch ids in stream order, with the input each came through, as stored.</summary>
    private async Task<List<(string BatchId, string Input)>> BatchesOf(long mpid)
    {
        await using var command = app.Db.CreateCommand(
            $"select data->>'BatchId', data->>'Input' from {app.Schema}.mt_events where stream_id = $1 and type = 'batch_received' order by version");
        command.Parameters.AddWithValue(mpid.ToString(CultureInfo.InvariantCulture));
        await using var reader = await command.ExecuteReaderAsync();
        var batches = new List<(string, string)>();
        while (await reader.ReadAsync()) batches.Add((reader.GetString(0), reader.GetString(1)));
        return batches;
    }

    [Fact]
    public async Task as_of_shows_the_profile_before_and_after_an_attribute_change_by_mpid_and_by_resolve()
    {
        var customer = Api.NewId("asof");
        var beforeAll = await Between();
        await app.Ingested(Batch(customer, """{ "plan": "free", "city": "Oslo" }"""));
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
        var between = await Between();
        await app.Ingested(Batch(customer, """{ "plan": "pro" }"""));
        var after = await Between();

        (await Ok(await AsOf(mpid, Iso(between)))).Attribute("plan").ShouldBe(["free"]);
        (await Ok(await AsOf(mpid, Iso(after)))).Attribute("plan").ShouldBe(["pro"]);
        (await Ok(await ResolveAsOf(customer, Iso(between)))).Attribute("plan").ShouldBe(["free"]);
        var then = await Ok(await ResolveAsOf(customer, Iso(after)));
        then.Attribute("plan").ShouldBe(["pro"]);
        then.Attribute("city").ShouldBe(["Oslo"]);
        then.Identities().ShouldContain($"customer_id={customer}");
        // Today's read is unchanged and carries no provenance unless asked.
        var now = await app.ProfileOf(customer);
        now.Attribute("plan").ShouldBe(["pro"]);
        now.ContainsKey("attribute_provenance").ShouldBeFalse();

        // Before the person existed: 404; malformed or future: 400 naming as_of.
        using (var early = await AsOf(mpid, Iso(beforeAll))) early.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        using (var resolvedEarly = await ResolveAsOf(customer, Iso(beforeAll))) resolvedEarly.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        foreach (var bad in new[] { "yesterday", "2026-10-01", "2026-10-01T12:00:00", Iso(DateTimeOffset.UtcNow.AddYears(5)) })
        {
            using var refused = await AsOf(mpid, Uri.EscapeDataString(Uri.UnescapeDataString(bad)));
            refused.StatusCode.ShouldBe(HttpStatusCode.BadRequest, bad);
            (await refused.Errors()).Select(e => e.Field).ShouldBe(["as_of"], bad);
        }
        // Same authorisation as today: another workspace's client may not read workspace 1, as of any date.
        using var forbidden = await AsOf(mpid, Iso(after), token: await app.Token("other-client", "other-client-secret"));
        forbidden.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task as_of_before_an_erasure_shows_nothing_that_was_erased()
    {
        // Known in both workspaces; workspace 2 erases its part later.
        var customer = Api.NewId("asof-erase");
        await app.Ingested(Batch(customer, """{ "plan": "pro" }""", """[ { "event_type": "custom_event", "data": { "event_name": "Viewed", "custom_event_type": "other" } } ]"""));
        await app.Ingested(Batch(customer, """{ "secret_ws2": "only-2" }"""), key: Api.OtherKey, secret: Api.OtherSecret);
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
        var otherToken = await app.Token("other-client", "other-client-secret");
        var beforeErasure = await Between();
        (await Ok(await AsOf(mpid, Iso(beforeErasure), workspace: 2, token: otherToken))).Attribute("secret_ws2").ShouldBe(["only-2"]);
        await app.CatchUpDaemon();

        var id = Guid.NewGuid().ToString();
        using (var submit = new HttpRequestMessage(HttpMethod.Post, "/v3/requests"))
        {
            submit.Headers.Authorization = AppFixture.Basic(Api.OtherKey, Api.OtherSecret);
            submit.Content = new StringContent($$"""
                { "regulation": "gdpr", "subject_request_id": "{{id}}", "subject_request_type": "erasure", "submitted_time": "2026-11-01T10:00:00Z",
                  "subject_identities": { "controller_customer_id": { "value": "{{customer}}", "encoding": "raw" } }, "api_version": "3.0",
                  "extensions": { "opendsr.mparticle.com": { "skip_waiting_period": true } } }
                """, System.Text.Encoding.UTF8, "application/json");
            using var created = await app.Client.SendAsync(submit);
            created.StatusCode.ShouldBe(HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        }
        await Waiting.Until(async () =>
        {
            await Task.Delay(200); // status calls count against the workspace's OpenDSR rate limit
            using var status = new HttpRequestMessage(HttpMethod.Get, $"/v3/requests/{id}");
            status.Headers.Authorization = AppFixture.Basic(Api.OtherKey, Api.OtherSecret);
            using var response = await app.Client.SendAsync(status);
            return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["request_status"]!.GetValue<string>() == "completed";
        }, "the erasure", 60);

        // Workspace 2 erased its part: as of a date before the erasure it is gone too, and its history with it.
        using (var erased = await AsOf(mpid, Iso(beforeErasure), workspace: 2, token: otherToken)) erased.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        using (var history = await Get($"/userprofile/v1/1/1/2/{mpid}/attributes/secret_ws2/history", otherToken)) history.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        // Workspace 1 keeps its own part, as it stood then, with nothing of workspace 2's.
        var kept = await Ok(await AsOf(mpid, Iso(beforeErasure)));
        kept.Attribute("plan").ShouldBe(["pro"]);
        kept["user_attributes"]!.AsObject().ContainsKey("secret_ws2").ShouldBeFalse();

        // A person erased entirely (their only workspace asked) is gone as of every date.
        var alone = Api.NewId("asof-gone");
        await app.Ingested(Batch(alone, """{ "plan": "free" }"""));
        var aloneMpid = (await app.ProfileOf(alone))["mpid"]!.GetValue<long>();
        var beforeWhole = await Between();
        (await Ok(await AsOf(aloneMpid, Iso(beforeWhole)))).Attribute("plan").ShouldBe(["free"]);
        await app.CatchUpDaemon();
        await DataSubjectRequests.EraseCustomerAsync(app, alone);
        using var gone = await AsOf(aloneMpid, Iso(beforeWhole));
        gone.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task an_attributes_history_names_each_value_s_input_and_batch_across_two_inputs_and_pages()
    {
        var customer = Api.NewId("history");
        await app.Ingested(Batch(customer, """{ "plan": "free" }"""));
        await app.Ingested(Batch(customer, """{ "plan": "pro" }"""), key: AppFixture.SecondKey, secret: AppFixture.SecondSecret);
        await app.Ingested(Batch(customer, """{ "other": "x" }"""));
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
        var batches = await BatchesOf(mpid);
        batches.Select(b => b.Input).ShouldBe(["demo-server", "second-server", "demo-server"]);

        var all = await Ok(await Get($"/userprofile/v1/1/1/1/{mpid}/attributes/plan/history"));
        all["attribute"]!.GetValue<string>().ShouldBe("plan");
        all["calculated_attribute"].ShouldBeNull();
        var history = all["history"]!.AsArray().Select(h => h!.AsObject()).ToList();
        history.Select(h => (h["value"]!.GetValue<string>(), h["input"]!.GetValue<string>(), h["batch_id"]!.GetValue<string>(), h["applied"]!.GetValue<bool>()))
            .ShouldBe([("free", "demo-server", batches[0].BatchId, true), ("pro", "second-server", batches[1].BatchId, true)]);
        history[0]["stored_timestamp_ms"]!.GetValue<long>().ShouldBeLessThanOrEqualTo(history[1]["stored_timestamp_ms"]!.GetValue<long>());
        all["next_cursor"].ShouldBeNull();

        // Paged: one per page, the cursor leading to the next.
        var first = await Ok(await Get($"/userprofile/v1/1/1/1/{mpid}/attributes/plan/history?limit=1"));
        first["history"]!.AsArray().Single()!["value"]!.GetValue<string>().ShouldBe("free");
        var cursor = first["next_cursor"]!.GetValue<string>();
        var second = await Ok(await Get($"/userprofile/v1/1/1/1/{mpid}/attributes/plan/history?limit=1&after={cursor}"));
        second["history"]!.AsArray().Single()!["value"]!.GetValue<string>().ShouldBe("pro");
        second["next_cursor"].ShouldBeNull();

        using (var badLimit = await Get($"/userprofile/v1/1/1/1/{mpid}/attributes/plan/history?limit=0"))
        {
            badLimit.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
            (await badLimit.Errors()).Select(e => e.Field).ShouldBe(["limit"]);
        }
        using (var unknown = await Get($"/userprofile/v1/1/1/1/{mpid}/attributes/never_set/history")) unknown.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        using (var forbidden = await Get($"/userprofile/v1/1/1/1/{mpid}/attributes/plan/history", await app.Token("other-client", "other-client-secret")))
            forbidden.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task provenance_names_the_input_and_time_of_each_current_value()
    {
        var customer = Api.NewId("provenance");
        await app.Ingested(Batch(customer, """{ "plan": "free", "city": "Oslo" }"""));
        await app.Ingested(Batch(customer, """{ "plan": "pro" }"""), key: AppFixture.SecondKey, secret: AppFixture.SecondSecret);
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
        var batches = await BatchesOf(mpid);

        var profile = await Ok(await Get($"/userprofile/v1/1/1/1/{mpid}?fields=user_attributes&include=provenance"));
        var provenance = profile["attribute_provenance"]!.AsObject();
        provenance["plan"]!["input"]!.GetValue<string>().ShouldBe("second-server");
        provenance["plan"]!["batch_id"]!.GetValue<string>().ShouldBe(batches[1].BatchId);
        provenance["city"]!["input"]!.GetValue<string>().ShouldBe("demo-server");
        provenance["city"]!["batch_id"]!.GetValue<string>().ShouldBe(batches[0].BatchId);
        provenance["plan"]!["stored_timestamp_ms"]!.GetValue<long>().ShouldBeGreaterThanOrEqualTo(provenance["city"]!["stored_timestamp_ms"]!.GetValue<long>());
        profile.Attribute("plan").ShouldBe(["pro"]);

        // By resolve too, and as of a date: the provenance then.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/userprofile/v1/resolve/1/1/1?fields=user_attributes&include=provenance")
        {
            Content = JsonContent.Create(new { environment_type = "development", identity = new { type = "customer_id", value = customer } }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", await app.Token());
        (await Ok(await app.Client.SendAsync(request)))["attribute_provenance"]!["plan"]!["input"]!.GetValue<string>().ShouldBe("second-server");

        using var badInclude = await Get($"/userprofile/v1/1/1/1/{mpid}?fields=user_attributes&include=everything");
        badInclude.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await badInclude.Errors()).Select(e => e.Field).ShouldBe(["include"]);
    }

    [Fact]
    public async Task a_calculated_attributes_history_names_its_definition_and_as_of_shows_its_value_then()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var name = $"paid_{s}";
        var eventName = $"Paid{s}";
        var since = DateTimeOffset.UtcNow.AddDays(-1).ToString("O", CultureInfo.InvariantCulture);
        var id = await app.ActiveCalculatedAttribute(name, $$"""
            { "recipe_type": "event", "data_point": { "type": "event", "event_type": "custom_event", "event_name": "{{eventName}}", "attribute_name": "amount" },
              "conditions": [], "calculation_type": "sum", "time_period": { "type": "since", "date": "{{since}}" } }
            """);
        string Paid(int amount) => $$"""[ { "event_type": "custom_event", "data": { "event_name": "{{eventName}}", "custom_event_type": "other", "custom_attributes": { "amount": {{amount}} } } } ]""";
        var customer = Api.NewId("calc-history");
        await app.Ingested(Batch(customer, "{}", Paid(5)));
        var between = await Between();
        await app.Ingested(Batch(customer, "{}", Paid(7)), key: AppFixture.SecondKey, secret: AppFixture.SecondSecret);
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
        var batches = await BatchesOf(mpid);
        await app.CatchUpDaemon();

        (await Ok(await AsOf(mpid, Iso(between)))).Attribute(name).ShouldBe(["5"]);
        (await Ok(await AsOf(mpid, Iso(await Between())))).Attribute(name).ShouldBe(["12"]);
        (await app.ProfileOf(customer)).Attribute(name).ShouldBe(["12"]);

        var history = await Ok(await Get($"/userprofile/v1/1/1/1/{mpid}/attributes/{name}/history"));
        var definition = history["calculated_attribute"]!.AsObject();
        definition["id"]!.GetValue<int>().ShouldBe(id);
        definition["calculation_type"]!.GetValue<string>().ShouldBe("sum");
        definition["definition"]!["data_point"]!["event_name"]!.GetValue<string>().ShouldBe(eventName);
        var values = history["history"]!.AsArray().Select(h => h!.AsObject()).ToList();
        values.Select(v => (v["value"]!.GetValue<string>(), v["batch_id"]!.GetValue<string>(), v["input"]!.GetValue<string>()))
            .ShouldBe([("5", batches[0].BatchId, "demo-server"), ("12", batches[1].BatchId, "second-server")]);
        values.ShouldAllBe(v => v["source"]!.GetValue<string>() == "calculated_attribute");
        values[1]["events_from_timestamp_ms"]!.GetValue<long>().ShouldBeLessThanOrEqualTo(values[1]["events_to_timestamp_ms"]!.GetValue<long>());

        // include=provenance says the value is calculated.
        (await Ok(await Get($"/userprofile/v1/1/1/1/{mpid}?fields=user_attributes&include=provenance")))["attribute_provenance"]![name]!["source"]!.GetValue<string>()
            .ShouldBe("calculated_attribute");
    }

    [Fact]
    public async Task a_stream_longer_than_the_bound_is_refused_with_a_422_and_the_default_read_still_serves_it()
    {
        var customer = Api.NewId("long");
        var events = string.Join(",", Enumerable.Range(0, AppFixture.HistoryMaxEvents + 1).Select(i =>
            $$"""{ "event_type": "custom_event", "data": { "event_name": "Tick", "custom_event_type": "other" } }"""));
        await app.Ingested(Batch(customer, """{ "plan": "free" }""", $"[{events}]"));
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();

        using (var asOf = await AsOf(mpid, Iso(await Between())))
        {
            asOf.StatusCode.ShouldBe(HttpStatusCode.UnprocessableEntity);
            (await asOf.Errors()).Select(e => e.Field).ShouldBe(["as_of"]);
        }
        using (var provenance = await Get($"/userprofile/v1/1/1/1/{mpid}?fields=user_attributes&include=provenance"))
        {
            provenance.StatusCode.ShouldBe(HttpStatusCode.UnprocessableEntity);
            (await provenance.Errors()).Select(e => e.Field).ShouldBe(["include"]);
        }
        using (var history = await Get($"/userprofile/v1/1/1/1/{mpid}/attributes/plan/history")) history.StatusCode.ShouldBe(HttpStatusCode.UnprocessableEntity);
        (await app.ProfileOf(customer)).Attribute("plan").ShouldBe(["free"]);
    }

    [Fact]
    public async Task the_profile_page_shows_a_person_as_of_a_date_and_an_attributes_history_with_its_own_authorisation()
    {
        var customer = Api.NewId("ui-asof");
        await app.Ingested(Batch(customer, """{ "plan": "free" }"""));
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
        var between = await Between();
        await app.Ingested(Batch(customer, """{ "plan": "pro" }"""), key: AppFixture.SecondKey, secret: AppFixture.SecondSecret);
        using var admin = await app.SignedIn();

        static string? PlanOf(JsonObject person) => person["workspaces"]!.AsArray().Single(w => w!["id"]!.GetValue<int>() == 1)!["user_attributes"]!.AsArray()
            .Single(a => a!["name"]!.GetValue<string>() == "plan")!["value"]!.GetValue<string>();
        PlanOf(await admin.UiJson($"/ui/api/people/{mpid}?as_of={Iso(between)}")).ShouldBe("free");
        PlanOf(await admin.UiJson($"/ui/api/people/{mpid}")).ShouldBe("pro");
        using (var future = await admin.GetAsync($"/ui/api/people/{mpid}?as_of={Iso(DateTimeOffset.UtcNow.AddYears(1))}"))
            future.StatusCode.ShouldBe(HttpStatusCode.BadRequest);

        var history = await admin.UiJson($"/ui/api/people/{mpid}/workspaces/1/attributes/plan/history");
        history["history"]!.AsArray().Select(h => h!["input"]!.GetValue<string>()).ShouldBe(["demo-server", "second-server"]);
        // A user limited to workspace 2 sees nothing of workspace 1's person.
        using var support = await app.SignedIn(AppFixture.SupportUser, AppFixture.SupportPassword);
        using var hidden = await support.GetAsync($"/ui/api/people/{mpid}/workspaces/1/attributes/plan/history");
        hidden.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task as_of_shows_real_time_audience_memberships_as_they_stood_then()
    {
        var s = Guid.NewGuid().ToString("N")[..8];
        var audience = await app.ActiveAudience($"Gold as of {s}", $$"""
            [ { "kind": "user_attribute", "attribute_name": "tier_{{s}}", "type": "string", "operator": "equals", "value": "gold" } ]
            """);
        var customer = Api.NewId("asof-audience");
        await app.Ingested(Batch(customer, $$"""{ "tier_{{s}}": "silver" }"""));
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
        var silver = await Between();
        await app.Ingested(Batch(customer, $$"""{ "tier_{{s}}": "gold" }"""));
        var gold = await Between();
        await app.CatchUpDaemon();

        static int[] Memberships(JsonObject profile) => profile["audience_memberships"]!.AsArray().Select(m => m!["audience_id"]!.GetValue<int>()).ToArray();
        Memberships(await Ok(await AsOf(mpid, Iso(silver)))).ShouldNotContain(audience);
        Memberships(await Ok(await AsOf(mpid, Iso(gold)))).ShouldContain(audience);
        (await app.MembershipsOf(customer)).ShouldContain(audience);
    }
}
