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
            return RateLimitPartition.GetFixedWindowLimiter(workspace, _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = perMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0,
            });
        });
        options.OnRejected = async (rejected, ct) =>
        {
            var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromMinutes(1);
            rejected.HttpContext.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            rejected.HttpContext.Response.Headers.RetryAfter = Math.Ceiling(retryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            rejected.HttpContext.Response.ContentType = "application/problem+json";
            var problem = DsrProblems.Create(StatusCodes.Status429TooManyRequests, "Too many requests",
                [new FieldError("", $"More than {perMinute} requests in a minute for this workspace; retry after the Retry-After delay.", "RATE_LIMITED")]);
            await rejected.HttpContext.Response.WriteAsync(JsonSerializer.Serialize(problem), ct);
        };
    }
}
