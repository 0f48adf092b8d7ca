using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.Security;

/// <summary>How a hostile request authenticates: as a valid client of its endpoint, so the body reaches the parsers.</summary>
public enum HostileAuth { None, ServerBasic, OtherServerBasic, WebKey, Signed, Bearer, Admin }

/// <summary>One request of the hostile-input run.</summary>
public sealed record HostileRequest(string Family, string Kind, HttpMethod Method, string Path, byte[]? Body,
    string? ContentType, string? ContentEncoding, HostileAuth Auth)
{
    public override string ToString() =>
        $"{Family}/{Kind}: {Method} {(Path.Length > 200 ? Path[..200] + "…" : Path)} [{ContentType}; {ContentEncoding}] {(Body is null ? "" : Preview(Body))}";

    private static string Preview(byte[] body)
    {
        var text = Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(body.Length, 300)));
        return new string(text.Select(c => char.IsControl(c) ? '·' : c).ToArray()) + (body.Length > 300 ? $"… ({body.Length} bytes)" : "");
    }
}

/// <summary>An endpoint of one family, with a valid body to start from (fresh identities every time).</summary>
public sealed record HostileTarget(string Family, HttpMethod Method, string Path, Func<string>? Template, HostileAuth Auth,
    string ContentType = "application/json", string[]? PathVariants = null);

/// <summary>
/// A seeded generator of hostile requests for every endpoint family (issue 14, item 13): invalid UTF-8 and escapes
/// (<c>\u0000</c>, unpaired surrogates) in every string position and property name, wrong content types and
/// encodings, deep nesting, huge numbers, duplicate keys, injection strings, type swaps, truncation and bad paths.
/// The same seed always gives the same requests, so a failure can be replayed.
/// </summary>
public sealed class HostileInputs(int seed)
{
    private const string Marker = "HOSTILE_MARKER_7f3a";
    private readonly Random _random = new(seed);

