using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace ScaleOps.Packaging.Tests;

/// <summary>What a child process printed (stdout and stderr, in order) and how it ended.</summary>
/// <param name="Command">The command line, for messages.</param>
/// <param name="ExitCode">The exit code.</param>
/// <param name="Lines">Every line it printed.</param>
/// <param name="Elapsed">How long it ran.</param>
public sealed record ChildResult(string Command, int ExitCode, IReadOnlyList<string> Lines, TimeSpan Elapsed)
{
    /// <summary>The output as one text.</summary>
    public string Output => string.Join('\n', Lines);

    /// <summary>A description for assertion messages: the command, its exit code and its last lines.</summary>
    public string Describe(int lastLines = 80) =>
        $"`{Command}` exited with {ExitCode} after {Elapsed.TotalSeconds:0.0} s; its last {Math.Min(lastLines, Lines.Count)} lines:\n"
        + string.Join('\n', Lines.Skip(Math.Max(0, Lines.Count - lastLines)));
}

/// <summary>
/// Runs a child process with a bound: past <c>timeout</c> the process and its children are killed and the run fails
/// with what it printed. The SDK's build servers are kept off (<c>--disable-build-servers</c> is the caller's part), so
/// no compiler server or MSBuild node outlives the command holding its output open.
/// </summary>
public static class ChildProcess
{
    /// <summary>Runs <paramref name="fileName"/> to its end, at most <paramref name="timeout"/>.</summary>
    /// <param name="fileName">The program, <c>dotnet</c> say.</param>
    /// <param name="arguments">Its arguments (passed as a list: no quoting).</param>
    /// <param name="workingDirectory">The working directory.</param>
    /// <param name="timeout">The bound.</param>
    /// <param name="environment">Variables to set (a null value removes the variable).</param>
    /// <returns>The result; a non-zero exit is the caller's to judge.</returns>
    public static async Task<ChildResult> RunAsync(
        string fileName, IReadOnlyList<string> arguments, string workingDirectory, TimeSpan timeout,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // Nothing of the SDK that runs this test (dotnet test sets MSBuild's paths for its own children) leaks into the child.
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)
                     || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase) || k == "DOTNET_HOST_PATH").ToList())
        {
            info.Environment.Remove(name);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        info.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }

        var command = fileName + " " + string.Join(' ', arguments);
        var lines = new List<string>();
        var clock = Stopwatch.StartNew();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Add(lines, e.Data);
        process.ErrorDataReceived += (_, e) => Add(lines, e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var bound = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(bound.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
            var result = new ChildResult(command, -1, Snapshot(lines), clock.Elapsed);
            throw new TimeoutException($"Killed after the bound of {timeout.TotalSeconds:0} s: {result.Describe()}");
        }

        return new ChildResult(command, process.ExitCode, Snapshot(lines), clock.Elapsed);
    }

    private static void Add(List<string> lines, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (lines)
        {
            lines.Add(line);
        }
    }

    private static List<string> Snapshot(List<string> lines)
    {
        lock (lines)
        {
            return [.. lines];
        }
    }
}
