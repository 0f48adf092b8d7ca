using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Identity;

/// <summary>
/// Issue 21 §4, merge guards with the default policy (a value on more than 5 people, more than 10 new identities of one
/// type in a day, more than 20 new devices in an hour): a hot identity's batches are stored but their links held, the
/// person is flagged and listed, an operator can accept, and an ordinary login still merges.
/// </summary>
[Collection(AppCollection.Name)]
public class MergeGuardTests(AppFixture app)
{
    private static readonly string[] DeviceTypes = ["ios_idfv", "android_uuid", "ios_advertising_id", "android_advertising_id", "push_token"];

    [Fact]
    public async Task one_email_on_fifty_devices_in_an_hour_is_held_and_flagged_not_merged()
    {
        var email = $"{Api.NewId("hot")}@example.org";
        // Five device types in turn: no type passes 10 in the day, so it is the devices-per-hour rule that holds.
        var devices = Enumerable.Range(0, 50).Select(i => (Type: DeviceTypes[i % DeviceTypes.Length], Value: Api.NewId($"hot-device-{i}"))).ToList();
        foreach (var (type, value) in devices)
            await app.Ingested(Batch($$""" "user_identities": { "email": "{{email}}" }, "device_info": { "{{type}}": "{{value}}" } """));

        var holders = await HoldersAsync(email);
        holders.Count.ShouldBe(1, "the email stays on one person");
        var person = holders[0];
        (await EventsOfAsync(person)).ShouldBe(50, "every batch is stored, on the email's person");
        var linked = new List<string>();
        foreach (var (_, value) in devices) if ((await HoldersAsync(value)).Contains(person)) linked.Add(value);
        linked.ShouldBe(devices.Take(20).Select(d => d.Value).ToList(), "the first 20 devices are linked, the others held");

        var flagged = await FlaggedAsync(person);
        flagged.ShouldNotBeNull("the person is on the list of flagged people");
        var held = flagged["held"]!.AsArray();
        held.Count.ShouldBe(30);
        held.ShouldAllBe(h => h!["reason"]!.GetValue<string>() == "devices_per_hour");
        held.Select(h => h!["value"]!.GetValue<string>()).ShouldBe(devices.Skip(20).Select(d => d.Value), ignoreOrder: true);

        // The stream says so, and /metrics shows the policy and the held links.
        (await CountAsync($"select count(*) from {app.Schema}.mt_events where stream_id = $1 and type = 'merge_held'", person.ToString(CultureInfo.InvariantCulture)))
            .ShouldBe(30);
        var metrics = await MetricsAsync();
        metrics.ShouldContain(l => l.StartsWith("eventprofiles_identity_merge_guard_limit", StringComparison.Ordinal)
            && l.Contains("rule=\"devices_per_hour\"", StringComparison.Ordinal) && l.EndsWith(" 20", StringComparison.Ordinal));
        metrics.ShouldContain(l => l.StartsWith("eventprofiles_identity_merges_held_total", StringComparison.Ordinal)
            && l.Contains("reason=\"devices_per_hour\"", StringComparison.Ordinal)
            && double.Parse(l.Substring(l.LastIndexOf(" ", StringComparison.Ordinal) + 1), CultureInfo.InvariantCulture) >= 30);

        // The operator accepts: the held devices are linked as the batches would have linked them; the flag goes.
        using var admin = app.AdminClient();
        using (var accepted = await admin.PostAsync($"/api/admin/people/{person}/held-merges/accept", null))
        {
            var text = await accepted.Content.ReadAsStringAsync();
            accepted.StatusCode.ShouldBe(HttpStatusCode.OK, text);
            JsonNode.Parse(text)!["linked"]!.AsArray().Count.ShouldBe(30);
        }
        foreach (var (_, value) in devices) (await HoldersAsync(value)).ShouldBe([person]);
        (await FlaggedAsync(person)).ShouldBeNull();
        using (var again = await admin.PostAsync($"/api/admin/people/{person}/held-merges/accept", null))
            again.StatusCode.ShouldBe(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task idsync_logins_of_one_email_on_new_devices_are_guarded_too()
    {
        string[] idSyncDeviceTypes = ["ios_idfv", "android_uuid", "push_token", "ios_idfa", "android_aaid"];
        var email = $"{Api.NewId("hot-login")}@example.org";
        var devices = Enumerable.Range(0, 22).Select(i => (Type: idSyncDeviceTypes[i % idSyncDeviceTypes.Length], Value: Api.NewId($"login-device-{i}"))).ToList();
        var answered = new List<string>();
        foreach (var (type, value) in devices)
            answered.Add((await app.Identity("login", new Dictionary<string, string> { ["email"] = email, [type] = value })).Mpid());
        answered.Distinct().Count().ShouldBe(1, "every login answers the email's person");
        var person = long.Parse(answered[0], CultureInfo.InvariantCulture);
        foreach (var (_, value) in devices.Take(20)) (await HoldersAsync(value)).ShouldBe([person]);
        foreach (var (_, value) in devices.Skip(20)) (await HoldersAsync(value)).ShouldBeEmpty("the 21st and 22nd devices of the hour are held");
        var flagged = await FlaggedAsync(person);
        flagged.ShouldNotBeNull();
        flagged["held"]!.AsArray().Select(h => h!["value"]!.GetValue<string>()).ShouldBe(devices.Skip(20).Select(d => d.Value), ignoreOrder: true);
    }

    [Fact]
    public async Task an_ordinary_login_still_merges()
    {
        var device = Api.NewId("login-device");
        var email = $"{Api.NewId("login")}@example.org";
        await app.Ingested(Batch($$""" "device_info": { "ios_idfv": "{{device}}" } """));
        var anonymous = (await HoldersAsync(device)).Single();
        await app.Ingested(Batch($$""" "user_identities": { "email": "{{email}}" }, "device_info": { "ios_idfv": "{{device}}" } """));
        (await HoldersAsync(email)).ShouldBe([anonymous], "the login joined the device's person");
        (await FlaggedAsync(anonymous)).ShouldBeNull();
    }

    [Fact]
    public async Task the_list_of_flagged_people_is_for_org_wide_admins()
    {
        using var anonymous = app.NewClient();
        using (var response = await anonymous.GetAsync("/api/admin/held-merges")) response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        using var limited = app.NewClient();
        limited.DefaultRequestHeaders.Authorization = AppFixture.Basic(AppFixture.SupportUser, AppFixture.SupportPassword);
        using (var response = await limited.GetAsync("/api/admin/held-merges")) response.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
    }

    private static string Batch(string identities) => $$"""
        { "environment": "development", {{identities}},
          "events": [ { "event_type": "custom_event", "data": { "event_name": "Guarded", "custom_event_type": "other" } } ] }
        """;

    private async Task<JsonObject?> FlaggedAsync(long mpid)
    {
        using var admin = app.AdminClient();
        using var response = await admin.GetAsync("/api/admin/held-merges");
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!.AsArray().Select(p => p!.AsObject())
            .FirstOrDefault(p => p["mpid"]!.GetValue<string>() == mpid.ToString(CultureInfo.InvariantCulture));
    }

    private async Task<List<string>> MetricsAsync()
    {
        using var admin = app.AdminClient();
        using var response = await admin.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return text.Split('\n').ToList();
    }

    private async Task<List<long>> HoldersAsync(string value)
    {
        await using var command = app.Db.CreateCommand($"select distinct mpid from {app.Schema}.ep_identity_index where identity_value = $1");
        command.Parameters.AddWithValue(value);
        var people = new List<long>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) people.Add(reader.GetInt64(0));
        return people;
    }

    private Task<long> EventsOfAsync(long mpid) =>
        CountAsync($"select count(*) from {app.Schema}.mt_events where stream_id = $1 and type = 'event_captured'", mpid.ToString(CultureInfo.InvariantCulture));

    private async Task<long> CountAsync(string sql, string parameter)
    {
        await using var command = app.Db.CreateCommand(sql);
        command.Parameters.AddWithValue(parameter);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