    public static IReadOnlyList<HostileTarget> Targets(long mpid) =>
    [
        new("Events", HttpMethod.Post, "/v2/events", () => Batch(), HostileAuth.ServerBasic),
        new("Events", HttpMethod.Post, "/v2/bulkevents", () => $"[{Batch()}]", HostileAuth.ServerBasic),
        new("IDSync", HttpMethod.Post, "/v1/identify", IdSync, HostileAuth.ServerBasic),
        new("IDSync", HttpMethod.Post, "/v1/search", IdSync, HostileAuth.ServerBasic),
        new("IDSync", HttpMethod.Post, "/v1/login", IdSync, HostileAuth.ServerBasic),
        new("IDSync", HttpMethod.Post, "/v1/logout", IdSync, HostileAuth.WebKey),
        new("IDSync", HttpMethod.Post, "/v1/identify", IdSync, HostileAuth.Signed), // HMAC over the (hostile) body as it streams in
        new("IDSync", HttpMethod.Post, $"/v1/{mpid}/modify", () => $$"""
            { "environment": "development", "request_id": "{{Guid.NewGuid()}}", "request_timestamp_ms": 1764800000000,
              "identity_changes": [ { "identity_type": "other", "old_value": null, "new_value": "{{Api.NewId("o")}}" } ] }
            """, HostileAuth.ServerBasic, PathVariants: ["/v1/{0}/modify"]),
        new("Alias", HttpMethod.Post, "/v1/alias", Alias, HostileAuth.ServerBasic),
        new("Alias", HttpMethod.Post, "/v1/identity/demo-web-key/alias", Alias, HostileAuth.None, PathVariants: ["/v1/identity/{0}/alias"]),
        new("Web SDK", HttpMethod.Post, "/v3/JS/demo-web-key/events", () => Batch(), HostileAuth.None, "text/plain;charset=UTF-8", ["/v3/JS/{0}/events"]),
        new("Web SDK", HttpMethod.Get, "/JS/v2/demo-web-key/config", null, HostileAuth.None, PathVariants: ["/JS/v2/{0}/config", "/JS/v2/demo-web-key/config?env={0}"]),
        new("Profile API", HttpMethod.Post, "/userprofile/v1/resolve/1/1/1?fields=user_identities,user_attributes", () => $$"""
            { "environment_type": "development", "identity": { "type": "customer_id", "value": "{{Api.NewId("c")}}" } }
            """, HostileAuth.Bearer, PathVariants: ["/userprofile/v1/resolve/1/1/{0}", "/userprofile/v1/resolve/1/1/1?fields={0}"]),
        new("Profile API", HttpMethod.Get, $"/userprofile/v1/1/1/1/{mpid}?fields=user_identities", null, HostileAuth.Bearer,
            PathVariants: ["/userprofile/v1/1/1/1/{0}", "/userprofile/v1/1/1/{0}/1", $"/userprofile/v1/1/1/1/{mpid}?fields={{0}}", $"/userprofile/v1/1/1/1/{mpid}/identity-history?x={{0}}"]),
        new("Profile API", HttpMethod.Post, "/oauth/token", () => """
            { "client_id": "hostile-client", "client_secret": "not-the-secret", "audience": "https://api.mparticle.com", "grant_type": "client_credentials" }
            """, HostileAuth.None),
        new("Platform API", HttpMethod.Post, "/v1/audiences?accountId=1", () => $$"""
            { "name": "{{Api.NewId("hostile")}}", "workspaces": [1],
              "criteria": [ { "kind": "identity", "identity_type": "email", "operator": "pattern", "value": "*@example.org" } ] }
            """, HostileAuth.Bearer, PathVariants: ["/v1/audiences?accountId={0}", "/v1/audiences/{0}?accountId=1", "/v1/workspace/{0}/audiences"]),
        new("Platform API", HttpMethod.Put, "/v1/audiences/2147483000?accountId=1", () => """{ "name": "renamed" }""", HostileAuth.Bearer),
        new("Platform API", HttpMethod.Post, "/platform/v2/workspaces/1/calculatedattributes", () => $$"""
            { "name": "{{Api.NewId("hostile")}}", "description": "generated",
              "draft_definition": { "data_point": { "type": "event", "event_type": "custom_event", "event_name": "Purchase", "attribute_name": "amount" },
                "conditions": [ { "type": "string", "operator": "pattern", "attribute_name": "sku", "value": "^A.*" } ],
                "calculation_type": "sum", "time_period": { "type": "within", "within": 30, "within_unit": "days" } } }
            """, HostileAuth.Bearer, PathVariants: ["/platform/v2/workspaces/{0}/calculatedattributes", "/platform/v2/workspaces/1/calculatedattributes/{0}"]),
        new("Platform API", HttpMethod.Post, "/v2/calculatedattributes", () => $$"""
            { "environment": "development", "identities": { "customer_id": "{{Api.NewId("c")}}" },
              "calculated_attributes": [ { "attribute_name": "hostile_seed", "calculation_type": "count", "cutoff_date": "2026-11-01", "seed": 3 } ] }
            """, HostileAuth.ServerBasic),
        new("DSR", HttpMethod.Post, "/v3/requests", () => $$"""
            { "regulation": "gdpr", "subject_request_id": "{{Guid.NewGuid()}}", "subject_request_type": "erasure",
              "submitted_time": "2026-11-01T10:00:00Z", "api_version": "3.0",
              "subject_identities": { "email": { "value": "{{Api.NewId("dsr")}}@example.org", "encoding": "raw" } } }
            """, HostileAuth.OtherServerBasic, PathVariants: ["/v3/requests/{0}", "/v3/requests?group_id={0}", "/v3/requests/{0}/results"]),
        new("Admin", HttpMethod.Post, "/api/admin/outputs", () => $$"""
            { "name": "{{Api.NewId("hostile")}}", "kind": "not-a-kind", "webhook": { "url": "http://127.0.0.1:9/hostile", "secret": "s" } }
            """, HostileAuth.Admin, PathVariants: ["/api/admin/outputs/{0}", "/api/admin/outputs/{0}/dead-letters"]),
        new("Admin", HttpMethod.Post, "/api/admin/connections", () => """
            { "input": "no-such-input", "output_id": "no-such-output", "active": false, "filter": { "events": { "exclude": ["x"] } } }
            """, HostileAuth.Admin, PathVariants: ["/api/admin/connections/{0}"]),
        new("Admin", HttpMethod.Post, "/api/admin/jobs", () => """{ "kind": "not-a-kind", "workspace_id": 1, "parameters": { "file": "none.jsonl" } }""", HostileAuth.Admin,
            PathVariants: ["/api/admin/jobs/{0}", "/api/admin/jobs/{0}/download", "/api/admin/jobs?status={0}"]),
        new("Admin", HttpMethod.Get, "/ui/api/search?q=ana", null, HostileAuth.Admin, PathVariants: ["/ui/api/search?q={0}", "/ui/api/people/{0}", "/ui/api/people/{0}/events", "/ui/api/people/1/events?before={0}"]),
    ];

