using System.Net;
using System.Security.Cryptography;
using System.Text;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Forwarding;
using Wolverine;

namespace EventProfiles.Commands.Forwarding;

/// <summary>
/// One enriched, filtered batch for one output. Written to Wolverine's durable local queue in the same transaction as
/// the events it comes from, so no batch is accepted without its deliveries recorded.
/// </summary>
public sealed record DeliverBatch(string OutputId, string ConnectionId, Guid DeliveryId, Guid BatchId, long Mpid, string Input, string Environment, string Payload)
{
    /// <summary>
    /// This queued message's own id, also its Wolverine envelope id (see Program.cs) and the key of its
    /// <see cref="Privacy.PersonWork"/> rows: what an erasure deletes it by. <see cref="DeliveryId"/> may be shared by
    /// the deliveries of one membership change to several outputs; this never is.
    /// </summary>
    public Guid WorkId { get; init; } = Guid.CreateVersion7();
}

/// <summary>The destination failed in a way that may pass (5xx, 408, 429, no connection): retried with back-off, then dead-lettered.</summary>
public sealed class DeliveryFailedException(string message) : Exception(message);

/// <summary>The destination refused the batch for good (400, 409, 413, 414, …): dead-lettered at once, as mParticle does.</summary>
public sealed class DeliveryRejectedException(string message) : Exception(message);

public static class DeliverBatchHandler
{
    /// <summary>How long a delivery for a paused output waits before it looks again.</summary>
    public static readonly TimeSpan PausedRecheck = TimeSpan.FromSeconds(5);

    public static async Task<object?> Handle(DeliverBatch delivery, OutputCache outputs, WebhookSender sender, OutputCounters counters,
        LiveStream live, Npgsql.NpgsqlDataSource db, Marten.IDocumentStore store, CancellationToken ct)
    {
        var output = await outputs.GetAsync(delivery.OutputId, ct);
        if (output is null) return null; // the output was deleted: its deliveries go with it
        if (output.Paused)
        {
            // Waits as a new message (a new envelope id), recorded under the same people first so an erasure finds it.
            var later = delivery with { WorkId = Guid.CreateVersion7() };
            await Privacy.PersonWork.CopyAsync(db, store.Options.DatabaseSchemaName, delivery.WorkId, later.WorkId, ct);
            return later.DelayedFor(PausedRecheck);
        }

        try
        {
            await sender.SendAsync(output.Webhook, delivery, ct);
        }
        catch (Exception e) when (e is DeliveryFailedException or DeliveryRejectedException)
        {
            live.Outbound(delivery, e.Message); // the Live Stream shows the failure and its reason (forwarding.md §6)
            throw;
        }
        counters.Delivered(output.Id);
        live.Outbound(delivery);
        return null;
    }
}

/// <summary>POSTs a delivery to a webhook. Receivers may dedupe on <c>X-EventProfiles-Delivery-Id</c>.</summary>
public sealed class WebhookSender(IHttpClientFactory clients)
{
    public const string SignatureHeader = "X-EventProfiles-Signature";
    public const string DeliveryHeader = "X-EventProfiles-Delivery-Id";

    private static readonly HashSet<HttpStatusCode> Retryable =
        [HttpStatusCode.RequestTimeout, HttpStatusCode.TooManyRequests, (HttpStatusCode)306];

    public async Task SendAsync(WebhookSettings webhook, DeliverBatch delivery, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, webhook.Url)
        {
            Content = new StringContent(delivery.Payload, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add(DeliveryHeader, delivery.DeliveryId.ToString());
        if (webhook.Secret is { Length: > 0 } secret)
            request.Headers.Add(SignatureHeader, "sha256=" + Convert.ToHexStringLower(
                HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(delivery.Payload))));

        HttpResponseMessage response;
        try
        {
            response = await clients.CreateClient(nameof(WebhookSender)).SendAsync(request, ct);
        }
        catch (HttpRequestException ex) when (OutboundAddresses.RefusalOf(ex) is { } refused)
        {
            // Refused before connecting: the same answer whatever listens there, so the dead letters are no port scanner.
            throw new DeliveryRejectedException($"{webhook.Url} was not called: {refused.Message}.");
        }
        catch (HttpRequestException ex)
        {
            throw new DeliveryFailedException($"{webhook.Url} could not be reached: {ex.Message}");
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new DeliveryFailedException($"{webhook.Url} did not answer in time.");
        }
        using (response)
        {
            var status = (int)response.StatusCode;
            if (status is >= 200 and < 300) return;
            if (status >= 500 || Retryable.Contains(response.StatusCode))
                throw new DeliveryFailedException($"{webhook.Url} answered {status}.");
            if (status is >= 300 and < 400)
                throw new DeliveryRejectedException($"{webhook.Url} answered {status}; redirects are not followed.");
            throw new DeliveryRejectedException($"{webhook.Url} refused the batch with {status}.");
        }
    }
}
