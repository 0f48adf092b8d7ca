using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Operability;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;
using EventProfiles.Domain.Workspaces;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Cors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using EventProfiles.Commands.Streams;
using Npgsql;
using Wolverine.Http;

namespace EventProfiles.Commands.Identity;

/// <summary>The alias body the SDKs send (identity.md §9); MPIDs as numbers (native) or strings (web).</summary>
public sealed class AliasBody
{
    [JsonPropertyName("request_type")] public string? RequestType { get; init; }
    [JsonPropertyName("request_id")] public string? RequestId { get; init; }
    [JsonPropertyName("environment")] public string? Environment { get; init; }
    [JsonPropertyName("api_key")] public string? ApiKey { get; init; }
    [JsonPropertyName("data")] public AliasData? Data { get; init; }
}

public sealed class AliasData
{
    [JsonPropertyName("source_mpid")] public MpidValue? SourceMpid { get; init; }
    [JsonPropertyName("destination_mpid")] public MpidValue? DestinationMpid { get; init; }
    [JsonPropertyName("start_unixtime_ms")] public long? StartUnixtimeMs { get; init; }
    [JsonPropertyName("end_unixtime_ms")] public long? EndUnixtimeMs { get; init; }
    [JsonPropertyName("device_application_stamp")] public string? DeviceApplicationStamp { get; init; }
    [JsonPropertyName("scope")] public string? Scope { get; init; }
}

/// <summary>An accepted alias and what became of it; its id is the request's, so a repeat finds it.</summary>
public sealed class AliasJob
{
    public string Id { get; set; } = "";
    public long SourceMpid { get; set; }
    public long DestinationMpid { get; set; }
    public DateTimeOffset Start { get; set; }
    public DateTimeOffset End { get; set; }
    public DateTimeOffset RequestedAt { get; set; }
    public string Input { get; set; } = "";
    public string? RequestId { get; set; }
    public AliasJobStatus Status { get; set; }
    public string? Reason { get; set; }
    public int EventsCopied { get; set; }

    public AliasRequest Request => new(SourceMpid, DestinationMpid, Start, End);
}

public enum AliasJobStatus { Accepted, Done, Rejected }

/// <summary>The durable background work of an alias (Wolverine local durable queue).</summary>
public sealed record RunAlias(string AliasId);

/// <summary>An alias request checked and ready, or why not.</summary>
public sealed record AliasInput(AliasRequest? Request, string? RequestId, ProblemDetails? Problem);

/// <summary>
/// <c>POST /v1/identity/{apiKey}/Alias</c> (web SDK; also <c>/alias</c>, iOS/Android, HMAC-signed): 202 once the alias is
/// stored; the copy runs as a durable background job. Syntax errors, equal or unknown MPIDs and a start after the end
/// are 400; the spec's rules about earlier aliases are checked by the job, silently (identity.md §9).
/// </summary>
public static class SdkAliasEndpoint
{
    public static Task<AliasInput> LoadAsync(HttpRequest request, NpgsqlDataSource db, IDocumentStore store, TimeProvider clock, CancellationToken ct) =>
        AliasSteps.ReadAsync(request, db, store, clock, ct);

    public static ProblemDetails Validate(AliasInput input) => input.Problem ?? WolverineContinue.NoProblems;

    [WolverinePost("/v1/identity/{apiKey}/alias", Name = "Alias (SDKs)"), EnableCors(SdkCors.Policy)]
    [Authorize(AuthenticationSchemes = AuthSchemes.IdentityApi)]
    public static Task<(IResult, RunAlias?)> Post(string apiKey, [NotBody] AliasInput input, ClaimsPrincipal user, WorkspaceDirectory directory,
        IDocumentSession session, TimeProvider clock, CancellationToken ct) =>
        AliasSteps.AcceptAsync(input, user.InputOf(directory), session, clock, ct);
}

/// <summary><c>POST /v1/alias</c>: the same for servers (Basic or HMAC with the input's secret).</summary>
public static class ServerAliasEndpoint
{
    public static Task<AliasInput> LoadAsync(HttpRequest request, NpgsqlDataSource db, IDocumentStore store, TimeProvider clock, CancellationToken ct) =>
        AliasSteps.ReadAsync(request, db, store, clock, ct);

