using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using ScaleOps.Jobs.TestWorker;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests.Support;

/// <summary>A <c>ScaleOps.Jobs.TestWorker</c> running in a child process, which a test can SIGKILL.</summary>
public sealed class ChildWorker : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string? _runtimeConfig;

    private ChildWorker(Process process) => _process = process;

    public int ProcessId => _process.Id;

    public static Task<ChildWorker> StartAsync(string connectionString, int concurrency, int leaseSeconds) =>
        StartAsync(connectionString, concurrency, leaseSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), null);

    /// <summary>
    /// A worker whose process has the AppContext switch <paramref name="appContextSwitch"/> on (set in a copy of its
    /// runtimeconfig.json, as an application sets it in its project file), such as a library's process-wide legacy switch.
    /// </summary>
    public static Task<ChildWorker> StartWithSwitchAsync(string connectionString, int concurrency, int leaseSeconds, string appContextSwitch) =>
        StartAsync(connectionString, concurrency, leaseSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), null, appContextSwitch);

    /// <summary>A worker whose lease and rescue interval come from configuration: environment variables of the child.</summary>
    public static Task<ChildWorker> StartConfiguredAsync(string connectionString, int concurrency, IReadOnlyDictionary<string, string> environment) =>
        StartAsync(connectionString, concurrency, "config", environment);

    private static async Task<ChildWorker> StartAsync(
        string connectionString, int concurrency, string lease, IReadOnlyDictionary<string, string>? environment, string? appContextSwitch = null)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, typeof(Work).Assembly.GetName().Name + ".dll");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string? runtimeConfig = null;
        if (appContextSwitch is not null)
        {
            var config = JsonNode.Parse(await File.ReadAllTextAsync(Path.ChangeExtension(dll, ".runtimeconfig.json")))!;
            var properties = config["runtimeOptions"]!["configProperties"] ??= new JsonObject();
            properties[appContextSwitch] = true;
            runtimeConfig = Path.Combine(Path.GetTempPath(), $"scaleops-testworker-{Guid.NewGuid():N}.runtimeconfig.json");
            await File.WriteAllTextAsync(runtimeConfig, config.ToJsonString());
            info.ArgumentList.Add("exec");
            info.ArgumentList.Add("--runtimeconfig");
            info.ArgumentList.Add(runtimeConfig);
        }

        info.ArgumentList.Add(dll);
        info.ArgumentList.Add(connectionString);
        info.ArgumentList.Add(concurrency.ToString(System.Globalization.CultureInfo.InvariantCulture));
        info.ArgumentList.Add(lease);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        var child = new ChildWorker(Process.Start(info)!) { _runtimeConfig = runtimeConfig };
        child._process.OutputDataReceived += (_, e) =>
        {
            if (e.Data == "ready")
            {
                child._ready.TrySetResult();
            }
        };
        child._process.ErrorDataReceived += (_, _) => { };
        child._process.BeginOutputReadLine();
        child._process.BeginErrorReadLine();
        await Task.WhenAny(child._ready.Task, child._process.WaitForExitAsync()).WaitAsync("the child worker to start", TimeSpan.FromSeconds(60));
        if (child._process.HasExited)
        {
            throw new InvalidOperationException($"The child worker exited with code {child._process.ExitCode} before it was ready.");
        }

        return child;
    }

    /// <summary>SIGKILL: no shutdown code runs, leases are left behind.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: false);
        await _process.WaitForExitAsync().WaitAsync("the killed worker to exit");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
        if (_runtimeConfig is not null)
        {
            File.Delete(_runtimeConfig);
        }
    }
}
