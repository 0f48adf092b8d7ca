using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using JasperFx.Events.Daemon;
using Marten;
using Marten.Events;
using Microsoft.Extensions.DependencyInjection;

namespace EventProfiles.Integration.Tests.Fixtures;

/// <summary>The Platform API for calculated attributes, and waiting for the daemon, as a client and an operator would.</summary>
public static class CalculatedAttributesApi
{
    public static string Path(int workspace = 1) => $"/platform/v2/workspaces/{workspace}/calculatedattributes";

    public static async Task<HttpResponseMessage> Platform(this AppFixture app, HttpMethod method, string path, string? json = null, string? token = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token ?? await app.Token());
        return await app.Client.SendAsync(request);
    }

    /// <summary>Creates a draft with this definition (JSON of <c>draft_definition</c>) and returns its id.</summary>
    public static async Task<int> CreateCalculatedAttribute(this AppFixture app, string name, string definition)
    {
        using var response = await app.Platform(HttpMethod.Post, Path(), $$"""{ "name": "{{name}}", "draft_definition": {{definition}} }""");
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return int.Parse(text);
    }

    public static async Task Activate(this AppFixture app, int id)
    {
        using var response = await app.Platform(HttpMethod.Post, $"{Path()}/{id}/activation");
        response.StatusCode.ShouldBe(HttpStatusCode.NoContent, await response.Content.ReadAsStringAsync());
    }

    public static async Task<JsonObject> CalculatedAttribute(this AppFixture app, int id)
    {
        using var response = await app.Platform(HttpMethod.Get, $"{Path()}/{id}");
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>Creates, activates and waits until the initialisation by replay is done.</summary>
    public static async Task<int> ActiveCalculatedAttribute(this AppFixture app, string name, string definition)
    {
        var id = await app.CreateCalculatedAttribute(name, definition);
        await app.Activate(id);
        await app.UntilReady(id);
        return id;
    }

    public static Task UntilReady(this AppFixture app, int id) =>
        Waiting.Until(async () => (await app.CalculatedAttribute(id))["status"]!.GetValue<string>() == "ready", $"calculated attribute {id} to be ready", 60);

    /// <summary>Waits until the async daemon has applied every committed event (never a sleep).</summary>
    public static Task CatchUpDaemon(this AppFixture app) =>
        app.Services.GetRequiredService<IDocumentStore>().WaitForNonStaleProjectionDataAsync(TimeSpan.FromSeconds(60));

    /// <summary>Rebuilds the calculated-attribute and audience state from the events, as an operator does (a rebuild job); done when it returns.</summary>
    public static async Task RebuildCalculatedAttributes(this AppFixture app)
    {
        var job = await app.StartJob(Domain.Operations.OperationKinds.Rebuild, new { projection = "calculations" });
        await app.Completed(job["id"]!.GetValue<string>());
    }

    /// <summary>A customer's user attributes in workspace 1 as the Profile API returns them.</summary>
    public static async Task<JsonObject> UserAttributesOf(this AppFixture app, string customerId) =>
        (await app.ProfileOf(customerId))["user_attributes"]!.AsObject();
}
