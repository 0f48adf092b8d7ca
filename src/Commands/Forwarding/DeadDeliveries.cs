using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Security;
using JasperFx.Core;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Wolverine.Persistence.Durability;
using Wolverine.Persistence.Durability.DeadLetterManagement;
using Wolverine.Http;
using Wolverine.Runtime;
using Wolverine.Util;

namespace EventProfiles.Commands.Forwarding;

public sealed record DeadDeliveryView(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("delivery_id")] Guid DeliveryId,
    [property: JsonPropertyName("batch_id")] Guid BatchId,
    [property: JsonPropertyName("mpid")] long Mpid,
    [property: JsonPropertyName("connection_id")] string ConnectionId,
    [property: JsonPropertyName("error")] string Error,
    [property: JsonPropertyName("failed_at")] DateTimeOffset FailedAt,
    [property: JsonPropertyName("kind")] string Kind = "batch");

/// <summary>Deliveries that exhausted their retries: Wolverine's dead letters of <see cref="DeliverBatch"/>, per output.</summary>
public sealed class DeadDeliveries(IWolverineRuntime runtime)
{
    private IDeadLetters Letters => runtime.Storage.DeadLetters;

    public async Task<IReadOnlyList<(DeadLetterEnvelope Envelope, DeliverBatch Delivery)>> ForOutputAsync(string outputId, CancellationToken ct)
    {
        var found = new List<(DeadLetterEnvelope Envelope, DeliverBatch Delivery)>();
        for (var page = 1; ; page++) // Wolverine pages from 1
        {
            var results = await Letters.QueryAsync(new DeadLetterEnvelopeQuery(TimeRange.AllTime()) { PageNumber = page, PageSize = 500 }, ct);
            foreach (DeadLetterEnvelope envelope in results.Envelopes)
                if (!envelope.Replayable && MessageOf(envelope) is { } delivery && delivery.OutputId == outputId) found.Add((envelope, delivery));
            if (results.Envelopes.Count < 500) return found;
        }
    }

    /// <summary>The query does not always deserialize bodies; ours are JSON (Wolverine's default serializer).</summary>
    private static DeliverBatch? MessageOf(DeadLetterEnvelope envelope) =>
        envelope.Message as DeliverBatch
        ?? (envelope.MessageType == typeof(DeliverBatch).ToMessageTypeName() && envelope.Envelope.Data is { Length: > 0 } data
            ? JsonSerializer.Deserialize<DeliverBatch>(data, WolverineJson)
            : null);

    private static readonly JsonSerializerOptions WolverineJson = new(JsonSerializerDefaults.Web);

    /// <summary>Marks them replayable: Wolverine's durability agent puts them back on the queue.</summary>
    public async Task<int> ReplayAsync(string outputId, CancellationToken ct)
    {
        var dead = await ForOutputAsync(outputId, ct);
        if (dead.Count > 0) await Letters.ReplayAsync(new DeadLetterEnvelopeQuery(dead.Select(d => d.Envelope.Id).ToArray()), ct);
        return dead.Count;
    }
}

public static class ListDeadDeliveriesEndpoint
{
    [WolverineGet("/api/admin/outputs/{id}/dead-letters", Name = "List an output's failed deliveries")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Get(string id, DeadDeliveries dead, IQuerySession session, ClaimsPrincipal user, CancellationToken ct) =>
        await OutputViews.LoadVisibleAsync(session, id, user, ct) is null ? OutputViews.NotFound(id)
        : Results.Ok((await dead.ForOutputAsync(id, ct)).Select(d => new DeadDeliveryView(
            d.Envelope.Id, d.Delivery.DeliveryId, d.Delivery.BatchId, d.Delivery.Mpid, d.Delivery.ConnectionId,
            d.Envelope.ExceptionMessage, d.Envelope.SentAt, d.Delivery.IsErasureNotice ? "erasure_notice" : "batch")).ToList());
}

public static class ReplayDeadDeliveriesEndpoint
{
    [WolverinePost("/api/admin/outputs/{id}/dead-letters/replay", Name = "Deliver an output's failed deliveries again")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminOrSession)]
    public static async Task<IResult> Post(string id, DeadDeliveries dead, IQuerySession session, ClaimsPrincipal user, CancellationToken ct) =>
        await OutputViews.LoadVisibleAsync(session, id, user, ct) is null ? OutputViews.NotFound(id)
        : Results.Ok(new { replayed = await dead.ReplayAsync(id, ct) });
}
