using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;

namespace ScaleOps.Demo;

/// <summary>Stops and starts one of the demo's servers through <c>scripts/servers.sh</c> (by the PID it recorded).</summary>
internal sealed class Servers(string repository)
{
    private readonly string _state = Environment.GetEnvironmentVariable("SCALEOPS_SERVERS_DIR") is { Length: > 0 } dir
        ? dir
        : Path.Combine(repository, ".servers");

    /// <summary>The port recorded for a server (a restart reuses it), or null.</summary>
    public string? Port(string server)
    {
        var file = Path.Combine(_state, server + ".port");
        return File.Exists(file) ? File.ReadAllText(file).Trim() : null;
    }

    /// <summary>Runs <c>scripts/servers.sh {command} {server}</c>; returns its exit code and last output line.</summary>
    public async Task<(int ExitCode, string Output)> RunAsync(string command, string server)
    {
        var start = new ProcessStartInfo("bash")
        {
            WorkingDirectory = repository,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(repository, "scripts", "servers.sh"));
        start.ArgumentList.Add(command);
        start.ArgumentList.Add(server);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("bash did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"scripts/servers.sh {command} {server} did not finish in 2 minutes");
        }

        var output = ((await stdout) + (await stderr)).Trim();
        var last = output.Length == 0 ? "" : output[(output.LastIndexOf('\n') + 1)..];
        return (process.ExitCode, last);
    }
}
