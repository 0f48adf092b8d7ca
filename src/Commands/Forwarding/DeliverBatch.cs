using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;
using EventProfiles.Commands.Operability;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Forwarding;
using EventProfiles.Domain.Privacy;
using EventProfiles.Projections.Privacy;
using Microsoft.Extensions.Configuration;
using Wolverine;
using Wolverine.Runtime;

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

    /// <summary>
    /// Set when this batch was first tried as part of a <see cref="DeliverBatches"/> group and failed: the reason, reported
    /// as this message's first attempt (without calling the destination again), so retries and dead letters go per batch
    /// exactly as if it had been queued alone.
    /// </summary>
    public string? GroupFailure { get; init; }

    /// <summary>With <see cref="GroupFailure"/>: the destination refused it for good (dead-lettered at once).</summary>
    public bool GroupRefused { get; init; }

    /// <summary>An erasure notice (<see cref="ErasureNotice"/>) rather than a forwarded batch: known by its stored input, never its body.</summary>
    [JsonIgnore]
    public bool IsErasureNotice => ErasureNotice.IsNotice(Input);
}

/// <summary>
/// One ingestion transaction's batches for one output: a single durable envelope carrying only the group's id; the
/// batches wait as rows of <see cref="ForwardingStorage.DeliveriesTable"/> (with their person and workspace, what an
/// erasure deletes them by), written in the same transaction as the events they come from.
/// </summary>
public sealed record DeliverBatches(Guid GroupId, string OutputId);

/// <summary>The destination failed in a way that may pass (5xx, 408, 429, no connection): retried with back-off, then dead-lettered.</summary>
public sealed class DeliveryFailedException(string message) : Exception(message);

/// <summary>The destination refused the batch for good (400, 409, 413, 414, …): dead-lettered at once, as mParticle does.</summary>
public sealed class DeliveryRejectedException(string message) : Exception(message);

/// <summary>The back-off of failed deliveries (Wolverine's ScheduleRetry, Program.cs): one delay per retry, then the dead letters.</summary>
public static class DeliveryRetries
{
    public const string Setting = "EventProfiles:Forwarding:RetryDelaysMs";

    public static int[] DelaysMs(IConfiguration configuration) =>
        configuration.GetSection(Setting).Get<int[]>() ?? [1_000, 5_000, 30_000, 120_000, 600_000];
}

public static class DeliverBatchHandler
{
    /// <summary>One delivery to its output, by the output's kind; failures are <see cref="DeliveryFailedException"/> or <see cref="DeliveryRejectedException"/>.</summary>
    public static async Task SendAsync(Output output, DeliverBatch delivery, WebhookSender webhooks, RabbitMq.RabbitMqPublisher rabbitMq, CancellationToken ct)
    {
        try
        {
            await (output.RabbitMq is { } rabbit ? rabbitMq.PublishAsync(output, rabbit, delivery, ct) : webhooks.SendAsync(output.Webhook!, delivery, ct));
            Metrics.Delivery(delivery.OutputId, "delivered");
        }
        catch (DeliveryFailedException)
        {
            Metrics.Delivery(delivery.OutputId, "failed");
            throw;
        }
        catch (DeliveryRejectedException)
        {
            Metrics.Delivery(delivery.OutputId, "refused");
            throw;
        }
    }

    /// <summary>How long a delivery for a paused output waits before it looks again.</summary>
    public static readonly TimeSpan PausedRecheck = TimeSpan.FromSeconds(5);

    public static async Task<object?> Handle(DeliverBatch delivery, OutputCache outputs, WebhookSender sender, RabbitMq.RabbitMqPublisher rabbitMq, OutputCounters counters,
        LiveStream live, Npgsql.NpgsqlDataSource db, Marten.IDocumentStore store, Envelope envelope, IWolverineRuntime runtime, Warehouse.WarehouseOutputs warehouse,
        IConfiguration configuration, Files.FilesOutputs files, CancellationToken ct)
    {
        try
        {
            return await HandleAttemptAsync(delivery, outputs, sender, rabbitMq, counters, live, db, store, envelope, runtime, warehouse, files, ct);
        }
        catch (Exception e) when (e is DeliveryFailedException or DeliveryRejectedException)
        {
            // Telemetry: what Wolverine's error policy (Program.cs) does next with this attempt.
            if (e is DeliveryRejectedException || envelope.Attempts > DeliveryRetries.DelaysMs(configuration).Length) Metrics.DeadLetter(delivery.OutputId);
            throw;
        }
    }

