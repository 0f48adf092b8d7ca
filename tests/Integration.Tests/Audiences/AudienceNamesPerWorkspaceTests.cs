using System.Net;
using System.Net.Http.Json;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Audiences;

/// <summary>Audience names are unique per workspace: another workspace's names are neither refused nor revealed.</summary>
[Collection(AppCollection.Name)]
public class AudienceNamesPerWorkspaceTests(AppFixture app)
{
    private const string Criteria = """[ { "kind": "identity", "identity_type": "email", "operator": "exists" } ]""";

    private async Task<HttpResponseMessage> Create(string name, int workspace, string token) =>
        await app.Platform(HttpMethod.Post, "/v1/audiences?accountId=1", $$"""{ "name": "{{name}}", "workspaces": [{{workspace}}], "criteria": {{Criteria}} }""", token);

    [Fact]
    public async Task two_workspaces_may_each_have_an_audience_of_the_same_name_but_one_workspace_only_one()
    {
        var name = Api.NewId("shared-name");
        var demo = await app.Token();
        var other = await app.Token("other-client", "other-client-secret");
        using (var first = await Create(name, 1, demo)) first.StatusCode.ShouldBe(HttpStatusCode.OK, await first.Content.ReadAsStringAsync());

        using (var elsewhere = await Create(name, 2, other)) elsewhere.StatusCode.ShouldBe(HttpStatusCode.OK, await elsewhere.Content.ReadAsStringAsync());

        using var again = await Create(name, 2, other);
        again.StatusCode.ShouldBe(HttpStatusCode.Conflict);
        (await again.Errors()).ShouldContain(e => e.Field == "name" && e.Message.Contains("workspace 2"));

        // Renaming into a name taken in the same workspace is refused too; into one of another workspace, allowed.
        using var created = await Create(Api.NewId("rename-me"), 2, other);
        var id = (await created.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>())!["id"]!.GetValue<int>();
        using (var clash = await app.Platform(HttpMethod.Put, $"/v1/audiences/{id}?accountId=1", $$"""{ "name": "{{name}}" }""", other))
            clash.StatusCode.ShouldBe(HttpStatusCode.Conflict);
        var onlyInOne = Api.NewId("only-in-one");
        using (var mine = await Create(onlyInOne, 1, demo)) mine.StatusCode.ShouldBe(HttpStatusCode.OK);
        using (var renamed = await app.Platform(HttpMethod.Put, $"/v1/audiences/{id}?accountId=1", $$"""{ "name": "{{onlyInOne}}" }""", other))
            renamed.StatusCode.ShouldBe(HttpStatusCode.NoContent, await renamed.Content.ReadAsStringAsync());
    }
}
