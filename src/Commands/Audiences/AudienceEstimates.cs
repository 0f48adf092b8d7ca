using System.Security.Claims;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Workspaces;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;
using Npgsql;
using Wolverine;
using Wolverine.Attributes;
using Wolverine.Http;

namespace EventProfiles.Commands.Audiences;

/// <summary>Durable job: estimate how many people an audience definition would hold, without touching any membership.</summary>
public sealed record EstimateAudienceSize(Guid EstimateId);

/// <summary>Scheduled with each estimate: a day later it (and any other finished estimate that old) is deleted.</summary>
public sealed record ExpireAudienceEstimate(Guid EstimateId);

/// <summary>
/// A size estimate the builder asked for before activation: the definition as it was sent, and how far the evaluation
/// got. It writes nothing but this document (no members, no change records, no messages).
/// </summary>
public sealed class AudienceEstimate
{
    /// <summary>How long an estimate is kept: the builder reads it within seconds; a day leaves room to come back to it.</summary>
    public static readonly TimeSpan KeptFor = TimeSpan.FromDays(1);

    public Guid Id { get; set; }
    public List<int> WorkspaceIds { get; set; } = [];
    public string Kind { get; set; } = AudienceKinds.RealTime;
    public DateRange? DateRange { get; set; }
    public List<Criterion> Criteria { get; set; } = [];
    public int LookbackDays { get; set; }
    public string RequestedBy { get; set; } = "";
    public DateTimeOffset RequestedAt { get; set; }
    public long PeopleTotal { get; set; }
    public long PeopleDone { get; set; }
    public long EventsRead { get; set; }
    public long Members { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
}

public sealed record AudienceEstimateView(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("audience_type")] string AudienceType,
    [property: JsonPropertyName("range")] EstimateRange Range,
    [property: JsonPropertyName("people_total")] long PeopleTotal,
    [property: JsonPropertyName("people_done")] long PeopleDone,
    [property: JsonPropertyName("events_read")] long EventsRead,
    [property: JsonPropertyName("percent")] double Percent,
    [property: JsonPropertyName("size")] long? Size,
    [property: JsonPropertyName("matched_so_far")] long MatchedSoFar,
    [property: JsonPropertyName("requested_at")] DateTimeOffset RequestedAt,
    [property: JsonPropertyName("finished_at")] DateTimeOffset? FinishedAt)
{
    public static AudienceEstimateView Of(AudienceEstimate e) => new(e.Id, e.FinishedAt is null ? "running" : "finished", e.Kind, EstimateRange.Of(e),
        e.PeopleTotal, e.PeopleDone, e.EventsRead, e.FinishedAt is not null ? 100 : e.PeopleTotal == 0 ? 0 : Math.Round(100.0 * e.PeopleDone / e.PeopleTotal, 1),
        e.FinishedAt is null ? null : e.Members, e.Members, e.RequestedAt, e.FinishedAt);
}

/// <summary>The events the estimate reads: a standard audience's date range, or a real-time audience's lookback.</summary>
public sealed record EstimateRange(
    [property: JsonPropertyName("from")] DateOnly? From,
    [property: JsonPropertyName("to")] DateOnly? To,
    [property: JsonPropertyName("event_data_days")] int? EventDataDays)
{
    public static EstimateRange Of(AudienceEstimate e) =>
        e.Kind == AudienceKinds.Standard ? new(e.DateRange?.From, e.DateRange?.To, null) : new(null, null, e.LookbackDays);
}

/// <summary>
/// <c>POST /ui/api/audiences/estimates</c>: the builder's "estimate size" (issue 19 §2). The definition is checked as a
/// new audience would be, then evaluated for everyone in its workspaces by the standard-audience evaluation — over the
/// date range for a standard audience, over the real-time lookback (each event criterion in its own window) for a
/// real-time one — as a durable job whose progress <c>GET /ui/api/audiences/estimates/{id}</c> reports.
/// </summary>
public static class ConsoleEstimateAudienceEndpoint
{
    public static async Task<ProblemDetails> ValidateAsync(AudienceBody body, ClaimsPrincipal user, WorkspaceDirectory directory, IQuerySession session,
        CalculatedAttributeLimits limits, CancellationToken ct) =>
        // The name does not matter for an estimate.
        await AudienceQueries.CheckAsync(ConsoleAudienceScope.For(user, directory), body with { Name = "estimate" }, session, limits, null, requireAll: true, ct);

