using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading.Tasks;

// The interleaved caching benchmark. BenchmarkDotNet measures one contender after another, so on a shared machine the
// neighbours' load at that moment decides the ratio. Here every round measures every contender back to back, in an
// order rotated each round, and the figures are medians of per-round ratios: load that comes and goes hits all
// contenders of a round alike.
//   dotnet run -c Release --project benchmarks/caching/CachingBench -- [--runs 3] [--rounds 600] [--l1-rounds 300] [--warmup-runs 1]
var settings = Settings.Parse(args);
var culture = CultureInfo.InvariantCulture;
Console.WriteLine(string.Create(culture,
    $"machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}, load average {Load()}, {DateTime.UtcNow:yyyy-MM-ddTHH:mm:ssZ}"));
Console.WriteLine(string.Create(culture,
    $"runs {settings.Runs} after {settings.WarmupRuns} discarded warm-up run(s); L2: {settings.Rounds} rounds x {settings.L2Batch} calls per contender (+{settings.Rounds / 6} warm-up rounds); "
    + $"L1: {settings.L1Rounds} rounds x {settings.L1Batch} calls"));

await using var l2 = await L2Contenders.CreateAsync();
using var l1 = L1Contenders.Create();
if (Environment.GetEnvironmentVariable("PROFILE_L2") is { } which)
{
    var c = Array.IndexOf(l2.Names, which);
    var until = Stopwatch.GetTimestamp() + (15 * Stopwatch.Frequency);
    long calls = 0;
    while (Stopwatch.GetTimestamp() < until)
    {
        await l2.RunBatchAsync(c, 100);
        calls += 100;
    }

    Console.WriteLine($"{which}: {calls} calls, {15e6 / calls:F1} us per call");
    return;
}

// Whole discarded runs first: the first measured run of a process used to be far from steady state (every contender,
// the ScaleOps L1 hit 105-208 ns against 21 ns in the runs after it, FusionCache's and HybridCache's L2 hit 1.7-1.8x a
// raw GET against 1.4x), because tiered compilation and dynamic PGO were still replacing the hot paths' code.
for (var warm = 1; warm <= settings.WarmupRuns; warm++)
{
    Interleaved.Measure(l1.Names, settings.L1Rounds, settings.L1Batch, l1.RunBatch, baselines: [3]);
    await Interleaved.MeasureAsync(l2.Names, settings.Rounds / 2, settings.L2Batch, l2.RunBatchAsync, baselines: [0, 1]);
    Console.WriteLine(string.Create(culture, $"warm-up run {warm} done (discarded), load average {Load()}"));
}

var l2Runs = new List<RunResult>();
var l1Runs = new List<RunResult>();
for (var run = 1; run <= settings.Runs; run++)
{
    var before = Load();
    var l1Result = Interleaved.Measure(l1.Names, settings.L1Rounds, settings.L1Batch, l1.RunBatch, baselines: [3]);
    var l2Result = await Interleaved.MeasureAsync(l2.Names, settings.Rounds, settings.L2Batch, l2.RunBatchAsync, baselines: [0, 1]);
    l1Result.Allocated = l1.AllocatedPerCall();
    l2Result.Allocated = await l2.AllocatedPerCallAsync();
    l1Result.Load = l2Result.Load = $"{before} → {Load()}";
    l1Runs.Add(l1Result);
    l2Runs.Add(l2Result);
    Console.WriteLine();
    Console.WriteLine(string.Create(culture, $"## run {run} (load average {l2Result.Load})"));
    Console.WriteLine(l1Result.Table("L1 (memory) hit", "ns", 1e9, ["HybridCache"]));
    Console.WriteLine(l2Result.Table("L2 (Redis) hit, memory skipped", "µs", 1e6, ["raw GET", "GET + JSON"]));
}

Console.WriteLine();
Console.WriteLine("## over all runs: median [min - max] of the per-run medians");
Console.WriteLine(RunResult.Summary(l1Runs, "L1 (memory) hit", "ns", 1e9, ["HybridCache"]));
Console.WriteLine(RunResult.Summary(l2Runs, "L2 (Redis) hit", "µs", 1e6, ["raw GET", "GET + JSON"]));

static string Load() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

internal sealed record Settings(int Runs, int Rounds, int L2Batch, int L1Rounds, int L1Batch, int WarmupRuns)
{
    public static Settings Parse(string[] args)
    {
        int Get(string name, int fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
        }

        return new Settings(
            Get("--runs", 3), Get("--rounds", 600), Get("--l2-batch", 5), Get("--l1-rounds", 300), Get("--l1-batch", 2000), Get("--warmup-runs", 1));
    }
}

/// <summary>The per-round measurements of one run.</summary>
internal sealed class RunResult(string[] names, int[] baselines)
{
    public string[] Names { get; } = names;

    public int[] Baselines { get; } = baselines;

