using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Projections.CalculatedAttributes;
using JasperFx.Events;
using JasperFx.Events.Daemon;
using Marten;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EventProfiles.Commands.CalculatedAttributes;

/// <summary>
/// With no calculated attribute and no real-time audience active, the async calculations shard has nothing to compute,
/// yet it would read every captured event (its event types are fixed when the projection is registered). So on the node
/// that runs it, the shard is stopped while nothing is active and its position follows the high-water mark (Marten's
/// progress API), and it starts again as soon as a definition or an audience is activated, at
/// <see cref="IdleShard.ResumeAt"/>: a definition activated meanwhile takes every event up to its live-after position
/// from its initialisation by replay, and the shard applies every event after it. A local service rather than a
/// durable message because it steers this node's daemon; on a standby node (HotCold) it does nothing.
/// </summary>
public sealed class IdleCalculations(IDocumentStore store, NpgsqlDataSource db, IProjectionCoordinator coordinator, ILogger<IdleCalculations> logger)
    : BackgroundService
{
    public const string ShardName = PersonCalculationsProjection.ProjectionName + ":All";
    private volatile bool _idle;
    private long _stoppedAt;

    /// <summary>Stopped by this service because nothing is active (the shard is still this node's).</summary>
    public bool IsIdle => _idle;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try { await TickAsync(stoppingToken); }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Idling the calculations shard failed; tried again shortly");
            }
        }
    }

    public async Task TickAsync(CancellationToken ct)
    {
        var daemon = coordinator.DaemonForMainDatabase();
        var running = daemon.CurrentAgents().Any(a => a.Name.Identity == ShardName);
        // Not this node's shard (a standby), or stopped by someone else (a rebuild restarts it itself).
        if (!running && !_idle) return;

        await using var session = store.QuerySession();
        var attributes = await session.Query<CalculatedAttribute>().Where(c => c.Status == CalculatedAttributeStatus.Active).ToListAsync(ct);
        var audiences = await session.Query<Audience>()
            .Where(a => a.Kind == AudienceKinds.RealTime && (a.Status == AudienceStatus.Active || a.Status == AudienceStatus.Calculating)).CountAsync(ct);
        var position = await PositionAsync(ShardName, ct);
        if (attributes.Count == 0 && audiences == 0)
        {
            if (running)
            {
                await daemon.StopAgentAsync(ShardName);
                _stoppedAt = await PositionAsync(ShardName, ct);
                _idle = true;
                // Stopping the last agent stops the high-water detection too; it must go on (activations read it).
                await daemon.RestartHighWaterAgentAsync(ct);
                logger.LogInformation("No calculated attribute or audience is active: the calculations shard idles at {Position}", _stoppedAt);
            }
            var mark = await PositionAsync("HighWaterMark", ct);
            if (mark > position) await MoveAsync(mark, ct);
            return;
        }
        if (!_idle) return;
        var resumeAt = IdleShard.ResumeAt(_stoppedAt, position, ComputedDefinitions.Active(attributes).Select(d => d.LiveAfterSequence));
        if (resumeAt != position && resumeAt > 0) await MoveAsync(resumeAt, ct);
        await daemon.StartAgentAsync(ShardName, ct);
        _idle = false;
        logger.LogInformation("A calculated attribute or audience is active: the calculations shard runs again from {Position}", resumeAt);
    }

    private Task MoveAsync(long position, CancellationToken ct) =>
        ((IEventStore<IDocumentOperations, IQuerySession>)store).RewindSubscriptionProgressAsync((IEventDatabase)store.Storage.Database, PersonCalculationsProjection.ProjectionName, ct, position);

    private async Task<long> PositionAsync(string name, CancellationToken ct)
    {
        await using var command = db.CreateCommand($"select coalesce((select last_seq_id from {store.Options.DatabaseSchemaName}.mt_event_progression where name = $1), 0)");
        command.Parameters.AddWithValue(name);
        return Convert.ToInt64(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
    }
}
