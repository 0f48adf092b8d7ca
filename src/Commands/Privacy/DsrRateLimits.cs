using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using System.Threading.RateLimiting;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Workspaces;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;

namespace EventProfiles.Commands.Privacy;

/// <summary>
/// OpenDSR's rate limit (§4.1): requests per minute per workspace (GET, POST and DELETE together; 1,000 by default,
/// <c>EventProfiles:Dsr:RequestsPerMinute</c>); over it, 429 with <c>Retry-After</c> and an OpenDSR error body.
/// The count is kept in PostgreSQL (<see cref="DsrRequestCounts"/>), so N nodes together allow the limit, not N times it;
/// one statement per DSR request, which is not a hot path.
/// </summary>
public static class DsrRateLimits
{
    public const string Policy = "dsr";

    public static void Configure(RateLimiterOptions options, int perMinute)
    {
        options.AddPolicy(Policy, context =>
        {
            var directory = context.RequestServices.GetRequiredService<WorkspaceDirectory>();
            var workspace = context.User.Identity?.IsAuthenticated == true ? context.User.InputOf(directory).Workspace.Id : 0;
            return RateLimitPartition.Get(workspace, id => new SharedMinuteLimiter(id, perMinute,
                context.RequestServices.GetRequiredService<DsrRequestCounts>(), context.RequestServices.GetRequiredService<TimeProvider>()));
        });
        options.OnRejected = async (rejected, ct) =>
        {
            var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromMinutes(1);
            rejected.HttpContext.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            rejected.HttpContext.Response.Headers.RetryAfter = Math.Max(1, Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            rejected.HttpContext.Response.ContentType = "application/problem+json";
            var problem = DsrProblems.Create(StatusCodes.Status429TooManyRequests, "Too many requests",
                [new FieldError("", $"More than {perMinute} requests in a minute for this workspace; retry after the Retry-After delay.", "RATE_LIMITED")]);
            await rejected.HttpContext.Response.WriteAsync(JsonSerializer.Serialize(problem), ct);
        };
    }

    /// <summary>
    /// A fixed one-minute window (from its first request, as the in-process limiter had it) counted in the database.
    /// The middleware first tries the synchronous <see cref="RateLimiter.AttemptAcquire"/>, which never decides here,
    /// then awaits <see cref="RateLimiter.AcquireAsync"/>, which counts the request.
    /// </summary>
    private sealed class SharedMinuteLimiter(int workspace, int perMinute, DsrRequestCounts counts, TimeProvider clock) : RateLimiter
    {
        private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

        public override TimeSpan? IdleDuration => null; // holds nothing; the partition may keep it
        public override RateLimiterStatistics? GetStatistics() => null;

        protected override RateLimitLease AttemptAcquireCore(int permitCount) => Lease.Undecided;

        protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
        {
            var now = clock.GetUtcNow();
            var (count, windowStart) = await counts.AddAsync(workspace, now, Window, cancellationToken);
            return count <= perMinute ? Lease.Granted : new Lease(false, windowStart + Window - now);
        }
    }

    private sealed class Lease(bool acquired, TimeSpan? retryAfter) : RateLimitLease
    {
        public static readonly Lease Granted = new(true, null);
        public static readonly Lease Undecided = new(false, null);

        public override bool IsAcquired => acquired;
        public override IEnumerable<string> MetadataNames => retryAfter is null ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = retryAfter;
            return retryAfter is not null && metadataName == MetadataName.RetryAfter.Name;
        }
    }
}