    /// <summary>Seconds per call, [contender][round].</summary>
    public List<double>[] PerCall { get; } = names.Select(_ => new List<double>()).ToArray();

    public double[] Allocated { get; set; } = [];

    public string Load { get; set; } = "";

    public double Median(int contender) => Stats.Median(PerCall[contender]);

    public double P90(int contender) => Stats.Quantile(PerCall[contender], 0.9);

    /// <summary>Median over rounds of (contender / baseline) within each round.</summary>
    public double RatioMedian(int contender, int baseline) =>
        Stats.Median(PerCall[contender].Zip(PerCall[baseline], (c, b) => c / b).ToList());

    public string Table(string title, string unit, double scale, string[] baselineNames)
    {
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"### {title}");
        s.Append(CultureInfo.InvariantCulture, $"| contender | median {unit} | p90 {unit} |");
        foreach (var b in baselineNames)
        {
            s.Append(CultureInfo.InvariantCulture, $" ratio to {b} |");
        }

        s.AppendLine(" allocated/call |");
        s.AppendLine("|---|---:|---:|" + string.Concat(Enumerable.Repeat("---:|", baselineNames.Length)) + "---:|");
        for (var i = 0; i < Names.Length; i++)
        {
            s.Append(CultureInfo.InvariantCulture, $"| {Names[i]} | {Median(i) * scale:F2} | {P90(i) * scale:F2} |");
            foreach (var b in Baselines)
            {
                s.Append(CultureInfo.InvariantCulture, $" {RatioMedian(i, b):F3} |");
            }

            s.AppendLine(CultureInfo.InvariantCulture, $" {Allocated[i]:F0} B |");
        }

        return s.ToString();
    }

    public static string Summary(List<RunResult> runs, string title, string unit, double scale, string[] baselineNames)
    {
        var first = runs[0];
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"### {title} ({runs.Count} runs)");
        s.Append(CultureInfo.InvariantCulture, $"| contender | median {unit} |");
        foreach (var b in baselineNames)
        {
            s.Append(CultureInfo.InvariantCulture, $" ratio to {b} |");
        }

        s.AppendLine(" allocated/call |");
        s.AppendLine("|---|---:|" + string.Concat(Enumerable.Repeat("---:|", baselineNames.Length)) + "---:|");
        for (var i = 0; i < first.Names.Length; i++)
        {
            s.Append(CultureInfo.InvariantCulture, $"| {first.Names[i]} | {Range(runs.Select(r => r.Median(i) * scale), "F2")} |");
            foreach (var b in first.Baselines)
            {
                s.Append(CultureInfo.InvariantCulture, $" {Range(runs.Select(r => r.RatioMedian(i, b)), "F3")} |");
            }

            s.AppendLine(CultureInfo.InvariantCulture, $" {Range(runs.Select(r => r.Allocated[i]), "F0")} B |");
        }

        return s.ToString();
    }

    private static string Range(IEnumerable<double> values, string format)
    {
        var list = values.ToList();
        var f = CultureInfo.InvariantCulture;
        return list.Count == 1
            ? list[0].ToString(format, f)
            : $"{Stats.Median(list).ToString(format, f)} [{list.Min().ToString(format, f)} - {list.Max().ToString(format, f)}]";
    }
}

internal static class Stats
{
    public static double Median(List<double> values) => Quantile(values, 0.5);

    public static double Quantile(List<double> values, double q)
    {
        var sorted = values.Order().ToArray();
        var position = q * (sorted.Length - 1);
        var low = (int)Math.Floor(position);
        var high = (int)Math.Ceiling(position);
        return sorted[low] + ((sorted[high] - sorted[low]) * (position - low));
    }
}

internal static class Interleaved
{
    /// <summary>Round r runs contender (i + r) mod n at position i: every contender takes every position equally often.</summary>
    public static RunResult Measure(string[] names, int rounds, int batch, Func<int, int, long> runBatch, int[] baselines)
    {
        var result = new RunResult(names, baselines);
        for (var round = -rounds / 6; round < rounds; round++)
        {
            for (var position = 0; position < names.Length; position++)
            {
                var contender = (position + Math.Abs(round)) % names.Length;
                var ticks = runBatch(contender, batch);
                if (round >= 0)
                {
                    result.PerCall[contender].Add(ticks / (double)Stopwatch.Frequency / batch);
                }
            }
        }

        return result;
    }

    public static async Task<RunResult> MeasureAsync(string[] names, int rounds, int batch, Func<int, int, Task<long>> runBatch, int[] baselines)
    {
        var result = new RunResult(names, baselines);
        for (var round = -rounds / 6; round < rounds; round++)
        {
            for (var position = 0; position < names.Length; position++)
            {
                var contender = (position + Math.Abs(round)) % names.Length;
                var ticks = await runBatch(contender, batch);
                if (round >= 0)
                {
                    result.PerCall[contender].Add(ticks / (double)Stopwatch.Frequency / batch);
                }
            }
        }

        return result;
    }
}