    public static ProblemDetails Validate(AliasInput input) => input.Problem ?? WolverineContinue.NoProblems;

    [WolverinePost("/v1/alias", Name = "Alias (server to server)")]
    [Authorize(AuthenticationSchemes = AuthSchemes.IdentityApi)]
    public static Task<(IResult, RunAlias?)> Post([NotBody] AliasInput input, ClaimsPrincipal user, WorkspaceDirectory directory,
        IDocumentSession session, TimeProvider clock, CancellationToken ct) =>
        AliasSteps.AcceptAsync(input, user.InputOf(directory), session, clock, ct);
}

public static class AliasSteps
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.General);

    public static async Task<AliasInput> ReadAsync(HttpRequest request, NpgsqlDataSource db, IDocumentStore store, TimeProvider clock, CancellationToken ct)
    {
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        AliasBody? body;
        try { body = await JsonSerializer.DeserializeAsync<AliasBody>(request.Body, Json, ct); }
        catch (JsonException ex) { return Invalid((ex.Path ?? "").TrimStart('$').TrimStart('.'), ex.Path is null ? "the body is not valid JSON." : ex.Message.Split(" Path:")[0]); }

        var errors = new List<FieldError>();
        if (body?.RequestType is not "alias") errors.Add(new FieldError("request_type", "must be \"alias\"."));
        if (body?.Environment is not ("production" or "development")) errors.Add(new FieldError("environment", "is required: \"production\" or \"development\"."));
        var data = body?.Data;
        if (data?.SourceMpid is not { Value: not 0 }) errors.Add(new FieldError("data.source_mpid", "is required."));
        if (data?.DestinationMpid is not { Value: not 0 }) errors.Add(new FieldError("data.destination_mpid", "is required."));
        // Android leaves both out when they are 0 (native-sdks.md §10); the docs make them optional: from the start of
        // the window (clamped to the look-back when the job runs) to the time of the request.
        var (start, end) = (data?.StartUnixtimeMs ?? 0, data?.EndUnixtimeMs ?? now);
        if (errors.Count > 0) return new AliasInput(null, null, ApiProblems.Invalid(errors));

        var (source, destination) = (data!.SourceMpid!.Value.Value, data.DestinationMpid!.Value.Value);
        if (source == destination) errors.Add(new FieldError("data.destination_mpid", "must differ from the source."));
        if (start > end) errors.Add(new FieldError("data.start_unixtime_ms", "must not be after the end."));
        if (start is < 0 or > 253_402_300_799_999 || end is < 0 or > 253_402_300_799_999)
            errors.Add(new FieldError("data", "times must be milliseconds since the Unix epoch."));
        if (errors.Count == 0)
        {
            var known = new HashSet<long>();
            await using var batch = db.CreateBatch();
            batch.BatchCommands.Add(IdentityIndexQueries.ExistingStreams(store.Options.DatabaseSchemaName, [source, destination]));
            await using var reader = await batch.ExecuteReaderAsync(ct);
            await IdentityIndexQueries.ReadExistingStreamsAsync(reader, known);
            if (!known.Contains(source)) errors.Add(new FieldError("data.source_mpid", $"there is no profile {source}."));
            if (!known.Contains(destination)) errors.Add(new FieldError("data.destination_mpid", $"there is no profile {destination}."));
        }
        if (errors.Count > 0) return new AliasInput(null, null, ApiProblems.Invalid(errors));

        return new AliasInput(new AliasRequest(source, destination,
            DateTimeOffset.FromUnixTimeMilliseconds(start), DateTimeOffset.FromUnixTimeMilliseconds(end)),
            body!.RequestId, null);
    }

    /// <summary>Stores the alias (once: a repeat finds it) and hands the copy to the durable queue in the same transaction.</summary>
    public static async Task<(IResult, RunAlias?)> AcceptAsync(AliasInput input, Input from, IDocumentSession session, TimeProvider clock, CancellationToken ct)
    {
        var request = input.Request!;
        if (await session.LoadAsync<AliasJob>(request.Id, ct) is not null) return (Results.StatusCode(StatusCodes.Status202Accepted), null);
        session.Insert(new AliasJob
        {
            Id = request.Id, SourceMpid = request.SourceMpid, DestinationMpid = request.DestinationMpid,
            Start = request.Start, End = request.End, RequestedAt = clock.GetUtcNow(), Input = from.Name, RequestId = input.RequestId,
            Status = AliasJobStatus.Accepted,
        });
        return (Results.StatusCode(StatusCodes.Status202Accepted), new RunAlias(request.Id));
    }

    private static AliasInput Invalid(string field, string message) => new(null, null, ApiProblems.Invalid([new FieldError(field, message)]));
}

