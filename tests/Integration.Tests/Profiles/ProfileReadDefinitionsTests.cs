using EventProfiles.Commands.Forwarding;
using EventProfiles.Domain.Audiences;
using EventProfiles.Integration.Tests.Fixtures;
using Marten;
using Microsoft.Extensions.DependencyInjection;

namespace EventProfiles.Integration.Tests.Profiles;

/// <summary>
/// The Profile API and enrichment read definitions from a per-node cache; a change committed on this node must show
/// at once, whichever code path made it (here a plain session that never calls <c>Forget</c>).
/// </summary>
[Collection(AppCollection.Name)]
public class ProfileReadDefinitionsTests(AppFixture app)
{
    [Fact]
    public async Task an_audience_committed_or_deleted_after_the_cache_was_filled_is_seen_on_the_next_read()
    {
        var cache = app.Services.GetRequiredService<EnrichmentDefinitionsCache>();
        var store = app.Services.GetRequiredService<IDocumentStore>();
        // No workspace: listed by no Profile API answer and sent nowhere, so other tests do not see it.
        var audience = new Audience { Id = 2_000_000_000 + Random.Shared.Next(100_000_000), Name = Api.NewId("cached"), Kind = AudienceKinds.Standard, Status = AudienceStatus.Ready };
        (await cache.GetAsync(CancellationToken.None)).Listed.ShouldNotContain(a => a.Id == audience.Id);

        await using (var session = store.LightweightSession())
        {
            session.Store(audience);
            await session.SaveChangesAsync();
        }
        (await cache.GetAsync(CancellationToken.None)).Listed.ShouldContain(a => a.Id == audience.Id);

        await using (var session = store.LightweightSession())
        {
            session.Delete<Audience>(audience.Id);
            await session.SaveChangesAsync();
        }
        (await cache.GetAsync(CancellationToken.None)).Listed.ShouldNotContain(a => a.Id == audience.Id);
    }
}
