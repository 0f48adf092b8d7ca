using System.Globalization;
using EventProfiles.Commands.Operations;
using EventProfiles.Domain.Operations;
using EventProfiles.Domain.Workspaces;
using JasperFx.CommandLine;
using Marten;
using Npgsql;
using Spectre.Console;

namespace EventProfiles.Host.Operations;

/// <summary>
/// What every operation command shares: it hands the operation to the service as a durable job (the same job the admin
/// API creates; the running service executes it, so it continues if this terminal closes) and follows it with a live
/// progress bar. Ctrl+C pauses the job (it keeps its cursor); <c>--resume &lt;job id&gt;</c> continues a paused or failed one.
/// Exit code 0 when the job completed, 1 otherwise (refused, failed, cancelled, paused, not picked up: the last lines say which).
/// </summary>
public abstract class OperationInput : NetCoreInput
{
    [Description("Continue this paused or failed job instead of starting a new one")]
    public string? ResumeFlag { get; set; }

    [Description("Seconds to wait for the service to pick the job up before giving up (default 30)")]
    public int PickupTimeoutFlag { get; set; } = 30;
}

public static class OperationConsole
{
    // Returned to the command, which reports success (exit code 0) only for a completed job.
    public const int Completed = 0, Failed = 1, Paused = 2, Refused = 3;

    /// <summary>Output to a file or a pipe (CI, scripts) has no window: tables get a width that keeps names whole.</summary>
    public static void FitOutput()
    {
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 160;
    }

    /// <summary>Queues (or resumes) the job and follows it to its end.</summary>
    public static async Task<int> RunAsync(OperationInput input, string kind, int workspaceId, Dictionary<string, string> parameters)
    {
        FitOutput();
        using var host = input.BuildHost();
        var store = host.Services.GetRequiredService<IDocumentStore>();
        var clock = host.Services.GetRequiredService<TimeProvider>();
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();

        OperationJob job;
        if (input.ResumeFlag is { Length: > 0 } resume)
        {
            if (!Guid.TryParse(resume, out var id) || await OperationJobs.ResumeAsync(store, id, CancellationToken.None) is not { } resumed)
                return Refuse($"There is no job {resume}.");
            if (resumed.Status != OperationStatuses.Queued) return Refuse($"Job {resume} is {resumed.Status}: only a paused or failed job can be resumed.");
            job = resumed;
        }
        else
        {
            await using var session = store.QuerySession();
            var (_, _, _, problems) = await JobRequests.CheckAsync(new JobRequest(kind, workspaceId == 0 ? null : workspaceId, parameters),
                host.Services.GetRequiredService<WorkspaceDirectory>(), session, confineFiles: null, CancellationToken.None);
            if (problems.Count > 0) return Refuse(string.Join(Environment.NewLine, problems.Select(p => $"{p.Field}: {p.Message}")));
            try
            {
                job = await OperationJobs.QueueAsync(store, kind, workspaceId, parameters, $"command line ({Environment.UserName})", clock.GetUtcNow(), CancellationToken.None);
            }
            catch (OperationConflictException conflict)
            {
                return Refuse(conflict.Message);
            }
        }
        AnsiConsole.MarkupLineInterpolated($"[bold]{job.Kind}[/] job [blue]{job.Id}[/] queued; the service runs it. Ctrl+C pauses it.");
        return await FollowAsync(store, job.Id, TimeSpan.FromSeconds(input.PickupTimeoutFlag));
    }

    private static int Refuse(string message)
    {
        AnsiConsole.MarkupLineInterpolated($"[red]{message}[/]");
        return Refused;
    }

