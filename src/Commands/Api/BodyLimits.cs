using EventProfiles.Commands.Ingestion;

namespace EventProfiles.Commands.Api;

/// <summary>How a route's body is read: JSON (buffered, checked before the endpoint sees it), a form, or a stream.</summary>
public enum BodyKind
{
    Json,
    /// <summary>HTML form posts (web UI sign-in, form-encoded token requests): capped, not checked as JSON.</summary>
    Form,
    /// <summary>Uploads of import files: capped at their own (large) limit and streamed to disk, never buffered.</summary>
    Stream,
}

/// <param name="Repairable">Values PostgreSQL cannot store (NUL, unpaired surrogates, huge numbers) are left for the endpoint to
/// repair instead of refused: native SDK uploads, whose SDKs delete a batch answered 4xx.</param>
public sealed record BodyLimit(long MaxBytes, BodyKind Kind, string Family, bool Repairable = false);

/// <summary>
/// The most a request body may hold <b>after decompression</b>, per endpoint family: one table, applied by
/// <see cref="RequestBodyMiddleware"/> to every request, so a small compressed body cannot inflate past its
/// endpoint's limit anywhere. First matching route prefix wins (case-insensitive, as routing is).
/// </summary>
public sealed class BodyLimits(long maxUploadBytes)
{
    public const long IdSync = 64 * 1024;
    public const long Events = BatchLimits.MaxRequestBytes;
    /// <summary>The SDKs cap a message at 100 KB and a batch near 200 KB, but a crash report may reach 1 MB.</summary>
    public const long NativeEvents = 1024 * 1024 + 64 * 1024;
    public const long Dsr = 256 * 1024;
    public const long ProfileApi = 64 * 1024;
    public const long PlatformApi = 256 * 1024;
    public const long Admin = 1024 * 1024;
    /// <summary>Import files stream to disk; 1 GiB unless <c>EventProfiles:Operations:MaxUploadBytes</c> says otherwise.</summary>
    public const long DefaultMaxUploadBytes = 1L << 30;

    public long MaxUploadBytes { get; } = maxUploadBytes;

    private readonly (string Prefix, BodyLimit Limit)[] _routes =
    [
        ("/v2/events", new(Events, BodyKind.Json, "Events API")),
        ("/v2/bulkevents", new(Events, BodyKind.Json, "Events API")),
        ("/v3/JS/", new(Events, BodyKind.Json, "web SDK")),
        ("/v2/calculatedattributes", new(Events, BodyKind.Json, "calculated attribute seeding")),
        ("/v2/bulkcalculatedattributes", new(Events, BodyKind.Json, "calculated attribute seeding")),
        // What is left under /v2/ is /v2/{key}/events: native SDK uploads, crash reports included (native-sdks.md §2.4).
        ("/v2/", new(NativeEvents, BodyKind.Json, "native SDK uploads", Repairable: true)),
        ("/nativeevents/v2/", new(NativeEvents, BodyKind.Json, "native SDK uploads", Repairable: true)),
        ("/v1/audiences", new(PlatformApi, BodyKind.Json, "Platform API")),
        ("/v1/workspace/", new(PlatformApi, BodyKind.Json, "Platform API")),
        ("/platform/", new(PlatformApi, BodyKind.Json, "Platform API")),
        ("/v1/", new(IdSync, BodyKind.Json, "IDSync and alias")),
        ("/v3/requests", new(Dsr, BodyKind.Json, "OpenDSR")),
        ("/userprofile/", new(ProfileApi, BodyKind.Json, "Profile API")),
        ("/oauth/token", new(ProfileApi, BodyKind.Json, "Profile API")),
        ("/api/admin/jobs/files", new(maxUploadBytes, BodyKind.Stream, "admin")),
        ("/api/admin/", new(Admin, BodyKind.Json, "admin")),
        ("/ui/sign-in", new(Admin, BodyKind.Form, "admin")),
        ("/ui/", new(Admin, BodyKind.Json, "admin")),
    ];

    /// <summary>Anything not in the table (health, documentation, unknown paths) takes the smallest limit.</summary>
    private static readonly BodyLimit Other = new(IdSync, BodyKind.Json, "other");

    public BodyLimit For(string path)
    {
        foreach (var (prefix, limit) in _routes)
            if (path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) return limit;
        return Other;
    }
}