    private static string Batch() => $$"""
        { "environment": "development", "source_request_id": "{{Guid.NewGuid()}}",
          "user_identities": { "customer_id": "{{Api.NewId("c")}}", "email": "{{Api.NewId("e")}}@example.org" },
          "user_attributes": { "plan": "pro", "visits": 3, "tags": ["a", "b"] },
          "device_info": { "platform": "web", "ios_idfv": "{{Guid.NewGuid()}}" },
          "consent_state": { "gdpr": { "marketing": { "consented": true, "timestamp_unixtime_ms": 1764800000000, "document": "v1" } } },
          "events": [ { "event_type": "custom_event",
            "data": { "event_name": "Viewed", "custom_event_type": "navigation", "timestamp_unixtime_ms": 1764800000000,
                      "custom_attributes": { "page": "/pricing", "price": 9.5 } } } ] }
        """;

    private static string IdSync() => $$"""
        { "client_sdk": { "platform": "web", "sdk_vendor": "mparticle", "sdk_version": "2.23.0" },
          "environment": "development", "request_id": "{{Guid.NewGuid()}}", "request_timestamp_ms": 1764800000000, "previous_mpid": null,
          "known_identities": { "customerid": "{{Api.NewId("c")}}", "email": "{{Api.NewId("e")}}@example.org", "other": "o-1" } }
        """;

    private static string Alias() => $$"""
        { "request_type": "alias", "request_id": "{{Guid.NewGuid()}}", "environment": "development", "api_key": "demo-web-key",
          "data": { "source_mpid": 7301, "destination_mpid": 7302, "start_unixtime_ms": 1764700000000, "end_unixtime_ms": 1764800000000, "scope": "mpid" } }
        """;

    // ---- the fragments put in place of a value or a property name

    private static byte[] Str(params object[] parts)
    {
        var bytes = new List<byte> { (byte)'"' };
        foreach (var part in parts) bytes.AddRange(part is string s ? Encoding.UTF8.GetBytes(s) : (byte[])part);
        bytes.Add((byte)'"');
        return bytes.ToArray();
    }

    private static readonly byte[][] InvalidUtf8 =
    [
        Str(new byte[] { 0xFF }), Str("abc", new byte[] { 0xC3 }), Str(new byte[] { 0xE2, 0x82 }, "x"), Str(new byte[] { 0xED, 0xA0, 0x80 }),
        Str(new byte[] { 0xC0, 0xAF }), Str(new byte[] { 0xF8, 0x88, 0x80, 0x80, 0x80 }), Str("ok", new byte[] { 0x80 }, "ok"), Str(new byte[] { 0xF4, 0x90, 0x80, 0x80 }),
        Str(new byte[] { 0xFE, 0xFF }), Str("e", new byte[] { 0xE9 }, "t", new byte[] { 0xE9 }),
    ];

    private static readonly byte[][] Escapes =
    [
        Str("\\u0000"), Str("a\\u0000b"), Str("\\ud800"), Str("\\udc00x"), Str("\\ud800\\ud800"), Str("\\u001f\\u0001"), Str("\\\\u0000"),
        Str("\\uZZZZ"), Str("\\x00"), Str("tab\\there\\n"), Str(new byte[] { 0x00 }), Str("raw", new byte[] { 0x01 }), Str("\\/\\b\\f"),
        Str("\\u00e9\\u2028\\u2029"), Str("\\uFEFF"), Str("\\uffff"), Str("\\udbff\\udfff"), Str("\\u0000\\u0000\\u0000"), Str("\\"), Str("\\u00"),
    ];

