using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Domain.Workspaces;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Wolverine.Http;

namespace EventProfiles.Commands.NativeSdks;

/// <summary>
/// <c>GET /v4/{apiKey}/config</c> and the <c>customBaseURL</c> form <c>/config/v4/{apiKey}/config</c> (native-sdks.md §9):
/// the SDK settings. iOS uploads nothing until this answers 200 with <c>"dt":"ac"</c> and an <c>ETag</c>; Android
/// must not get a 400 or a non-JSON 2xx. The body holds only the keys §9.3 names with values that leave the app in
/// charge (no <c>stl</c>/<c>uitl</c> overrides, no kits, no upload triggers) and never a sampling ramp (<c>rp</c>), since
/// a device outside it deletes all its data. It depends on the input alone, so its ETag is stable and a matching
/// <c>If-None-Match</c> gets 304.
/// </summary>
public static class NativeConfigEndpoint
{
    [WolverineGet("/v4/{apiKey}/config", Name = "Native SDK configuration")]
    [AllowAnonymous]
    public static IResult Get(string apiKey, HttpContext context, WorkspaceDirectory directory, TimeProvider clock) =>
        Answer(apiKey, context, directory, clock);

    [WolverineGet("/config/v4/{apiKey}/config", Name = "Native SDK configuration (customBaseURL)")]
    [AllowAnonymous]
    public static IResult GetCustomBase(string apiKey, HttpContext context, WorkspaceDirectory directory, TimeProvider clock) =>
        Answer(apiKey, context, directory, clock);

    private static IResult Answer(string apiKey, HttpContext context, WorkspaceDirectory directory, TimeProvider clock)
    {
        var input = directory.InputByKey(apiKey);
        if (NativeSignature.Check(input, context.Request, SignedPaths(apiKey, context), []) is { } refused)
            return Results.Problem(refused);

        var settings = Settings(input!);
        var etag = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(settings.ToJsonString())))[..32];
        var response = context.Response;
        response.Headers.ETag = etag; // unquoted, as mParticle sends it; the SDKs echo it verbatim
        response.Headers.CacheControl = "max-age=600";
        if (Matches(context.Request.Headers.IfNoneMatch.ToString(), etag)) return Results.StatusCode(StatusCodes.Status304NotModified);

        var body = new JsonObject { ["dt"] = "ac", ["id"] = StableId(input!).ToString(), ["ct"] = clock.GetUtcNow().ToUnixTimeMilliseconds() };
        foreach (var (key, value) in settings) body[key] = value?.DeepClone();
        return Results.Content(body.ToJsonString(), "application/json");
    }

    /// <summary>
    /// The signed path is always <c>/v4/{key}/config?{query}</c> (§2.2): Android signs the query as sent, iOS only its
    /// <c>av</c>/<c>sv</c> part (its plan parameters are added to the real URL only).
    /// </summary>
    private static IEnumerable<string> SignedPaths(string apiKey, HttpContext context)
    {
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.QueryString.Value ?? "";
        var query = target.IndexOf('?') is >= 0 and var q ? target[(q + 1)..] : "";
        var path = $"/v4/{apiKey}/config";
        yield return query.Length > 0 ? $"{path}?{query}" : path;
        var avSv = string.Join('&', query.Split('&').Where(p => p.StartsWith("av=", StringComparison.Ordinal) || p.StartsWith("sv=", StringComparison.Ordinal)));
        if (avSv != query) yield return $"{path}?{avSv}";
    }

    /// <summary>The settings part (what the ETag covers); safe values from §9.3.</summary>
    private static JsonObject Settings(Input input) => new()
    {
        ["cue"] = "appdefined",
        ["pmk"] = new JsonArray("mp_message", "com.urbanairship.push.ALERT", "alert", "a", "message"),
        ["oo"] = false,
        ["dur"] = false,
        ["eks"] = new JsonArray(),
        ["flags"] = new JsonObject { ["AudienceAPI"] = "False" },
        ["pio"] = 30,
        ["wst"] = $"WS{input.Workspace.Id}",
    };

    private static Guid StableId(Input input) => new(MD5.HashData(Encoding.UTF8.GetBytes($"native-config:{input.Key}")));

    private static bool Matches(string ifNoneMatch, string etag) =>
        ifNoneMatch.Length > 0 && ifNoneMatch.Split(',').Select(t => t.Trim()).Select(t => t.StartsWith("W/", StringComparison.Ordinal) ? t[2..] : t)
            .Any(t => t.Trim('"') == etag || t == "*");
}
