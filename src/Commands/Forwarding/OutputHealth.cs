using System.Security.Claims;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Forwarding;
using EventProfiles.Domain.Workspaces;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Wolverine.Http;

namespace EventProfiles.Commands.Forwarding;

/// <param name="Delivered">Deliveries in the last hour.</param>
/// <param name="FailedAttempts">Attempts that failed in the last hour (each retry counts).</param>
/// <param name="DeadLetters">Deliveries that gave up in the last hour (refused, or out of retries): what a replay sends again.</param>
/// <param name="Pending">Deliveries waiting now (queued, retrying or paused).</param>
public sealed record OutputHealthView(
    [property: JsonPropertyName("delivered")] long Delivered,
    [property: JsonPropertyName("failed_attempts")] long FailedAttempts,
    [property: JsonPropertyName("dead_letters")] long DeadLetters,
    [property: JsonPropertyName("pending")] long Pending,
    [property: JsonPropertyName("dead_letters_total")] long DeadLettersTotal,
    [property: JsonPropertyName("last_error")] string? LastError,
    [property: JsonPropertyName("last_error_at")] DateTimeOffset? LastErrorAt,
    [property: JsonPropertyName("status")] string Status);

public sealed record OutputWithHealth(
    [property: JsonPropertyName("output")] OutputView Output,
    [property: JsonPropertyName("health")] OutputHealthView Health);

/// <summary>
/// <c>GET /api/admin/outputs/health</c>: every output this user may see with its health over the last hour — delivered,
/// failed attempts, dead letters, what waits now, the last error — as the console's Connections page shows it.
/// </summary>
public static class ListOutputHealthEndpoint
{
    public static readonly TimeSpan Window = TimeSpan.FromHours(1);

    [WolverineGet("/api/admin/outputs/health", Name = "Outputs and their health over the last hour")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Get(IQuerySession session, OutputCounters counters, DeadDeliveries dead, ClaimsPrincipal user, TimeProvider clock, CancellationToken ct)
    {
        var access = AdminAccess.Of(user);
        var since = clock.GetUtcNow() - Window;
        var views = new List<OutputWithHealth>();
        foreach (var output in (await session.Query<Output>().ToListAsync(ct)).Where(o => access.Sees(o.WorkspaceId)).OrderBy(o => o.CreatedAt))
        {
            var view = await OutputViews.ViewAsync(output, counters, dead, ct);
            var recent = await counters.RecentAsync(output.Id, since, ct);
            var letters = await dead.ForOutputAsync(output.Id, ct);
            var deadRecently = letters.Count(l => l.Envelope.SentAt >= since);
            // Healthy: nothing failed in the hour. Failing: attempts failed and none was delivered. Degraded: both.
            var status = output.Paused ? "paused"
                : recent.Failed == 0 && deadRecently == 0 ? "healthy"
                : recent.Delivered == 0 ? "failing" : "degraded";
            views.Add(new OutputWithHealth(view, new OutputHealthView(recent.Delivered, recent.Failed, deadRecently, view.Counters.Pending, letters.Count,
                recent.LastError ?? letters.OrderByDescending(l => l.Envelope.SentAt).FirstOrDefault().Envelope?.ExceptionMessage,
                recent.LastErrorAt ?? (letters.Count > 0 ? (DateTimeOffset?)letters.Max(l => l.Envelope.SentAt) : null), status)));
        }
        return Results.Ok(views);
    }
}