    private static readonly byte[][] Numbers =
    [
        "1e400"u8.ToArray(), "-1e400"u8.ToArray(), "1e-400"u8.ToArray(), "123456789012345678901234567890"u8.ToArray(),
        Encoding.ASCII.GetBytes(new string('9', 5000)), Encoding.ASCII.GetBytes("0." + new string('0', 400) + "1"), "NaN"u8.ToArray(),
        "Infinity"u8.ToArray(), "-0"u8.ToArray(), "9223372036854775808"u8.ToArray(), "-9223372036854775809"u8.ToArray(), "1.5"u8.ToArray(),
        "01"u8.ToArray(), "1e309"u8.ToArray(), "-"u8.ToArray(), "0x10"u8.ToArray(), "1E+2"u8.ToArray(), "2147483648"u8.ToArray(),
        "9223372036854775807"u8.ToArray(), "-9223372036854775808"u8.ToArray(), "253402300800000"u8.ToArray(), "-62135596800001"u8.ToArray(),
        "\"9999-12-31T23:59:59Z\""u8.ToArray(), "\"0001-01-01\""u8.ToArray(), "1e-7"u8.ToArray(),
    ];

    private static readonly byte[][] Types =
    [
        "null"u8.ToArray(), "true"u8.ToArray(), "false"u8.ToArray(), "{}"u8.ToArray(), "[]"u8.ToArray(), "\"\""u8.ToArray(), "\"x\""u8.ToArray(),
        "[null]"u8.ToArray(), """{"a":[]}"""u8.ToArray(), "[1,\"a\",{}]"u8.ToArray(), "0"u8.ToArray(), "-1"u8.ToArray(),
    ];

    private static readonly byte[][] Injections =
    [
        Str("'; DROP TABLE mt_events; --"), Str("{{7*7}}"), Str("<script>alert(1)</script>"), Str("../../../../etc/passwd"),
        Str("${jndi:ldap://127.0.0.1/x}"), Str("$where"), Str("%00"), Str("' OR '1'='1"), Str("\\\" OR 1=1 --"), Str("\\\\\\\\?\\\\C:\\\\"),
        Str(new string('A', 100_000)), Str(string.Concat(Enumerable.Repeat("\U0001F600", 5000))), Str("\u202e\u200b"), Str("null"),
        Str("undefined"), Str("[object Object]"), Str("00000000-0000-0000-0000-000000000000"), Str("*"), Str("(a+)+$"), Str("%s%s%n"),
        Str("\\r\\nX-Injected: 1"), Str("@example.org"), Str(" "), Str("1; select pg_sleep(0)"), Str("$1"),
    ];

