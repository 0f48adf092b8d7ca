using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.CalculatedAttributes;

/// <summary>The definition API: validation, names, the lifecycle, and who may see what.</summary>
[Collection(AppCollection.Name)]
public class DefinitionApiTests(AppFixture app)
{
    private static string Definition(string conditions = "[]", string period = """{ "type": "within", "within": 30, "within_unit": "days" }""",
        string calculation = "count", string attribute = "null") => $$"""
        { "data_point": { "type": "event", "event_type": "custom_event", "event_name": "Purchase", "attribute_name": {{attribute}} },
          "conditions": {{conditions}}, "calculation_type": "{{calculation}}", "time_period": {{period}} }
        """;

    private async Task<IReadOnlyList<(string Field, string Message)>> Rejected(string name, string definition)
    {
        using var response = await app.Platform(HttpMethod.Post, CalculatedAttributesApi.Path(), $$"""{ "name": "{{name}}", "draft_definition": {{definition}} }""");
        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, await response.Content.ReadAsStringAsync());
        return await response.Errors();
    }

    [Fact]
    public async Task invalid_definitions_are_refused_with_the_field_and_the_reason()
    {
        var name = Api.NewId("bad");
        (await Rejected(name, Definition("""[ { "type": "string", "operator": "sounds_like", "attribute_name": "a", "value": "x" } ]""")))
            .ShouldContain(e => e.Field == "draft_definition.conditions[0].operator" && e.Message.Contains("sounds_like"));
        (await Rejected(name, Definition("""[ { "type": "number", "operator": "contains", "attribute_name": "a", "value": "1" } ]""")))
            .ShouldContain(e => e.Field == "draft_definition.conditions[0].operator" && e.Message.Contains("does not apply to a number"));
        (await Rejected(name, Definition("""[ { "type": "number", "operator": "greater_than", "attribute_name": "a", "value": "lots" } ]""")))
            .ShouldContain(e => e.Field == "draft_definition.conditions[0].value");
        (await Rejected(name, Definition(period: """{ "type": "within", "within": 31, "within_unit": "days" }""")))
            .ShouldContain(e => e.Field == "draft_definition.time_period.within" && e.Message.Contains("cannot exceed your configured retention period of 30 days"));
        (await Rejected(name, Definition(period: """{ "type": "all" }"""))).ShouldContain(e => e.Field == "draft_definition.time_period.type");
        (await Rejected(name, Definition(calculation: "sum"))).ShouldContain(e => e.Field == "draft_definition.data_point.attribute_name");
        (await Rejected(name, Definition(calculation: "median"))).ShouldContain(e => e.Field == "draft_definition.calculation_type");

        using var list = await app.Platform(HttpMethod.Get, $"{CalculatedAttributesApi.Path()}?name={name}");
        JsonNode.Parse(await list.Content.ReadAsStringAsync())!.AsArray().Count.ShouldBe(0); // nothing was stored
    }

    [Fact]
    public async Task names_are_unique_per_workspace_and_frozen_once_activated()
    {
        var name = Api.NewId("named");
        var id = await app.CreateCalculatedAttribute(name, Definition());
        using (var duplicate = await app.Platform(HttpMethod.Post, CalculatedAttributesApi.Path(), $$"""{ "name": "{{name}}", "draft_definition": {{Definition()}} }"""))
            duplicate.StatusCode.ShouldBe(HttpStatusCode.Conflict);
        using (var exists = await app.Platform(HttpMethod.Head, $"{CalculatedAttributesApi.Path()}?name={name}"))
            exists.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        using (var missing = await app.Platform(HttpMethod.Head, $"{CalculatedAttributesApi.Path()}?name={name}-not"))
            missing.StatusCode.ShouldBe(HttpStatusCode.NotFound);

        var renamed = name + "-2";
        using (var rename = await app.Platform(HttpMethod.Put, $"{CalculatedAttributesApi.Path()}/{id}", $$"""{ "name": "{{renamed}}" }"""))
            rename.StatusCode.ShouldBe(HttpStatusCode.NoContent); // allowed while never activated
        await app.Activate(id);
        using (var frozen = await app.Platform(HttpMethod.Put, $"{CalculatedAttributesApi.Path()}/{id}", $$"""{ "name": "{{name}}-3" }"""))
            frozen.StatusCode.ShouldBe(HttpStatusCode.Conflict);
        using (var described = await app.Platform(HttpMethod.Put, $"{CalculatedAttributesApi.Path()}/{id}", """{ "description": "orders in the last month" }"""))
            described.StatusCode.ShouldBe(HttpStatusCode.NoContent);

        var resource = await app.CalculatedAttribute(id);
        resource["name"]!.GetValue<string>().ShouldBe(renamed);
        resource["description"]!.GetValue<string>().ShouldBe("orders in the last month");
        resource["created_by"]!.GetValue<string>().ShouldBe("demo-client");
        resource["activated_on"].ShouldNotBeNull();

        using (var deactivated = await app.Platform(HttpMethod.Post, $"{CalculatedAttributesApi.Path()}/{id}/deactivation"))
            deactivated.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await app.CalculatedAttribute(id))["status"]!.GetValue<string>().ShouldBe("inactive");
        using (var deleted = await app.Platform(HttpMethod.Delete, $"{CalculatedAttributesApi.Path()}/{id}"))
            deleted.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        using (var gone = await app.Platform(HttpMethod.Get, $"{CalculatedAttributesApi.Path()}/{id}"))
            gone.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        using (var activateGone = await app.Platform(HttpMethod.Post, $"{CalculatedAttributesApi.Path()}/{id}/activation"))
            activateGone.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task a_token_sees_only_its_own_workspaces()
    {
        var id = await app.CreateCalculatedAttribute(Api.NewId("mine"), Definition());
        var otherToken = await app.Token("other-client", "other-client-secret");

        using (var forbidden = await app.Platform(HttpMethod.Get, $"{CalculatedAttributesApi.Path(1)}/{id}", token: otherToken))
            forbidden.StatusCode.ShouldBe(HttpStatusCode.Forbidden);
        using (var notInOther = await app.Platform(HttpMethod.Get, $"{CalculatedAttributesApi.Path(2)}/{id}", token: otherToken))
            notInOther.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        using (var otherList = await app.Platform(HttpMethod.Get, CalculatedAttributesApi.Path(2), token: otherToken))
            JsonNode.Parse(await otherList.Content.ReadAsStringAsync())!.AsArray().ShouldNotContain(ca => ca!["id"]!.GetValue<int>() == id);
        using (var deleteOther = await app.Platform(HttpMethod.Delete, $"{CalculatedAttributesApi.Path(2)}/{id}", token: otherToken))
            deleteOther.StatusCode.ShouldBe(HttpStatusCode.NotFound);

        using var anonymous = await app.NewClient().GetAsync(CalculatedAttributesApi.Path(1));
        anonymous.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        using var badToken = new HttpRequestMessage(HttpMethod.Get, CalculatedAttributesApi.Path(1));
        badToken.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "not-a-token");
        using var rejected = await app.NewClient().SendAsync(badToken);
        rejected.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }
}
