using System;
using System.Globalization;
using System.Linq;

namespace ScaleOps.Jobs.Bench;

/// <summary>
/// CPU seconds used by this process and, when BENCH_PG_PID names the postmaster, by its child processes (the backends),
/// read from /proc; for "say what limits us", not for any ratio.
/// </summary>
public readonly record struct CpuMeter(double Process, double Postgres)
{
    public static CpuMeter operator -(CpuMeter a, CpuMeter b) => new(a.Process - b.Process, a.Postgres - b.Postgres);

    public static CpuMeter Read()
    {
        var process = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        var postgres = 0.0;
        if (int.TryParse(Environment.GetEnvironmentVariable("BENCH_PG_PID"), out var postmaster))
        {
            var ticks = 100.0; // USER_HZ
            foreach (var dir in System.IO.Directory.EnumerateDirectories("/proc"))
            {
                try
                {
                    var stat = System.IO.File.ReadAllText(dir + "/stat");
                    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                    var pid = int.Parse(System.IO.Path.GetFileName(dir), CultureInfo.InvariantCulture);
                    if (pid == postmaster || fields[1] == postmaster.ToString(CultureInfo.InvariantCulture))
                    {
                        postgres += (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / ticks;
                    }

                    if (pid == postmaster)
                    {
                        // Children that exited (backends, autovacuum workers): their time moves to the postmaster's cutime/cstime.
                        postgres += (long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture)) / ticks;
                    }
                }
                catch (Exception e) when (e is System.IO.IOException or FormatException or UnauthorizedAccessException)
                {
                }
            }
        }

        return new CpuMeter(process, postgres);
    }
}

/// <summary>Names the methods the JIT compiles while it listens (BENCH_JIT_LOG=1), most frequent first.</summary>
public sealed class JitLog : System.Diagnostics.Tracing.EventListener
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _methods = new();

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x10);
        }
    }

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
    {
        if (e.EventName == "MethodJittingStarted_V1" || e.EventName == "MethodJittingStarted")
        {
            var name = $"{e.Payload![e.PayloadNames!.IndexOf("MethodNamespace")]}::{e.Payload[e.PayloadNames.IndexOf("MethodName")]}";
            _methods.AddOrUpdate(name, 1, (_, v) => v + 1);
        }
    }

    public void Print()
    {
        foreach (var (name, count) in _methods.OrderByDescending(kv => kv.Value).Take(40))
        {
            Console.Error.WriteLine($"jit {count,6} {name}");
        }

        Console.Error.WriteLine($"jit total {_methods.Values.Sum()} distinct {_methods.Count}");
    }
}
