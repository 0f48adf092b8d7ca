using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Workspaces;
using Microsoft.AspNetCore.Cors;
using Microsoft.AspNetCore.Http;
using Wolverine.Http;

namespace EventProfiles.Commands.Web;

/// <summary>
/// The SDK configuration the web SDK loads at start. It is merged over the page's own configuration, so it carries no
/// <c>flags</c> and no <c>*Url</c> keys: those would replace what the page set (fixtures README §2.3).
/// </summary>
public sealed record SdkConfiguration(
    [property: JsonPropertyName("appName")] string AppName,
    [property: JsonPropertyName("kitConfigs")] IReadOnlyList<object> KitConfigs,
    [property: JsonPropertyName("pixelConfigs")] IReadOnlyList<object> PixelConfigs,
    [property: JsonPropertyName("workspaceToken")] string WorkspaceToken);

public static class SdkConfigEndpoint
{
    /// <summary><c>GET /JS/v2/{apiKey}/config?env=1</c> (also <c>/tags/JS/v2/…</c>), for web inputs only.</summary>
    [WolverineGet("/JS/v2/{apiKey}/config", Name = "Web SDK configuration"), EnableCors(SdkCors.Policy)]
    public static IResult Get(string apiKey, WorkspaceDirectory directory)
    {
        var input = directory.InputByKey(apiKey);
        // Only a web input's key is public; a server key (or any other) gets the same answer as an unknown one, so this
        // endpoint neither confirms a server key nor shows its workspace's name.
        if (input is not { Kind: InputKind.Web })
            return Results.Problem(ApiProblems.Create(StatusCodes.Status404NotFound, "Not found", [new FieldError("apiKey", "Unknown API key.", "NOT_FOUND")]));
        return Results.Json(new SdkConfiguration(input.Workspace.Name, [], [], $"WS{input.Workspace.Id}"));
    }
}
