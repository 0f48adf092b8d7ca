using System.Net;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Web;

/// <summary>The web SDK's configuration endpoint answers for web inputs (whose key is public) only.</summary>
[Collection(AppCollection.Name)]
public class SdkConfigTests(AppFixture app)
{
    [Fact]
    public async Task a_web_inputs_key_gets_its_configuration()
    {
        using var response = await app.NewClient().GetAsync("/JS/v2/demo-web-key/config?env=1");
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        body["workspaceToken"]!.GetValue<string>().ShouldBe("WS1");
    }

    [Theory]
    [InlineData(Api.DemoKey)]  // server input of workspace 1
    [InlineData(Api.OtherKey)] // server input of workspace 2
    [InlineData(AppFixture.RecordedKey)] // a server input that allows key-only IDSync is still not a web input
    [InlineData("no-such-key")]
    public async Task any_other_key_is_not_found_and_shows_no_workspace_name(string key)
    {
        foreach (var path in new[] { $"/JS/v2/{key}/config?env=1", $"/tags/JS/v2/{key}/config?env=1" })
        {
            using var response = await app.NewClient().GetAsync(path);
            response.StatusCode.ShouldBe(HttpStatusCode.NotFound, path);
            var text = await response.Content.ReadAsStringAsync();
            text.ShouldContain("Unknown API key.");
            text.ShouldNotContain("Demo");
            text.ShouldNotContain("Other");
        }
    }
}
