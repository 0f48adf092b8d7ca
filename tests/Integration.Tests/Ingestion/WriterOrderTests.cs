using EventProfiles.Domain.Profiles;
using EventProfiles.Integration.Tests.Fixtures;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EventProfiles.Integration.Tests.Ingestion;

/// <summary>
/// Issue 15, goal 1: the writers take their groups from one queue and may overlap, so nothing routes a person to one
/// writer any more. A person's batches must still be written in acceptance order (the batches of one bulk request in
/// the order they were sent, a client's requests in the order it sent them) and never by two transactions at once.
/// </summary>
[Collection(AppCollection.Name)]
public class WriterOrderTests(AppFixture app)
{
    private const int Clients = 8, RequestsPerClient = 4, BatchesPerPerson = 2;

    private static string Batch(string customerId, string name) => $$"""
        { "environment": "development",
          "user_identities": { "customer_id": "{{customerId}}" },
          "user_attributes": { "seq": "{{name}}" },
          "events": [{ "event_type": "custom_event", "data": { "event_name": "{{name}}", "custom_event_type": "other" } }] }
        """;

    [Fact]
    public async Task a_persons_batches_from_concurrent_requests_are_stored_in_the_order_they_were_accepted()
    {
        var people = Enumerable.Range(0, 3).Select(_ => Api.NewId("wo")).ToList();
        // Each client sends bulk requests one after the other; in each, every person gets BatchesPerPerson batches, numbered
        // on per client: client 3's n-th batch for a person is "c3-n", so its numbers must rise along that person's stream.
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(async client =>
        {
            var n = 0;
            for (var request = 0; request < RequestsPerClient; request++)
            {
                var batches = new List<string>();
                for (var k = 0; k < BatchesPerPerson; k++, n++)
                    batches.AddRange(people.Select(p => Batch(p, $"c{client}-{n:D3}")));
                using var response = await app.PostBatch("[" + string.Join(",", batches) + "]", "/v2/bulkevents");
                ((int)response.StatusCode).ShouldBe(202, await response.Content.ReadAsStringAsync());
            }
        }));

        var store = app.Services.GetRequiredService<IDocumentStore>();
        await using var session = store.QuerySession();
        foreach (var customer in people)
        {
            await using var mpids = app.Db.CreateCommand($"select distinct mpid from {app.Schema}.ep_identity_index where identity_type = 'customer_id' and identity_value = $1");
            mpids.Parameters.Add(new NpgsqlParameter { Value = customer });
            var found = new List<long>();
            await using (var reader = await mpids.ExecuteReaderAsync())
                while (await reader.ReadAsync()) found.Add(reader.GetInt64(0));
            found.Count.ShouldBe(1, "concurrent first batches of a new customer make one person");

            var key = StreamKey.For(found[0]);
            var events = await session.Events.FetchStreamAsync(key);
            events.Select(e => e.Version).ShouldBe(Enumerable.Range(1, events.Count).Select(v => (long)v), "versions are gapless from 1");
            var names = events.Select(e => e.Data).OfType<EventCaptured>().Select(e => e.EventName!).ToList();
            names.Count.ShouldBe(Clients * RequestsPerClient * BatchesPerPerson, "every batch stored once");
            foreach (var client in names.GroupBy(n => n[..n.IndexOf('-')]))
                client.ToList().ShouldBe(client.Order(StringComparer.Ordinal).ToList(), $"{client.Key}'s batches in the order it sent them, in {key}");

            // No lost update: the stored profile is the fold of the stream in its stored order.
            var aggregated = await session.Events.AggregateStreamAsync<Profile>(key);
            aggregated.ShouldNotBeNull();
            store.Options.Serializer().ToJson(aggregated).ShouldBe(store.Options.Serializer().ToJson(await session.LoadAsync<Profile>(key)));
        }
    }
}
