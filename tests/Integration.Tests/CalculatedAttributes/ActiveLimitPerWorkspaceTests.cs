using System.Net;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.CalculatedAttributes;

/// <summary>The limit of 100 active calculated attributes is a workspace's: one workspace cannot use up another's.</summary>
[Collection(AppCollection.Name)]
public class ActiveLimitPerWorkspaceTests(AppFixture app)
{
    private const int Limit = 100; // EventProfiles:CalculatedAttributes:MaxActive, default
    private const string Definition = """
        { "data_point": { "type": "event", "event_type": "custom_event", "event_name": "Limit probe", "attribute_name": null },
          "conditions": [], "calculation_type": "count", "time_period": { "type": "within", "within": 30, "within_unit": "days" } }
        """;

    private async Task<int> Create(int workspace, string token)
    {
        using var response = await app.Platform(HttpMethod.Post, CalculatedAttributesApi.Path(workspace), $$"""{ "name": "{{Api.NewId("limit")}}", "draft_definition": {{Definition}} }""", token);
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return int.Parse(text);
    }

    private async Task<HttpResponseMessage> Activate(int workspace, int id, string token) =>
        await app.Platform(HttpMethod.Post, $"{CalculatedAttributesApi.Path(workspace)}/{id}/activation", token: token);

    [Fact]
    public async Task a_workspace_at_its_limit_does_not_stop_another_workspace_from_activating()
    {
        var limited = await app.Token(AppFixture.LimitsClient, AppFixture.LimitsSecret); // workspace 3, used by no other calculated attribute
        var other = await app.Token("other-client", "other-client-secret");
        var active = new List<int>();
        try
        {
            for (var i = 0; i < Limit; i++)
            {
                var id = await Create(3, limited);
                using var activated = await Activate(3, id, limited);
                activated.StatusCode.ShouldBe(HttpStatusCode.NoContent, $"activation {i + 1}: {await activated.Content.ReadAsStringAsync()}");
                active.Add(id);
            }
            // Workspace 2 still has its own allowance.
            var theirs = await Create(2, other);
            using var allowed = await Activate(2, theirs, other);
            allowed.StatusCode.ShouldBe(HttpStatusCode.NoContent, await allowed.Content.ReadAsStringAsync());
            using (await app.Platform(HttpMethod.Post, $"{CalculatedAttributesApi.Path(2)}/{theirs}/deactivation", token: other)) { }

            // Workspace 3 itself is at its limit.
            using var beyond = await Activate(3, await Create(3, limited), limited);
            beyond.StatusCode.ShouldBe(HttpStatusCode.Conflict);
            (await beyond.Errors()).ShouldContain(e => e.Message.Contains("Workspace 3") && e.Message.Contains($"{Limit} active"));
        }
        finally
        {
            // Their replays are skipped once deactivated: nothing is left running for the other tests.
            foreach (var id in active)
                using (await app.Platform(HttpMethod.Post, $"{CalculatedAttributesApi.Path(3)}/{id}/deactivation", token: limited)) { }
        }
    }
}