    private static async Task<object?> HandleAttemptAsync(DeliverBatch delivery, OutputCache outputs, WebhookSender sender, RabbitMq.RabbitMqPublisher rabbitMq,
        OutputCounters counters, LiveStream live, Npgsql.NpgsqlDataSource db, Marten.IDocumentStore store, Envelope envelope, IWolverineRuntime runtime,
        Warehouse.WarehouseOutputs warehouse, Files.FilesOutputs files, CancellationToken ct)
    {
        if (envelope.Attempts > 1) Metrics.Retry(delivery.OutputId);
        // The group's attempt already called the destination: its outcome counts as this message's first attempt, once.
        if (delivery.GroupFailure is { } failure && await ForwardingStorage.TakeFailureMarkAsync(db, store.Options.DatabaseSchemaName, delivery.WorkId, ct))
            throw delivery.GroupRefused ? new DeliveryRejectedException(failure) : new DeliveryFailedException(failure);

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
            if (output.Kind == OutputKind.Warehouse) await warehouse.WriteOneAsync(output, delivery, ct);
            else if (output.Kind == OutputKind.Files) await files.WriteOneAsync(output, delivery, ct);
            else await SendAsync(output, delivery, sender, rabbitMq, ct);
        }
        catch (Exception e) when (e is DeliveryFailedException or DeliveryRejectedException)
        {
            live.Outbound(delivery, e.Message); // the Live Stream shows the failure and its reason (forwarding.md §6)
            counters.Failed(output.Id, e.Message); // the console's health of the last hour
            throw;
        }
        counters.Delivered(output.Id);
        live.Outbound(delivery);
        // A delivered erasure notice leaves no copy: Wolverine would keep the handled envelope (and the identities in its
        // body) for a while to recognise a repeat; its mark-as-handled then finds no row.
        if (delivery.IsErasureNotice) await runtime.Storage.Inbox.DeleteIncomingEnvelopeAsync(envelope);
        return null;
    }
}

public static class DeliverBatchesHandler
{
    /// <summary>
    /// Delivers a group's waiting batches in order, one POST each. A batch that fails or is refused leaves the group: it
    /// goes on as a <see cref="DeliverBatch"/> of its own (same work id, recorded under its person and workspace), whose
    /// first attempt reports this failure; so the others are neither redelivered nor held back, and retries, dead letters
    /// and their replay stay per batch.
    /// </summary>
    public static async Task<object?> Handle(DeliverBatches group, OutputCache outputs, WebhookSender sender, RabbitMq.RabbitMqPublisher rabbitMq, OutputCounters counters,
        LiveStream live, Npgsql.NpgsqlDataSource db, Marten.IDocumentSession session, Warehouse.WarehouseOutputs warehouse, Files.FilesOutputs files, Envelope envelope, CancellationToken ct)
    {
        var schema = session.DocumentStore.Options.DatabaseSchemaName;
        var output = await outputs.GetAsync(group.OutputId, ct);
        // A warehouse takes micro-batches: every waiting row of the output at once, whichever group they came in, at
        // most once per interval; so this envelope may have work even when its own group's rows were taken already.
        if (output is { Kind: OutputKind.Warehouse, Paused: false }) return await warehouse.FlushAsync(group, output, session, envelope.ScheduledTime is not null, ct);
        if (output is { Kind: OutputKind.Files, Paused: false }) return await files.FlushAsync(group, output, session, envelope.ScheduledTime is not null, ct);
        var waiting = await ForwardingStorage.WaitingDeliveriesAsync(db, schema, group.GroupId, ct);
        if (waiting.Count == 0) return null; // delivered already, or erased
        if (output is null)
        {
            session.FinishDeliveries(waiting.Select(w => w.Delivery.WorkId).ToArray(), []); // the output was deleted: its deliveries go with it
            return null;
        }
        if (output.Paused) return group.DelayedFor(DeliverBatchHandler.PausedRecheck); // the rows wait; a new envelope looks again later

        var done = new List<Guid>();
        var failed = new List<(DeliverBatch Delivery, int WorkspaceId)>();
        // A broker takes the group at once: every message is published, then the confirms are awaited together (one wait
        // for the group instead of one per batch). A webhook gets one POST after the other, in order.
        var published = output.RabbitMq is not null
            ? waiting.Select(w => DeliverBatchHandler.SendAsync(output, w.Delivery, sender, rabbitMq, ct)).ToList()
            : null;
        for (var i = 0; i < waiting.Count; i++)
        {
            var (delivery, workspaceId) = waiting[i];
            try
            {
                await (published?[i] ?? DeliverBatchHandler.SendAsync(output, delivery, sender, rabbitMq, ct));
            }
            catch (Exception e) when (e is DeliveryFailedException or DeliveryRejectedException)
            {
                live.Outbound(delivery, e.Message);
                counters.Failed(output.Id, e.Message);
                failed.Add((delivery with { GroupFailure = e.Message, GroupRefused = e is DeliveryRejectedException }, workspaceId));
                continue;
            }
            done.Add(delivery.WorkId);
            counters.Delivered(output.Id);
            live.Outbound(delivery);
        }
        session.FinishDeliveries(done.ToArray(), failed.Select(f => f.Delivery.WorkId).ToArray());
        if (failed.Count == 0) return null;
        // Queued alone now, in Wolverine's tables: recorded like any delivery that holds a person's data — except an erasure
        // notice, which a later erasure of the same person must not take back.
        session.RecordWork(failed.Where(f => !f.Delivery.IsErasureNotice).Select(f => new PersonWorkRecord.Row(f.Delivery.WorkId, f.Delivery.Mpid, f.WorkspaceId)));
        var messages = new OutgoingMessages();
        messages.AddRange(failed.Select(f => f.Delivery));
        return messages;
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