/// <summary>
/// Carries out an alias: copies the source's events of the window (at most 90 days before the request) to the
/// destination with their own timestamps, and its install attribution; records the alias on both streams. Streams are
/// locked as ingestion locks them, so a concurrent batch cannot lose the destination's profile update.
/// </summary>
public static class RunAliasHandler
{
    public static async Task Handle(RunAlias command, IDocumentSession session, TimeProvider clock, CancellationToken ct)
    {
        var job = await session.LoadAsync<AliasJob>(command.AliasId, ct);
        if (job is not { Status: AliasJobStatus.Accepted }) return; // done before: a redelivery changes nothing

        var earlier = await session.Query<AliasJob>()
            .Where(j => j.Id != job.Id && j.Status == AliasJobStatus.Done &&
                        (j.SourceMpid == job.SourceMpid || j.DestinationMpid == job.SourceMpid || j.SourceMpid == job.DestinationMpid))
            .ToListAsync(ct);
        if (AliasRules.Rejection(job.Request, earlier.Select(j => j.Request)) is { } reason)
        {
            job.Status = AliasJobStatus.Rejected;
            job.Reason = reason;
            session.Store(job);
            return;
        }

        // Either side may be aged out (archived): the copy is recorded on both streams, so both are taken out of the archive.
        var profiles = await Privacy.ProfileLifetime.LockAndUnarchiveAsync(session, [job.SourceMpid, job.DestinationMpid], ct);
        var source = profiles.GetValueOrDefault(job.SourceMpid);
        if (source is null)
        {
            job.Status = AliasJobStatus.Rejected;
            job.Reason = "the source profile is gone";
            session.Store(job);
            return;
        }

        var from = job.Request.EffectiveStart(job.RequestedAt);
        // Events a split or merge moved away are not the source's to copy (issue 21).
        var copies = VisibleEvents.Of(await session.Events.FetchStreamAsync(StreamKey.For(job.SourceMpid), token: ct))
            .Select(e => e.Data)
            .OfType<EventCaptured>()
            .Where(e => e.Timestamp >= from && e.Timestamp <= job.End)
            .Select(e => (object)(e with { CopiedFrom = job.SourceMpid }))
            .ToList();
        var now = clock.GetUtcNow();
        var attributions = source.Workspaces
            .Where(ws => ws.Value.InstallAttribution is not null)
            .Select(ws => (object)new InstallAttributed(ws.Key, null, ws.Value.InstallAttribution!.Publisher, ws.Value.InstallAttribution.Campaign, ws.Value.InstallAttribution.At));

        session.Events.Append(StreamKey.For(job.DestinationMpid),
            [.. copies, .. attributions, new ProfileAliasedFrom(job.SourceMpid, job.Id, from, job.End, copies.Count, source.FirstSeenAt, now)]);
        session.Events.Append(StreamKey.For(job.SourceMpid), new ProfileAliasedTo(job.DestinationMpid, job.Id, from, job.End, now));
        Metrics.Merge("alias"); // counted when carried out (a retry after a failed commit counts again)
        job.Status = AliasJobStatus.Done;
        job.EventsCopied = copies.Count;
        session.Store(job);
    }
}

public static class IdentityStorage
{
    /// <summary>Documents of the identity feature, created with the rest of the schema.</summary>
    public static StoreOptions AddIdentityDocuments(this StoreOptions opts)
    {
        opts.Schema.For<AliasJob>().Index(j => j.SourceMpid).Index(j => j.DestinationMpid);
        return opts;
    }
}
