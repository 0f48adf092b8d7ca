using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EventProfiles.Integration.Tests.Fixtures;

/// <summary>
/// The Host as an operator starts it: <c>dotnet EventProfiles.Host.dll</c> in its own process, configured only by the
/// settings a test gives (the fixture's own EventProfiles__* variables are not inherited), so a test may stop it or kill it.
/// </summary>
public sealed class HostProcess : IAsyncDisposable
{
    private readonly System.Text.StringBuilder _output = new();

    private HostProcess(Process process) => Process = process;

    public Process Process { get; }

    public string Output { get { lock (_output) return _output.ToString(); } }

    public static HostProcess Start(string environment, Dictionary<string, string> settings)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "EventProfiles.Host.dll"));
        foreach (var inherited in start.Environment.Keys.Where(k => k.StartsWith("EventProfiles__", StringComparison.OrdinalIgnoreCase) ||
                     k.StartsWith("ConnectionStrings__", StringComparison.OrdinalIgnoreCase) || k is "ASPNETCORE_URLS" or "AllowedHosts").ToList())
            start.Environment.Remove(inherited);
        start.Environment["ASPNETCORE_ENVIRONMENT"] = environment;
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (name, value) in settings) start.Environment[name] = value;
        var host = new HostProcess(new Process { StartInfo = start });
        host.Process.OutputDataReceived += (_, line) => { lock (host._output) host._output.AppendLine(line.Data); };
        host.Process.ErrorDataReceived += (_, line) => { lock (host._output) host._output.AppendLine(line.Data); };
        host.Process.Start();
        host.Process.BeginOutputReadLine();
        host.Process.BeginErrorReadLine();
        return host;
    }

    /// <summary>Waits until the Host answers /health/live, failing at once if it exited.</summary>
    public async Task WaitUntilLiveAsync(HttpClient client, int seconds = 120) =>
        await Waiting.Until(async () =>
        {
            if (Process.HasExited) throw new InvalidOperationException($"The Host exited ({Process.ExitCode}): {Output}");
            try { using var live = await client.GetAsync("/health/live"); return live.IsSuccessStatusCode; }
            catch (HttpRequestException) { return false; }
        }, "the Host to listen", seconds);

    /// <summary>SIGKILL: no shutdown hook runs, as when a machine or container dies.</summary>
    public async Task KillAsync()
    {
        if (!Process.HasExited) Process.Kill(entireProcessTree: true);
        await Process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        Process.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
