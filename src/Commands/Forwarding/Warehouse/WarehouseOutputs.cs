using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Forwarding;
using EventProfiles.Domain.Forwarding.Warehouse;
using EventProfiles.Domain.Privacy;
using EventProfiles.Domain.Workspaces;
using Marten;
using Microsoft.Extensions.Configuration;
using Npgsql;
using Wolverine;

namespace EventProfiles.Commands.Forwarding.Warehouse;

/// <summary>
/// Delivery to warehouse outputs. Deliveries wait as rows of the delivery table like any output's; a warehouse output
/// takes them in micro-batches: at most one flush per interval (<c>EventProfiles:Forwarding:Warehouse:IntervalMs</c>,
/// 30 s by default), which takes every waiting row of the output, whichever group it came in, and writes them with one
/// statement per table. A group's envelope that arrives before the interval has passed is scheduled for when it has
/// (a durable Wolverine message, so no timer loop runs on every node); when it runs, its rows may be gone with an
/// earlier flush, and it ends. The flush right is the output's row in <see cref="WarehouseStorage.FlushesTable"/>, locked
/// with <c>skip locked</c>: two nodes never flush one output at once. Rows are deleted only after the warehouse committed;
/// if that delete is lost the rows are written again, which adds nothing (every key is a batch, event or change id).
/// </summary>
public sealed class WarehouseOutputs(NpgsqlDataSource db, IDocumentStore store, OutboundAddresses outbound, EnrichmentDefinitionsCache definitions,
    OutputCounters counters, LiveStream live, WorkspaceDirectory directory, IConfiguration configuration) : IAsyncDisposable
{
    public TimeSpan Interval { get; } = TimeSpan.FromMilliseconds(configuration.GetValue("EventProfiles:Forwarding:Warehouse:IntervalMs", 30_000));
    private readonly int _flushRows = configuration.GetValue("EventProfiles:Forwarding:Warehouse:FlushRows", 5_000);
    private readonly ConcurrentDictionary<string, NpgsqlDataSource> _sources = new();
    private readonly ConcurrentDictionary<string, bool> _migrated = new();

    /// <summary>
    /// A group's envelope: flushes the output when due; else, unless an envelope is already scheduled for when it is
    /// due, comes back then (the mark is written in the handler's transaction, with the scheduled envelope), so a
    /// stream of groups costs one look each and one flush per interval. A scheduled envelope (or a retry) never leaves
    /// it to another: it may be the one the mark is about.
    /// </summary>
    public async Task<object?> FlushAsync(DeliverBatches group, Output output, Marten.IDocumentSession session, bool wasScheduled, CancellationToken ct)
    {
        return await MicroBatchFlush.RunAsync(db, store.Options.DatabaseSchemaName, group, output, session, wasScheduled, Interval, _flushRows,
            claimed => WriteAsync(output, claimed, ct), claimed => Delivered(output, claimed), ct);
    }

    /// <summary>A delivery queued alone (a dead letter replayed, an audience of several workspaces): written at once.</summary>
    public async Task WriteOneAsync(Output output, DeliverBatch delivery, CancellationToken ct)
    {
        var one = new WarehouseDelivery(delivery.DeliveryId, delivery.BatchId, delivery.Mpid, WorkspaceOf(output, delivery), delivery.Input, delivery.Environment, delivery.Payload);
        await WriteAsync(output, [one], ct);
    }

    /// <summary>Writes a micro-batch in one warehouse transaction; a failure leaves the rows waiting (retried), a refused host dead-letters.</summary>
    public async Task WriteAsync(Output output, IReadOnlyList<WarehouseDelivery> deliveries, CancellationToken ct)
    {
        var settings = output.Warehouse ?? throw new DeliveryRejectedException($"output {output.Id} has no warehouse settings.");
        var target = Describe(settings);
        try
        {
            var source = await SourceAsync(settings, ct);
            if (!_migrated.ContainsKey(output.Id + "\n" + settings.Schema))
            {
                await WarehouseStorage.MigrateAsync(source, settings.Schema, ct);
                _migrated[output.Id + "\n" + settings.Schema] = true;
            }
            await using var connection = await source.OpenConnectionAsync(ct);
            await using var tx = await connection.BeginTransactionAsync(ct);
            var people = deliveries.Where(d => !ErasureNotice.IsNotice(d.Input)).Select(d => (d.WorkspaceId, d.Mpid)).Distinct().ToList();
            var current = await WarehouseStorage.PeopleAsync(connection, settings.Schema, people, ct);
            var calculated = (await definitions.GetAsync(ct)).Attributes.Select(a => (a.WorkspaceId, a.Name)).ToHashSet();
            var rows = WarehouseSync.Decide(deliveries, current, (workspace, name) => calculated.Contains((workspace, name)));
            await WarehouseStorage.WriteAsync(connection, settings.Schema, rows, ct);
            await tx.CommitAsync(ct);
        }
        catch (OutboundAddressRefusedException refused)
        {
            throw new DeliveryRejectedException($"{target} was not called: {refused.Message}.");
        }
        catch (PostgresException e)
        {
            // The server's message only: never the connection string (its password) nor the error's detail (it may quote row values).
            throw new DeliveryFailedException($"{target} refused the micro-batch: {e.SqlState} {e.MessageText}");
        }
        catch (Exception e) when (e is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
        {
            throw new DeliveryFailedException($"{target} could not be reached: {e.GetType().Name}");
        }
    }

    private void Delivered(Output output, IReadOnlyList<WarehouseDelivery> deliveries)
    {
        foreach (var d in deliveries)
        {
            counters.Delivered(output.Id);
            if (!ErasureNotice.IsNotice(d.Input)) live.Outbound(new DeliverBatch(output.Id, "", d.DeliveryId, d.BatchId, d.Mpid, d.Input, d.Environment, d.Payload));
        }
    }

    /// <summary>
    /// A data source whose host is the addresses the outbound policy allowed just now (resolved once, checked, then
    /// connected to by address, so a second lookup cannot lead elsewhere). Cached per resolved connection string.
    /// </summary>
    private async Task<NpgsqlDataSource> SourceAsync(WarehouseSettings settings, CancellationToken ct)
    {
        var builder = new NpgsqlConnectionStringBuilder(settings.ConnectionString);
        var addresses = await outbound.AllowedAddressesAsync(builder.Host!, ct);
        builder.Host = string.Join(",", addresses.Select(a => a.ToString()));
        builder.ApplicationName ??= "eventprofiles-warehouse";
        if (builder.Timeout == 15) builder.Timeout = 5; // Npgsql's default: an unreachable warehouse should fail the attempt quickly
        var key = builder.ConnectionString;
        return _sources.GetOrAdd(key, k => NpgsqlDataSource.Create(k));
    }

    /// <summary>The warehouse as messages name it: host, port, database; never the user's password.</summary>
    public static string Describe(WarehouseSettings settings)
    {
        try
        {
            var b = new NpgsqlConnectionStringBuilder(settings.ConnectionString);
            return $"warehouse {b.Host}:{b.Port.ToString(CultureInfo.InvariantCulture)}/{b.Database} ({settings.Schema})";
        }
        catch (ArgumentException) { return "warehouse"; }
    }

    /// <summary>The workspace a lone delivery belongs to: its input's, an erasure notice's controller, else the output's.</summary>
    private int WorkspaceOf(Output output, DeliverBatch delivery)
    {
        if (directory.InputByName(delivery.Input) is { } input) return input.Workspace.Id;
        if (delivery.IsErasureNotice && JsonNode.Parse(delivery.Payload)?["controller_id"]?.GetValue<string>() is { } controller
            && int.TryParse(controller, CultureInfo.InvariantCulture, out var ws)) return ws;
        if (IdentityChangeNotice.IsNotice(delivery.Input) && JsonNode.Parse(delivery.Payload)?["workspace_id"] is JsonValue w && w.TryGetValue<int>(out var noticeWs))
            return noticeWs;
        return output.WorkspaceId ?? 0;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var source in _sources.Values) await source.DisposeAsync();
    }
}
