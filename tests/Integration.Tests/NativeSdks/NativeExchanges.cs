using System.IO.Compression;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace EventProfiles.Integration.Tests.NativeSdks;

/// <summary>One exchange of Fixtures/native-sdks: the request exactly as the SDK sends it, and the answer it needs.</summary>
public sealed record NativeExchange(string Name, string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers, string? BodyText, int Status, JsonElement Response)
{
    public static IReadOnlyList<NativeExchange> Load(string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(System.IO.Path.Combine(AppContext.BaseDirectory, "Fixtures", "native-sdks", file)));
        var index = 0;
        return doc.RootElement.GetProperty("exchanges").EnumerateArray().Select(e => new NativeExchange(
            e.TryGetProperty("name", out var n) ? n.GetString()! : $"{file}[{index++}]",
            e.GetProperty("method").GetString()!, e.GetProperty("path").GetString()!, e.GetProperty("query").GetString() ?? "",
            e.GetProperty("headers").EnumerateObject().ToDictionary(h => h.Name, h => h.Value.GetString()!),
            e.TryGetProperty("body_text", out var b) && b.ValueKind == JsonValueKind.String ? b.GetString() : null,
            e.GetProperty("response").GetProperty("status").GetInt32(), e.GetProperty("response").Clone())).ToList();
    }

    public JsonElement Body => JsonDocument.Parse(BodyText!).RootElement;

    /// <summary>The request byte for byte: the SDK's own headers, the body gzipped when it says so.</summary>
    public HttpRequestMessage ToRequest(string? path = null, Action<Dictionary<string, string>>? headers = null)
    {
        var all = new Dictionary<string, string>(Headers, StringComparer.OrdinalIgnoreCase);
        headers?.Invoke(all);
        var request = new HttpRequestMessage(new HttpMethod(Method), (path ?? Path) + (Query.Length > 0 ? "?" + Query : ""));
        if (BodyText is not null)
        {
            var bytes = Encoding.UTF8.GetBytes(BodyText);
            request.Content = new ByteArrayContent(all.TryGetValue("content-encoding", out var e) && e == "gzip" ? Gzip(bytes) : bytes);
        }
        foreach (var (name, value) in all)
        {
            if (name.StartsWith("content-", StringComparison.OrdinalIgnoreCase))
            {
                request.Content ??= new ByteArrayContent([]);
                request.Content.Headers.TryAddWithoutValidation(name, value);
            }
            else request.Headers.TryAddWithoutValidation(name, value);
        }
        return request;
    }

    public static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest)) gzip.Write(bytes);
        return output.ToArray();
    }

    /// <summary>A new upload signed as the SDKs sign (§2.2), for tests that need their own batch.</summary>
    public static HttpRequestMessage Signed(string body, string key = "test-key", string secret = "test-secret", string? path = null, string date = "Tue, 04 Jun 2024 16:13:30 CEST")
    {
        using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(secret));
        var signature = Convert.ToHexStringLower(hmac.ComputeHash(Encoding.UTF8.GetBytes($"POST\n{date}\n/v2/{key}/events{body}")));
        var request = new HttpRequestMessage(HttpMethod.Post, path ?? $"/v2/{key}/events") { Content = new ByteArrayContent(Gzip(Encoding.UTF8.GetBytes(body))) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Content.Headers.ContentEncoding.Add("gzip");
        request.Headers.TryAddWithoutValidation("Date", date);
        request.Headers.TryAddWithoutValidation("x-mp-signature", signature);
        request.Headers.TryAddWithoutValidation("User-Agent", "mParticle Android SDK/6.0.0");
        return request;
    }
}