    private static async Task<int> FollowAsync(IDocumentStore store, Guid id, TimeSpan pickupTimeout)
    {
        var pauseRequested = false;
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; pauseRequested = true; };
        Console.CancelKeyPress += onCancel;
        try
        {
            OperationJob job = null!;
            var queuedSince = DateTime.UtcNow;
            await AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                    new RemainingTimeColumn(), new SpinnerColumn())
                .StartAsync(async context =>
                {
                    var task = context.AddTask("waiting for the service", maxValue: 1);
                    var pausing = false;
                    while (true)
                    {
                        await using (var session = store.QuerySession())
                            job = (await session.LoadAsync<OperationJob>(id))!;
                        if (job.Total is > 0) task.MaxValue = job.Total.Value;
                        task.Value = Math.Min(job.Done, task.MaxValue);
                        task.Description = Describe(job);
                        if (!OperationStatuses.IsOpen(job.Status) || job.Status == OperationStatuses.Paused) break;
                        if (pauseRequested && !pausing)
                        {
                            pausing = true;
                            await OperationJobs.StopAsync(store, id, OperationStatuses.Paused, DateTimeOffset.UtcNow, CancellationToken.None);
                        }
                        if (job.Status == OperationStatuses.Queued && DateTime.UtcNow - queuedSince > pickupTimeout) break;
                        await Task.Delay(250);
                    }
                    if (job.Status == OperationStatuses.Completed) task.Value = task.MaxValue;
                });
            return Report(job);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static string Describe(OperationJob job)
    {
        var view = JobView.From(job);
        var counts = job.Total is { } total ? $"{job.Done:N0}/{total:N0}" : $"{job.Done:N0}";
        var rate = view.EventsPerSecond is { } r ? $" · {r:N0} events/s" : "";
        return Markup.Escape($"{job.Kind} {job.Status} · {counts} · {job.Events:N0} events{rate}");
    }

    private static int Report(OperationJob job)
    {
        var view = JobView.From(job);
        var summary = $"{job.Kind} {job.Id} {job.Status}: {job.Done:N0} done, {job.Events:N0} events in {job.ElapsedSeconds:N1} s" +
                      (view.EventsPerSecond is { } rate ? $" ({rate:N0} events/s)" : "");
        Console.WriteLine(summary);
        if (job.Result is { Length: > 0 } result) Console.WriteLine(result);
        switch (job.Status)
        {
            case OperationStatuses.Completed:
                return Completed;
            case OperationStatuses.Paused:
                Console.WriteLine($"Paused at {job.Cursor}. Resume with: --resume {job.Id}");
                return Paused;
            case OperationStatuses.Queued:
                Console.WriteLine($"No service picked the job up: is the service running against this database? The job stays queued ({job.Id}).");
                return Failed;
            default:
                if (job.Error is { Length: > 0 } error) Console.WriteLine($"Error: {error}");
                return Failed;
        }
    }
}

public sealed class RebuildInput : OperationInput
{
    [Description("profiles, calculations or all (default all)")]
    public string ProjectionFlag { get; set; } = RebuildTargets.All;

    [Description("Rebuild this one person's read models only")]
    public string? MpidFlag { get; set; }
}

[Description("Rebuild read models from the events, person by person, while the service keeps serving (see docs/operations.md)")]
public sealed class RebuildCommand : JasperFxAsyncCommand<RebuildInput>
{
    public override async Task<bool> Execute(RebuildInput input)
    {
        var parameters = new Dictionary<string, string> { ["projection"] = input.ProjectionFlag };
        if (input.MpidFlag is { Length: > 0 } mpid) parameters["mpid"] = mpid;
        return await OperationConsole.RunAsync(input, OperationKinds.Rebuild, 0, parameters) == OperationConsole.Completed;
    }
}

public sealed class ReplayInput : OperationInput
{
    [Description("Workspace id")] public int WorkspaceFlag { get; set; }
    [Description("Input name whose stored batches are replayed")] public string InputFlag { get; set; } = "";
    [Description("Connection id (of that input) whose output receives the replay")] public string ConnectionFlag { get; set; } = "";
    [Description("Start of the time range (ISO 8601, batches received at or after it)")] public string FromFlag { get; set; } = "";
    [Description("End of the time range (ISO 8601, batches received before it)")] public string ToFlag { get; set; } = "";
}

[Description("Data replay: send a time range of stored batches of one input to one connection's output again, marked as replayed")]
public sealed class ReplayCommand : JasperFxAsyncCommand<ReplayInput>
{
    public override async Task<bool> Execute(ReplayInput input)
    {
        return await OperationConsole.RunAsync(input, OperationKinds.Replay, input.WorkspaceFlag, new Dictionary<string, string>
        {
            ["input"] = input.InputFlag, ["connection"] = input.ConnectionFlag, ["from"] = input.FromFlag, ["to"] = input.ToFlag,
        }) == OperationConsole.Completed;
    }
}