    private static byte[] Nest(int depth, bool objects) => objects
        ? Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth))
        : Encoding.ASCII.GetBytes(new string('[', depth) + new string(']', depth));

    private static readonly string[] BadPathValues =
    [
        "abc", "-1", "0", "99999999999999999999", "%00", "%FF", "%C0%AF", "..%2F..%2Fetc%2Fpasswd", "%2e%2e", new string('x', 3000),
        "1e3", "%201", "null", "%27%20OR%201%3D1", "%E2%80%AE", "a%00b", "%ED%A0%80", "9223372036854775808", "-9223372036854775809", "%F0%9F%98%80",
    ];

    private static readonly (string? ContentType, string Kind)[] ContentTypes =
    [
        ("text/xml", "content type xml"), ("application/x-www-form-urlencoded", "content type form"), ("multipart/form-data", "content type multipart without boundary"),
        ("application/json; charset=utf-16", "charset utf-16"), ("application/json; charset=bogus", "charset bogus"), (null, "no content type"),
        ("text/plain", "content type text"), ("application/octet-stream", "content type binary"), ("application/json; charset=\"", "broken content type"),
    ];

    public IReadOnlyList<HostileRequest> Generate(IReadOnlyList<HostileTarget> targets, int count)
    {
        var requests = new List<HostileRequest>(count);
        for (var i = 0; i < count; i++)
        {
            var target = targets[_random.Next(targets.Count)];
            requests.Add(target.Template is null ? PathMutation(target) : Mutate(target));
        }
        return requests;
    }

    private HostileRequest Mutate(HostileTarget t)
    {
        var template = t.Template!();
        var roll = _random.Next(100);
        return roll switch
        {
            < 14 => Slot(t, template, "invalid UTF-8", Pick(InvalidUtf8)),
            < 28 => Slot(t, template, "escape", Pick(Escapes)),
            < 35 => Name(t, template, _random.Next(2) == 0 ? Pick(InvalidUtf8) : Pick(Escapes)),
            < 43 => Slot(t, template, "number", Pick(Numbers)),
            < 49 => Slot(t, template, "type swap", Pick(Types)),
            < 54 => Slot(t, template, "deep nesting", Nest(Pick([65, 200, 1000, 20_000]), _random.Next(2) == 0)),
            < 62 => Slot(t, template, "injection", Pick(Injections)),
            < 67 => Duplicate(t, template),
            < 72 => Body(t, "truncated", Encoding.UTF8.GetBytes(template)[..Math.Max(1, _random.Next(Encoding.UTF8.GetByteCount(template)))]),
            < 77 => WholeBody(t),
            < 84 => ContentType(t, template),
            < 93 => Encoded(t, template),
            _ => t.PathVariants is { Length: > 0 } ? PathMutation(t) : Slot(t, template, "escape", Pick(Escapes)),
        };
    }

    private T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];

    private HostileRequest Body(HostileTarget t, string kind, byte[] body, string? contentType = "", string? encoding = null) =>
        new(t.Family, kind, t.Method, t.Path, body, contentType == "" ? t.ContentType : contentType, encoding, t.Auth);

    /// <summary>A random value (any depth, the root included) replaced by the fragment.</summary>
    private HostileRequest Slot(HostileTarget t, string template, string kind, byte[] fragment)
    {
        var root = JsonNode.Parse(template)!;
        var slots = new List<(JsonNode? Parent, string? Name, int Index)>();
        Walk(root, null, null, -1, slots);
        var (parent, name, index) = Pick(slots);
        if (parent is null) return Body(t, kind + " (whole body)", fragment);
        if (parent is JsonObject o) o[name!] = Marker;
        else ((JsonArray)parent)[index] = Marker;
        return Body(t, kind, Splice(root.ToJsonString(), $"\"{Marker}\"", fragment));
    }

    /// <summary>A random property name replaced by the fragment (a string).</summary>
    private HostileRequest Name(HostileTarget t, string template, byte[] fragment)
    {
        var root = JsonNode.Parse(template)!;
        var slots = new List<(JsonNode? Parent, string? Name, int Index)>();
        Walk(root, null, null, -1, slots);
        var named = slots.Where(s => s.Parent is JsonObject).ToList();
        var (parent, name, _) = Pick(named);
        var o = (JsonObject)parent!;
        var value = o[name!]?.DeepClone();
        o.Remove(name!);
        o[Marker] = value;
        return Body(t, "property name", Splice(root.ToJsonString(), $"\"{Marker}\"", fragment));
    }

    /// <summary>A property repeated in its object with another value (which one wins differs between parsers).</summary>
    private HostileRequest Duplicate(HostileTarget t, string template)
    {
        var root = JsonNode.Parse(template)!;
        var slots = new List<(JsonNode? Parent, string? Name, int Index)>();
        Walk(root, null, null, -1, slots);
        var (parent, name, _) = Pick(slots.Where(s => s.Parent is JsonObject).ToList());
        ((JsonObject)parent!)[Marker] = 1;
        var value = Pick(Types.Concat(Injections.Take(5)).Concat(Escapes.Take(3)).ToList());
        return Body(t, "duplicate key", Splice(root.ToJsonString(), $"\"{Marker}\":1", [.. Encoding.UTF8.GetBytes($"\"{name}\":"), .. value]));
    }

    private HostileRequest WholeBody(HostileTarget t)
    {
        var bodies = new (string Kind, byte[] Body)[]
        {
            ("empty", []), ("whitespace", " \r\n\t "u8.ToArray()), ("null", "null"u8.ToArray()), ("array", "[]"u8.ToArray()),
            ("string", "\"str\""u8.ToArray()), ("number", "123"u8.ToArray()), ("xml", "<xml><a/></xml>"u8.ToArray()),
            ("form", "a=1&b=%00"u8.ToArray()), ("random bytes", RandomBytes(_random.Next(1, 2000))),
            ("utf-16 json", Encoding.Unicode.GetBytes(t.Template!())), ("bom json", [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(t.Template!())]),
            ("two documents", Encoding.UTF8.GetBytes(t.Template!() + t.Template!())), ("trailing comma", "{\"a\":1,}"u8.ToArray()),
            ("comment", "/* c */ {}"u8.ToArray()), ("nul byte", [0x00]),
        };
        var (kind, body) = Pick(bodies);
        return Body(t, "whole body: " + kind, body);
    }

    private HostileRequest ContentType(HostileTarget t, string template)
    {
        var (contentType, kind) = Pick(ContentTypes);
        var body = kind == "charset utf-16" && _random.Next(2) == 0 ? Encoding.Unicode.GetBytes(template) : Encoding.UTF8.GetBytes(template);
        return Body(t, kind, body, contentType);
    }

    private HostileRequest Encoded(HostileTarget t, string template)
    {
        var plain = Encoding.UTF8.GetBytes(template);
        var gzip = Gzip(plain);
        var options = new (string Kind, byte[] Body, string Encoding)[]
        {
            ("gzip over plain", plain, "gzip"), ("br over plain", plain, "br"), ("deflate over plain", plain, "deflate"),
            ("truncated gzip", gzip[..(gzip.Length / 2)], "gzip"), ("corrupt gzip", Corrupt(gzip), "gzip"), ("compress", plain, "compress"),
            ("two encodings", gzip, "gzip, br"), ("valid gzip", gzip, "gzip"), ("valid br", Brotli(plain), "br"),
            ("gzip of invalid UTF-8", Gzip([.. "{\"environment\":\""u8, 0xFF, .. "\"}"u8]), "gzip"), ("gzip header only", gzip[..10], "gzip"),
            ("gzip of empty", Gzip([]), "gzip"), ("unknown encoding", plain, "x-hostile"),
        };
        var (kind, body, encoding) = Pick(options);
        return Body(t, kind, body, encoding: encoding);
    }

    private HostileRequest PathMutation(HostileTarget t)
    {
        var variants = t.PathVariants ?? [t.Path];
        var variant = Pick(variants);
        var value = Pick(BadPathValues);
        var path = variant.Contains("{0}") ? variant.Replace("{0}", value) : variant + (variant.Contains('?') ? "&x=" : "?x=") + value;
        var body = t.Template is null || t.Method == HttpMethod.Get ? null : Encoding.UTF8.GetBytes(t.Template());
        var method = variant.Contains("?") && t.Method == HttpMethod.Get ? HttpMethod.Get : t.Method;
        // A path with a parameter of its own is also asked for with GET and DELETE, which reach other endpoints.
        if (variant != t.Path && _random.Next(3) == 0) (method, body) = (_random.Next(2) == 0 ? HttpMethod.Get : HttpMethod.Delete, null);
        return new(t.Family, "bad path", method, path, body, body is null ? null : t.ContentType, null, t.Auth);
    }

    private static void Walk(JsonNode? node, JsonNode? parent, string? name, int index, List<(JsonNode? Parent, string? Name, int Index)> slots)
    {
        slots.Add((parent, name, index));
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, child) in o.ToList()) Walk(child, o, key, -1, slots);
                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++) Walk(a[i], a, null, i, slots);
                break;
        }
    }

    private static byte[] Splice(string json, string marker, byte[] fragment)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        var at = bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(marker));
        return [.. bytes[..at], .. fragment, .. bytes[(at + Encoding.UTF8.GetByteCount(marker))..]];
    }

    private byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        _random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>Flips bits past the header; no randomness, so the run's sequence does not depend on the body's length.</summary>
    public static byte[] Corrupt(byte[] gzip)
    {
        var copy = gzip.ToArray();
        for (var i = 12; i < copy.Length; i += 7) copy[i] ^= 0x5A;
        return copy;
    }

    public static byte[] Gzip(byte[] data, CompressionLevel level = CompressionLevel.Fastest)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, level)) gzip.Write(data);
        return output.ToArray();
    }

    public static byte[] Brotli(byte[] data, CompressionLevel level = CompressionLevel.Fastest)
    {
        using var output = new MemoryStream();
        using (var brotli = new BrotliStream(output, level)) brotli.Write(data);
        return output.ToArray();
    }
}
