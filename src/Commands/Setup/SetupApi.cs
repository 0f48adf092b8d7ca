using System.Globalization;
using System.Security.Claims;
using EventProfiles.Commands.Api;
using EventProfiles.Domain.Setup;
using Marten;
using JasperFx;
using Marten.Exceptions;
using Microsoft.AspNetCore.Http;

namespace EventProfiles.Commands.Setup;

/// <summary>
/// What one admin change decided: the response, and unless it changed nothing, the change to record (never a secret in
/// <paramref name="Details"/>) and the org when the change is to the org itself.
/// </summary>
public sealed record SetupOutcome(IResult Response, string? What = null, string Subject = "", string Details = "", SetupOrg? Org = null)
{
    public static SetupOutcome Refused(IResult response) => new(response);
}

/// <summary>What every configuration endpoint shares: one change = one transaction that raises the version and records who did what.</summary>
public static class SetupApi
{
    public static async Task<IResult> ChangeAsync(IDocumentStore store, SetupRefresh refresh, ClaimsPrincipal user, TimeProvider clock,
        Func<IDocumentSession, SetupOrg, DateTimeOffset, Task<SetupOutcome>> decide, CancellationToken ct)
    {
        await using var session = store.LightweightSession();
        var org = await session.LoadAsync<SetupOrg>(SetupOrg.TheId, ct) ?? throw new InvalidOperationException("The configuration has not been seeded.");
        var now = clock.GetUtcNow();
        var outcome = await decide(session, org, now);
        if (outcome.What is null) return outcome.Response;
        var version = org.Version + 1;
        session.Store((outcome.Org ?? org) with { Version = version });
        session.Insert(new SetupChange(Guid.NewGuid(), version, now, user.Identity?.Name ?? "", outcome.What, outcome.Subject, outcome.Details));
        try
        {
            // Committed here, not by the endpoint's transaction middleware: the response promises the change is in effect
            // on this node (a created key ingests at once), so the directory is refreshed before answering.
            await session.SaveChangesAsync(ct);
        }
        catch (Exception e) when (e is ConcurrencyException or DocumentAlreadyExistsException)
        {
            return Results.Problem(ApiProblems.Create(StatusCodes.Status409Conflict, "Conflict",
                [new FieldError("", "The configuration was changed by another request at the same time; read it again and retry.", "CONFLICT")]));
        }
        await refresh.RefreshAsync(ct);
        return outcome.Response;
    }

    public static IResult NotFound(string what, string id) =>
        Results.Problem(ApiProblems.Create(StatusCodes.Status404NotFound, "Not found", [new FieldError("id", $"There is no {what} {id}.", "NOT_FOUND")]));

    public static IResult Invalid(params FieldError[] errors) => Results.Problem(ApiProblems.Invalid(errors));

    public static IResult Invalid(IEnumerable<FieldError> errors) => Results.Problem(ApiProblems.Invalid([.. errors]));

    public static IResult Conflict(string field, string message) =>
        Results.Problem(ApiProblems.Create(StatusCodes.Status409Conflict, "Conflict", [new FieldError(field, message, "CONFLICT")]));

    public static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    public static object SecretView(StoredSecret secret) => new { id = secret.Id, created_at = secret.CreatedAt };
}

/// <summary>The configuration's change history (who changed what, when), newest first; for org-wide admins.</summary>
public static class ListSetupChangesEndpoint
{
    [Wolverine.Http.WolverineGet("/api/admin/configuration-changes", Name = "List configuration changes")]
    [Microsoft.AspNetCore.Authorization.Authorize(AuthenticationSchemes = Security.AuthSchemes.AdminOrSession, Policy = Security.ApiAuthorization.EveryWorkspace)]
    public static async Task<IResult> Get(IQuerySession session, CancellationToken ct, int? limit = null)
    {
        var changes = await session.Query<SetupChange>().OrderByDescending(c => c.Version).Take(Math.Clamp(limit ?? 100, 1, 1_000)).ToListAsync(ct);
        return Results.Ok(changes.Select(c => new { version = c.Version, at = c.At, by = c.By, what = c.What, subject = c.Subject, details = c.Details }));
    }
}
