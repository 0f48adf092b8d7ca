using EventProfiles.Projections.CalculatedAttributes;
using JasperFx.Events.Daemon;
using Microsoft.Extensions.DependencyInjection;
using Wolverine;
using Wolverine.Runtime;
using Wolverine.Runtime.Agents;

namespace EventProfiles.Commands.CalculatedAttributes;

/// <summary>
/// The one place that stops and starts the calculations shard of the async daemon. With several nodes (Balanced
/// durability) the shard is a Wolverine agent on exactly one node, placed by the leader: a long stop (a rebuild) is a
/// pause restriction the leader carries out wherever the shard runs, so the work may run on any node; a short restart on
/// the node that runs it (the feed keeper changing the shard's filter) goes through Wolverine's own agent object, so
/// Wolverine's bookkeeping of the agent stays true. With one node (Solo) Marten's daemon on this node is used directly.
/// </summary>
public sealed class CalculationsShard(IServiceProvider services)
{
    public const string ShardName = PersonCalculationsProjection.ProjectionName + ":All";

    private IWolverineRuntime Runtime => services.GetRequiredService<IWolverineRuntime>();

    /// <summary>Wolverine places the shard (Balanced durability with Wolverine-managed distribution).</summary>
    public bool ManagedByWolverine => services.GetService<IEventSubscriptionAgentFamily>() is not null
        && Runtime.Options.Durability.Mode == DurabilityMode.Balanced;

    /// <summary>The shard's agent address, e.g. <c>event-subscriptions://marten/main/localhost.postgres/personcalculations/all</c>.</summary>
    public async Task<Uri> AgentUriAsync(CancellationToken ct) =>
        await services.GetRequiredService<IEventSubscriptionAgentFamily>().FindAgentUriAsync(ShardName, null, ct)
        ?? throw new InvalidOperationException($"Wolverine knows no agent for the {ShardName} shard.");

    /// <summary>
    /// Stops the shard wherever it runs until the returned handle is disposed (then it starts again, on whichever node
    /// the leader picks). Balanced: a pause restriction, kept in the database, so a node that dies meanwhile does not
    /// restart it; Solo: this node's daemon must run it.
    /// </summary>
    public async Task<IAsyncDisposable> PauseAsync(CancellationToken ct)
    {
        if (ManagedByWolverine)
        {
            var uri = await AgentUriAsync(ct);
            var pause = new AgentRestrictions();
            pause.PauseAgent(uri);
            await Runtime.Agents.ApplyRestrictionsAsync(pause, ct);
            return new Resume(async () =>
                await Runtime.Agents.ApplyRestrictionsAsync(new AgentRestrictions([new AgentRestriction(Guid.NewGuid(), uri, AgentRestrictionType.None, 0)]), CancellationToken.None));
        }
        var daemon = LocalDaemonRunningIt()
            ?? throw new InvalidOperationException(
                $"The {ShardName} shard does not run on this node: with Solo durability calculations are rebuilt on the node that runs the async daemon.");
        await daemon.StopAgentAsync(ShardName);
        return new Resume(async () => await daemon.StartAgentAsync(ShardName, CancellationToken.None));
    }

    /// <summary>
    /// Whether the shard runs on this node now (only there may <see cref="RestartHereAsync"/> be used); elsewhere the
    /// node that runs it does such work.
    /// </summary>
    public async Task<bool> RunsHereAsync(CancellationToken ct)
    {
        if (!ManagedByWolverine) return LocalDaemonRunningIt() is not null;
        return Runtime.Agents.TryFindActiveAgent<EventSubscriptionAgent>(await AgentUriAsync(ct), out var agent) && agent.Status == JasperFx.AgentStatus.Running;
    }

    /// <summary>Stops the shard on this node, runs <paramref name="whileStopped"/>, starts it again (also when that failed).</summary>
    public async Task RestartHereAsync(Func<Task> whileStopped, CancellationToken ct)
    {
        if (ManagedByWolverine)
        {
            if (!Runtime.Agents.TryFindActiveAgent<EventSubscriptionAgent>(await AgentUriAsync(ct), out var agent))
                throw new InvalidOperationException($"The {ShardName} shard does not run on this node.");
            await agent.StopAsync(ct);
            try { await whileStopped(); }
            finally { await agent.StartAsync(CancellationToken.None); }
            return;
        }
        var daemon = LocalDaemonRunningIt() ?? throw new InvalidOperationException($"The {ShardName} shard does not run on this node.");
        await daemon.StopAgentAsync(ShardName);
        try { await whileStopped(); }
        // Starting the agent also starts the daemon's high-water detection again (it stops with the last agent).
        finally { await daemon.StartAgentAsync(ShardName, CancellationToken.None); }
    }

    /// <summary>This node's Marten daemon if it runs the shard (Solo durability: HotCold leader or Solo daemon).</summary>
    private IProjectionDaemon? LocalDaemonRunningIt()
    {
        if (services.GetService<IProjectionCoordinator>() is not { } coordinator) return null;
        IProjectionDaemon daemon;
        try { daemon = coordinator.DaemonForMainDatabase(); }
        catch (DaemonNotRunningOnThisNodeException) { return null; }
        return daemon.CurrentAgents().Any(a => a.Name.Identity == ShardName && a.Status == JasperFx.AgentStatus.Running) ? daemon : null;
    }

    private sealed class Resume(Func<Task> resume) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await resume();
    }
}
