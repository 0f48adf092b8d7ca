using EventProfiles.Projections.CalculatedAttributes;
using JasperFx.Events.Daemon;

namespace EventProfiles.Commands.CalculatedAttributes;

/// <summary>
/// Replays every retained event through the calculated-attribute projection, on the node's running daemon. The
/// parts initialised by replay at activation are kept (the projection only takes events after each activation), so a
/// rebuild reproduces exactly the live values.
/// </summary>
public static class RebuildCalculatedAttributes
{
    public const string ProjectionName = PersonCalculationsProjection.ProjectionName;

    public static async Task RunAsync(IProjectionCoordinator coordinator, TimeSpan shardTimeout, CancellationToken ct)
    {
        var daemon = coordinator.DaemonForMainDatabase();
        await daemon.RebuildProjectionAsync(ProjectionName, shardTimeout, ct);
        // A rebuild on a running daemon leaves the shard stopped; live processing must go on.
        await daemon.StartAgentAsync($"{ProjectionName}:All", ct);
    }
}
