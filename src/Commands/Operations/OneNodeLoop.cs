using Microsoft.Extensions.Hosting;
using Wolverine.Runtime.Agents;

namespace EventProfiles.Commands.Operations;

/// <summary>
/// A background loop that must run on exactly one node at a time (the retention sweep, audience re-evaluation): a
/// Wolverine agent instead of a hosted service. With several nodes (Balanced) the leader assigns it to one node and
/// moves it when that node stops or is found dead; with one node (Solo) it simply runs here. What the loops must know
/// is in the database (due rows, profiles, settings); the retention sweep's cursor is not, so on another node the
/// sweep starts again from the beginning of the event table, which only repeats idempotent deletes.
/// </summary>
public sealed class OneNodeLoop(string scheme, IHostedService loop) : SingularAgent(scheme)
{
    // Not linked to the caller's token: the loop runs until the agent is stopped, not until the start request ends.
    protected override Task startAsync(CancellationToken cancellationToken) => loop.StartAsync(CancellationToken.None);

    protected override Task stopAsync(CancellationToken cancellationToken) => loop.StopAsync(cancellationToken);
}
