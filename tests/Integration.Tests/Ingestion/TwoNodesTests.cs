using System.Text;
using EventProfiles.Integration.Tests.Fixtures;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace EventProfiles.Integration.Tests.Ingestion;

/// <summary>
/// Two Hosts on one database do not share what they have in flight: only the database's unique keys keep one
/// person one profile. The losing commit is resolved again onto the winner's profile, and still answered 202.
/// </summary>
[Collection(AppCollection.Name)]
public class TwoNodesTests(AppFixture app)
{
    [Fact]
    public async Task the_same_new_customer_sent_to_two_nodes_at_once_ends_in_one_profile_and_every_batch_is_accepted()
    {
        await using var second = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b.UseEnvironment("Development"));
        second.UseKestrel(0);
        second.StartServer();
        using var secondClient = new HttpClient { BaseAddress = second.CreateClient().BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

        for (var round = 0; round < 5; round++)
        {
            var customer = Api.NewId("two");
            var request = Api.NewId("req");
            var sends = Enumerable.Range(0, 16).Select(async i =>
            {
                // Half the copies carry the same source_request_id, half their own: both unique keys get raced.
                var json = $$"""{ "source_request_id": "{{(i % 2 == 0 ? request : Api.NewId("req"))}}", "user_identities": { "customer_id": "{{customer}}" }, "user_attributes": { "n{{i}}": "x" } }""";
                using var message = new HttpRequestMessage(HttpMethod.Post, "/v2/events") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
                message.Headers.Authorization = AppFixture.Basic(Api.DemoKey, Api.DemoSecret);
                using var response = await (i % 4 < 2 ? app.Client : secondClient).SendAsync(message);
                return (int)response.StatusCode;
            });
            var statuses = await Task.WhenAll(sends);
            statuses.ShouldAllBe(status => status == 202, string.Join(",", statuses));

            await using var command = app.Db.CreateCommand($"select count(distinct mpid) from {app.Schema}.ep_identity_index where identity_value = $1");
            command.Parameters.AddWithValue(customer);
            ((long)(await command.ExecuteScalarAsync())!).ShouldBe(1);
            var profile = await app.ProfileOf(customer);
            var mpid = profile["mpid"]!.GetValue<long>();
            for (var i = 1; i < 16; i += 2)
                profile.Attribute($"n{i}").ShouldBe(["x"], $"n{i}; events: {await StreamDump(mpid)}");
        }
    }

    private async Task<string> StreamDump(long mpid)
    {
        await using var command = app.Db.CreateCommand(
            $"select string_agg(version || ':' || type || coalesce(':' || (data->>'Name'), ''), ', ' order by version) from {app.Schema}.mt_events where stream_id = $1");
        command.Parameters.AddWithValue(mpid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return (await command.ExecuteScalarAsync())?.ToString() ?? "";
    }
}
