using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace ScaleOps.Demo;

/// <summary>
/// Starts one more sample host (the build <c>scripts/demo.sh</c> made) with settings it must refuse, and waits for it to
/// exit. A host that does not exit within the limit started after all: it is killed and reported as such.
/// </summary>
internal static class RefusedStart
{
    /// <summary>What the refused start did: its exit code (null when it was still running at the limit) and its output.</summary>
    public sealed record Result(int? ExitCode, string Output);

    public static async Task<Result> RunAsync(string repository, IReadOnlyDictionary<string, string> environment, TimeSpan limit)
    {
        var host = Path.Combine(repository, "samples", "ScaleOps.SampleHost", "bin", "Release", "net10.0", "ScaleOps.SampleHost.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = repository,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(host);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add("http://127.0.0.1:0"); // a port of its own, should it start
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var output = new StringBuilder();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(limit);
        int? exitCode;
        try
        {
            await process.WaitForExitAsync(timeout.Token);
            exitCode = process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            exitCode = null;
        }

        output.Append(await stdout).Append(await stderr);
        return new Result(exitCode, output.ToString());
    }

    /// <summary>The first line of <paramref name="output"/> that contains <paramref name="text"/>, trimmed; null when none does.</summary>
    public static string? LineWith(string output, string text)
    {
        foreach (var line in output.Split('\n'))
        {
            var index = line.IndexOf(text, StringComparison.Ordinal);
            if (index >= 0)
            {
                return line[index..].Trim();
            }
        }

        return null;
    }
}
