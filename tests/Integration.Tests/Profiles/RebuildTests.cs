using EventProfiles.Integration.Tests.Fixtures;
using Marten;
using Microsoft.Extensions.DependencyInjection;

namespace EventProfiles.Integration.Tests.Profiles;

/// <summary>The inline read models are pure folds of the streams: replaying the events rebuilds exactly what ingestion built.</summary>
[Collection(AppCollection.Name)]
public class RebuildTests(AppFixture app)
{
    private async Task<Dictionary<string, string>> Rows(string sql)
    {
        var rows = new Dictionary<string, string>();
        await using var command = app.Db.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) rows[reader.GetString(0)] = reader.GetString(1);
        return rows;
    }

    [Fact]
    public async Task rebuilding_the_profile_and_identity_index_gives_what_ingestion_built()
    {
        // A mixed workload: attributes out of order, deletions, consent, devices, an identity change.
        var customer = Api.NewId("rb");
        var t = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeMilliseconds();
        await app.Ingested($$"""
            { "user_identities": { "customer_id": "{{customer}}", "email": "{{customer}}@a.org" }, "user_attributes": { "a": "1", "gone": "x" },
              "mp_deviceid": "{{customer}}-das", "device_info": { "platform": "web" },
              "consent_state": { "gdpr": { "ads": { "consented": true, "timestamp_unixtime_ms": {{t}} } } },
              "events": [ { "event_type": "user_attribute_change", "data": { "user_attribute_name": "tier", "new": "gold", "timestamp_unixtime_ms": {{t + 10}} } } ] }
            """);
        await app.Ingested($$"""
            { "user_identities": { "customer_id": "{{customer}}", "email": "{{customer}}@b.org" }, "deleted_user_attributes": ["gone"],
              "events": [ { "event_type": "user_attribute_change", "data": { "user_attribute_name": "tier", "new": "old", "timestamp_unixtime_ms": {{t}} } },
                          { "event_type": "opt_out", "data": { "is_opted_out": true, "timestamp_unixtime_ms": {{t}} } } ] }
            """, key: AppFixture.SecondKey, secret: AppFixture.SecondSecret);

        // This person's read models, as ingestion built them (the shared database holds other tests' people, some of
        // them split, merged or aged out while this runs).
        var mpid = (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
        var profilesSql = $"select id, data::text from {app.Schema}.mt_doc_profile where id = '{mpid}' order by 1";
        var identitiesSql = $"select identity_type || ':' || identity_value || '@' || mpid, is_unique || '/' || workspace_id || '/' || linked_at from {app.Schema}.ep_identity_index where mpid = {mpid} order by 1";
        var profiles = await Rows(profilesSql);
        var identities = await Rows(identitiesSql);
        profiles.Count.ShouldBe(1);
        identities.ShouldNotBeEmpty();

        // The rebuild job for this person (Marten's own projection rebuild is refused: it cannot see what splits moved away).
        var job = await app.StartJob(Domain.Operations.OperationKinds.Rebuild, new { projection = "profiles", mpid = mpid.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        await app.Completed(job["id"]!.GetValue<string>(), seconds: 120);

        (await Rows(profilesSql)).ShouldBe(profiles);
        (await Rows(identitiesSql)).ShouldBe(identities);
        var profile = await app.ProfileOf(customer);
        profile.Attribute("tier").ShouldBe(["gold"]);
        profile.Identities().ShouldContain($"email={customer}@b.org");
        profile["is_opted_out"]!.GetValue<bool>().ShouldBeTrue();
    }
}