public sealed class ExportInput : OperationInput
{
    [Description("Workspace id")] public int WorkspaceFlag { get; set; }
    [Description("Output file (JSON Lines); written by the service, so a path on its machine")] public string FileFlag { get; set; } = "";
}

[Description("Export a workspace's people and events as JSON Lines")]
public sealed class ExportCommand : JasperFxAsyncCommand<ExportInput>
{
    public override async Task<bool> Execute(ExportInput input)
    {
        var parameters = new Dictionary<string, string>();
        if (input.FileFlag is { Length: > 0 } file) parameters["file"] = Path.GetFullPath(file);
        return await OperationConsole.RunAsync(input, OperationKinds.Export, input.WorkspaceFlag, parameters) == OperationConsole.Completed;
    }
}

public sealed class ImportInput : OperationInput
{
    [Description("Workspace id the export came from")] public int WorkspaceFlag { get; set; }
    [Description("The export file (JSON Lines), readable by the service")] public string FileFlag { get; set; } = "";
}

[Description("Import an export's events into this (empty) database")]
public sealed class ImportCommand : JasperFxAsyncCommand<ImportInput>
{
    public override async Task<bool> Execute(ImportInput input)
    {
        return await OperationConsole.RunAsync(input, OperationKinds.Import, input.WorkspaceFlag,
            new Dictionary<string, string> { ["file"] = input.FileFlag is { Length: > 0 } file ? Path.GetFullPath(file) : "" }) == OperationConsole.Completed;
    }
}

public sealed class ResyncInput : OperationInput
{
    [Description("Workspace id")] public int WorkspaceFlag { get; set; }
    [Description("Id of the warehouse output to write the workspace's people to")] public string OutputFlag { get; set; } = "";
}

[Description("Warehouse resync: write every person of a workspace to a warehouse output again (profiles and a baseline of history)")]
public sealed class ResyncCommand : JasperFxAsyncCommand<ResyncInput>
{
    public override async Task<bool> Execute(ResyncInput input) =>
        await OperationConsole.RunAsync(input, OperationKinds.WarehouseResync, input.WorkspaceFlag,
            new Dictionary<string, string> { ["output"] = input.OutputFlag }) == OperationConsole.Completed;
}

public sealed class StatusInput : NetCoreInput;

[Description("Projections with their progress and lag, and the latest operations")]
public sealed class StatusCommand : JasperFxAsyncCommand<StatusInput>
{
    public override async Task<bool> Execute(StatusInput input)
    {
        OperationConsole.FitOutput();
        using var host = input.BuildHost();
        var store = host.Services.GetRequiredService<IDocumentStore>();
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        var projections = new Table().Title("Projections").AddColumns("name", "lifecycle", "position", "high-water mark", "lag (events)", "rebuild --projection");
        foreach (var p in await ProjectionStatus.ReadAsync(store, host.Services.GetRequiredService<NpgsqlDataSource>(), CancellationToken.None))
            projections.AddRow(p.Name, p.Lifecycle, p.Position.ToString("N0", CultureInfo.InvariantCulture), p.HighWaterMark.ToString("N0", CultureInfo.InvariantCulture),
                p.LagEvents.ToString("N0", CultureInfo.InvariantCulture), p.RebuildTarget);
        AnsiConsole.Write(projections);

        await using var session = store.QuerySession();
        var jobs = await session.Query<OperationJob>().OrderByDescending(j => j.CreatedAt).Take(10).ToListAsync();
        var table = new Table().Title("Latest operations").AddColumns("id", "kind", "workspace", "status", "progress", "events", "events/s", "requested by");
        foreach (var job in jobs.Select(JobView.From))
            table.AddRow(job.Id.ToString(), job.Kind, job.WorkspaceId.ToString(CultureInfo.InvariantCulture), job.Status,
                job.Total is { } t ? $"{job.Done:N0}/{t:N0}" : job.Done.ToString("N0", CultureInfo.InvariantCulture),
                job.Events.ToString("N0", CultureInfo.InvariantCulture), job.EventsPerSecond?.ToString("N0", CultureInfo.InvariantCulture) ?? "—", Markup.Escape(job.RequestedBy));
        AnsiConsole.Write(jobs.Count == 0 ? new Markup("[grey]No operations yet.[/]\n") : table);
        return true;
    }
}
