using System.Text;
using System.Text.Json;

namespace EventProfiles.Integration.Tests.Fixtures;

/// <summary>One recorded request of a real mParticle SDK and the response it needed (Fixtures/real-clients).</summary>
public sealed record RecordedExchange(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string? Body, int Status, JsonElement ResponseBody)
{
    /// <summary>The request exactly as recorded: method, path, headers, and the body with its original member order.</summary>
    public HttpRequestMessage ToRequest()
    {
        var request = new HttpRequestMessage(new HttpMethod(Method), Path);
        if (Body is not null)
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(Body));
        foreach (var (name, value) in Headers)
        {
            if (name.Equals("content-type", StringComparison.OrdinalIgnoreCase))
            {
                if (request.Content is not null) request.Content.Headers.TryAddWithoutValidation("Content-Type", value);
            }
            else request.Headers.TryAddWithoutValidation(name, value);
        }
        return request;
    }
}

public static class Recordings
{
    public static IReadOnlyList<RecordedExchange> Load(string file)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "real-clients", file);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.GetProperty("exchanges").EnumerateArray().Select(e => new RecordedExchange(
            e.GetProperty("method").GetString()!,
            e.GetProperty("path").GetString()!,
            e.GetProperty("headers").EnumerateObject().ToDictionary(h => h.Name, h => h.Value.GetString() ?? ""),
            e.TryGetProperty("body", out var body) && body.ValueKind != JsonValueKind.Null ? body.GetRawText() : null,
            e.GetProperty("response").GetProperty("status").GetInt32(),
            e.GetProperty("response").GetProperty("body").Clone())).ToList();
    }
}
