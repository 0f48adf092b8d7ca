using System.Net;
using System.Text.Json;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Operability;

[Collection(AppCollection.Name)]
public class OperabilityTests(AppFixture app)
{
    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    public async Task health_endpoints_answer_healthy(string path)
    {
        using var response = await app.NewClient().GetAsync(path);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).ShouldBe("Healthy");
    }

    [Fact]
    public async Task the_openapi_document_lists_every_endpoint()
    {
        using var response = await app.NewClient().GetAsync("/openapi/v1.json");
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var paths = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("paths")
            .EnumerateObject().Select(p => p.Name).ToList();
        paths.ShouldContain("/v2/events");
        paths.ShouldContain("/v2/bulkevents");
        paths.ShouldContain("/v2/bulkevents/historical");
        paths.ShouldContain("/oauth/token");
        paths.ShouldContain(p => p.StartsWith("/userprofile/v1/resolve/"));
        paths.ShouldContain(p => p.StartsWith("/userprofile/v1/{orgId}"));
    }

    [Fact]
    public async Task the_api_reference_page_is_served()
    {
        using var response = await app.NewClient().GetAsync("/docs");
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await response.Content.ReadAsStringAsync()).ShouldContain("EventProfiles API");
    }
}