    [WolverinePost("/ui/api/audiences/estimates", Name = "Console: estimate an audience's size")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static (IResult, EstimateAudienceSize, DeliveryMessage<ExpireAudienceEstimate>) Post(AudienceBody body, ClaimsPrincipal user, IDocumentSession session,
        CalculatedAttributeLimits limits, TimeProvider clock)
    {
        var estimate = new AudienceEstimate
        {
            Id = Guid.CreateVersion7(), WorkspaceIds = body.Workspaces!.Distinct().ToList(), Kind = body.AudienceType ?? AudienceKinds.RealTime,
            DateRange = body.DateRange, Criteria = body.Criteria!.ToList(), LookbackDays = limits.RealTimeLookbackDays,
            RequestedBy = AdminAccess.Of(user).User, RequestedAt = clock.GetUtcNow(),
        };
        session.Store(estimate);
        // Committed with the job and its expiry (transactional outbox): no estimate is left without either.
        return (Results.Json(AudienceEstimateView.Of(estimate), statusCode: StatusCodes.Status202Accepted), new EstimateAudienceSize(estimate.Id),
            new ExpireAudienceEstimate(estimate.Id).DelayedFor(AudienceEstimate.KeptFor));
    }
}

public static class ConsoleGetAudienceEstimateEndpoint
{
    [WolverineGet("/ui/api/audiences/estimates/{id:guid}", Name = "Console: an audience size estimate")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static async Task<IResult> Get(Guid id, ClaimsPrincipal user, IQuerySession session, CancellationToken ct) =>
        // Another workspace's estimate is answered as one that does not exist.
        await session.LoadAsync<AudienceEstimate>(id, ct) is { } estimate && AdminAccess.Of(user).SeesAllOf(estimate.WorkspaceIds)
            ? Results.Ok(AudienceEstimateView.Of(estimate))
            : Results.Problem(ApiProblems.Create(StatusCodes.Status404NotFound, "Not found", [new FieldError("id", $"There is no estimate {id}.", "NOT_FOUND")]));
}

public static class EstimateAudienceSizeHandler
{
    [MessageTimeout(24 * 60 * 60)]
    public static async Task Handle(EstimateAudienceSize job, IDocumentStore store, NpgsqlDataSource db, TimeProvider clock,
        ILogger<EstimateAudienceSize> logger, CancellationToken ct)
    {
        AudienceEstimate? estimate;
        await using (var query = store.QuerySession()) estimate = await query.LoadAsync<AudienceEstimate>(job.EstimateId, ct);
        if (estimate is null || estimate.FinishedAt is not null) return;
        var now = clock.GetUtcNow();
        var standard = estimate.Kind == AudienceKinds.Standard;
        var range = standard
            ? estimate.DateRange ?? new DateRange(null, null)
            : new DateRange(DateOnly.FromDateTime(now.UtcDateTime.AddDays(-estimate.LookbackDays)), null);
        // A made-up activation: nothing is stored under it, and no part of the evaluation reads stored state for it.
        var active = StandardEvaluation.Audience(0, "estimate", estimate.Id, estimate.WorkspaceIds, estimate.Criteria, range, standard, estimate.LookbackDays, now);
        (estimate.PeopleTotal, estimate.PeopleDone, estimate.EventsRead, estimate.Members) = (0, 0, 0, 0);
        await StandardEvaluation.RunAsync(store, db, estimate.WorkspaceIds, active, range, now, standard, async chunk =>
        {
            (estimate.PeopleTotal, estimate.PeopleDone, estimate.EventsRead) = (chunk.PeopleTotal, chunk.PeopleDone, chunk.EventsRead);
            estimate.Members += chunk.Members.Count;
            await using var session = store.LightweightSession();
            session.Store(estimate);
            await session.SaveChangesAsync(ct);
            return true;
        }, ct);
        estimate.FinishedAt = clock.GetUtcNow();
        await using (var session = store.LightweightSession())
        {
            session.Store(estimate);
            await session.SaveChangesAsync(ct);
        }
        logger.LogInformation("Audience estimate {Id}: {Members} of {People} people, {Events} events read", estimate.Id, estimate.Members, estimate.PeopleTotal, estimate.EventsRead);
    }
}

/// <summary>
/// Deletes an estimate a day after it was asked for, by a message scheduled with it (durable: it survives restarts and
/// runs on one node). Judged by the Host's clock: a message that comes early (clocks differ) waits again for the rest.
/// An estimate still running waits another period. Every other finished estimate older than a day goes with it, so
/// estimates from before this expiry existed are cleaned up too.
/// </summary>
public static class ExpireAudienceEstimateHandler
{
    public static async Task<object?> Handle(ExpireAudienceEstimate message, IDocumentSession session, TimeProvider clock, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var cutoff = now - AudienceEstimate.KeptFor;
        var estimate = await session.LoadAsync<AudienceEstimate>(message.EstimateId, ct);
        if (estimate is not null && estimate.FinishedAt is null) return message.DelayedFor(AudienceEstimate.KeptFor);
        if (estimate is not null && estimate.RequestedAt > cutoff) return message.DelayedFor(estimate.RequestedAt - cutoff);
        if (estimate is not null) session.Delete(estimate);
        session.DeleteWhere<AudienceEstimate>(e => e.FinishedAt != null && e.RequestedAt <= cutoff);
        return null;
    }
}
