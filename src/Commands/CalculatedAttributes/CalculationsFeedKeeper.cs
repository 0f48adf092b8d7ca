using System.Globalization;
using EventProfiles.Domain.Audiences;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Projections.CalculatedAttributes;
using JasperFx.Events;
using Marten;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EventProfiles.Commands.CalculatedAttributes;

/// <summary>
/// Keeps the calculations shard from reading events nothing can use: while no calculated attribute is active and no
/// real-time audience is calculating or active, the shard's agent runs with a filter no stored event matches (Marten
/// fixes a shard's event-type filter when its agent starts), so it still follows the high-water mark and records its
/// progress, but fetches and applies no events. When something becomes active (seen here once a second, or at once by
/// the activation on this node) the agent is restarted fetching every type, from where nothing was active any more
/// (<see cref="CalculationsFeed"/>), so the skipped events an active definition can use are read then.
/// Acts only on the node that runs the shard (the filter is that node's projection object); elsewhere it does nothing,
/// and an activation there is picked up by the shard's node at its next look: a widened shard reads again from no later
/// than the last idle look (<see cref="CalculationsFeed.RewindTo"/>), so nothing a definition activated elsewhere needs is skipped.
/// When the shard moves to another node it starts there fetching everything (<see cref="CalculationsFeed.AtStart"/>).
/// </summary>
public sealed class CalculationsFeedKeeper(CalculationsShard shard, IDocumentStore store, NpgsqlDataSource db, TimeSpan interval,
    TimeProvider clock, ILogger<CalculationsFeedKeeper> logger) : BackgroundService
{
    /// <summary>How long an activation counts as "something is calculated" before its definition is committed as active.</summary>
    public static readonly TimeSpan ActivationHold = TimeSpan.FromSeconds(30);

    public const string ShardName = CalculationsShard.ShardName;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private CalculationsFeed _feed = CalculationsFeed.AtStart;

    /// <summary>What the shard fetches now (as far as this node knows).</summary>
    public CalculationsFeed Feed => _feed;

    private PersonCalculationsProjection Projection =>
        ((DocumentStore)store).Options.Projections.All.OfType<PersonCalculationsProjection>().Single();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (interval <= TimeSpan.Zero) return;
        using var timer = new PeriodicTimer(interval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try { await CheckAsync(stoppingToken); }
            catch (Exception) when (stoppingToken.IsCancellationRequested)
            {
                return; // shutting down: the daemon stops its agents itself
            }
            catch (Exception e)
            {
                // The agent is started again in any case (see RestartAsync); the next look tries again.
                logger.LogWarning(e, "Could not adjust what the calculations shard fetches; trying again in {Interval}", interval);
            }
        }
    }

    /// <summary>One look at the definitions: restarts the shard's agent when what it must fetch changed.</summary>
    public async Task CheckAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            if (!await shard.RunsHereAsync(ct))
            {
                // The shard runs elsewhere (or not yet): should it come (back) here, it starts fetching everything from
                // where the other node left it, never from what this node knew before it left.
                if (!_feed.FetchesEverything)
                {
                    Projection.FetchEverything(true);
                    _feed = CalculationsFeed.AtStart;
                }
                return;
            }
            var position = await ShardPositionAsync(ct);
            var (active, earliest) = await ActiveAsync(ct);
            switch (_feed.Observe(position, active, earliest))
            {
                case CalculationsFeedStep.Keep keep:
                    _feed = keep.Next;
                    break;
                case CalculationsFeedStep.Narrow:
                    await shard.RestartHereAsync(async () =>
                    {
                        var settled = await SettledPositionAsync(ct);
                        // Looked at again with the agent stopped: an activation meanwhile keeps everything fetched.
                        if ((await ActiveAsync(ct)).Active) return;
                        Projection.FetchEverything(false);
                        _feed = CalculationsFeed.Narrowed(settled);
                        logger.LogInformation("Nothing is calculated: the calculations shard reads no events from sequence {Position} on", settled);
                    }, ct);
                    break;
                case CalculationsFeedStep.Widen widen:
                    await WidenAsync(widen.RewindTo, ct);
                    break;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Called by an activation on this node before it takes the high-water mark as the definition's live start: the
    /// shard fetches everything again before any event after that mark is read, so the live part misses nothing.
    /// </summary>
    public async Task FetchEverythingAsync(CancellationToken ct)
    {
        // Committed before the activation takes its live start, and read by the keeper of whichever node runs the shard:
        // until the activation has committed its definition the shard is not narrowed, or events after the live start
        // would be read while the definition is not yet active, and skipped for it.
        await using (var session = store.LightweightSession())
        {
            session.Store(new CalculationsFeedHold { Id = CalculationsFeedHold.Key, Until = clock.GetUtcNow() + ActivationHold });
            await session.SaveChangesAsync(ct);
        }
        if (_feed.FetchesEverything) return;
        await _gate.WaitAsync(ct);
        try
        {
            if (_feed.FetchesEverything || !await shard.RunsHereAsync(ct)) return;
            // The position first: a definition activated elsewhere after this look is live from beyond it.
            var position = await ShardPositionAsync(ct);
            var (active, earliest) = await ActiveAsync(ct);
            // Nothing active yet: nothing skipped so far could be needed, so the shard goes on from where it is.
            var rewindTo = active ? _feed.RewindTo(earliest) : Math.Max(_feed.IdleConfirmedAt, position);
            await WidenAsync(rewindTo, ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task WidenAsync(long rewindTo, CancellationToken ct)
    {
        // Before the agent stops, not while it is stopped: with several nodes Wolverine's assignment check may notice the
        // stopped agent and start it again before this restart does (the settling below takes up to a second), and an
        // agent started with the narrow filter would skip every event until its next start. Fetching more is always safe.
        Projection.FetchEverything(true);
        await shard.RestartHereAsync(async () =>
        {
            var settled = await SettledPositionAsync(ct);
            if (settled > rewindTo)
                await ((IEventStore<IDocumentOperations, IQuerySession>)store).RewindSubscriptionProgressAsync(
                    (IEventDatabase)store.Storage.Database, ShardName, ct, rewindTo);
            _feed = CalculationsFeed.AtStart;
            logger.LogInformation("Something is calculated: the calculations shard reads every event type again, from sequence {From} (it stood at {Settled})",
                Math.Min(settled, rewindTo), settled);
        }, ct);
    }

    /// <summary>Whether anything is calculated (the projection's definitions and audiences, or one being initialised), and the earliest live start.</summary>
    private async Task<(bool Active, long? EarliestLiveAfter)> ActiveAsync(CancellationToken ct)
    {
        await using var session = store.QuerySession();
        var batch = session.CreateBatchQuery();
        var attributes = batch.Query<CalculatedAttribute>().Where(c => c.Status == CalculatedAttributeStatus.Active).ToList();
        var audiences = batch.Query<Audience>().Where(a => a.Kind == AudienceKinds.RealTime
            && (a.Status == AudienceStatus.Active || a.Status == AudienceStatus.Calculating)).Any();
        var hold = batch.Load<CalculationsFeedHold>(CalculationsFeedHold.Key);
        await batch.Execute(ct);
        var live = await attributes;
        var anyAudience = await audiences;
        var activating = (await hold)?.Until > clock.GetUtcNow();
        return (live.Count > 0 || anyAudience || activating, live.Count > 0 ? live.Min(a => a.LiveAfterSequence) : null);
    }

    /// <summary>The stopped shard's position, read until two reads agree (a page in flight when it stopped may still commit).</summary>
    private async Task<long> SettledPositionAsync(CancellationToken ct)
    {
        var position = await ShardPositionAsync(ct);
        for (var i = 0; i < 50; i++)
        {
            await Task.Delay(20, ct);
            var again = await ShardPositionAsync(ct);
            if (again == position) return position;
            position = again;
        }
        return position;
    }

    private async Task<long> ShardPositionAsync(CancellationToken ct)
    {
        await using var command = db.CreateCommand($"select coalesce((select last_seq_id from {store.Options.DatabaseSchemaName}.mt_event_progression where name = $1), 0)");
        command.Parameters.AddWithValue(ShardName);
        return Convert.ToInt64(await command.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
    }
}

/// <summary>An activation in progress (on any node): the calculations shard is not narrowed before <see cref="Until"/>.</summary>
public sealed class CalculationsFeedHold
{
    public const string Key = "activation";
    public string Id { get; set; } = Key;
    public DateTimeOffset Until { get; set; }
}
