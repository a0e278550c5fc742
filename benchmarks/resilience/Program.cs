using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Resilience;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

// The interleaved Redis limiter harness. On a shared, noisy machine BenchmarkDotNet's sequential cases each see a
// different neighbour load, so the ratio "limiter rate / raw round trip rate" is measured here within each round:
//   latency:    one request in flight; per round each contender runs a batch of sequential calls, in a rotating order;
//               per-round ratio = raw batch time / limiter batch time (the limiter's rate as a share of the raw rate);
//   throughput: N callers in flight for a short slice per contender, rotating order; per-round ratio of decisions/s;
//   allocation: bytes allocated per call (all threads, so the multiplexer's reader is included), sequential.
// Contenders: raw GET, raw EVALSHA of the limiter's own script (same arguments, key precomputed), and the ScaleOps Redis
// limiter's AcquireAsync (LeaseSize 1: one round trip per decision), over 1,000 tenants with huge limits (all admitted).
//   dotnet run -c Release --project benchmarks/resilience -- [--rounds 300] [--batch 20] [--inflight 16] [--slice-ms 250] [--throughput-rounds 12]
var settings = Args.Parse(args);
var endpoint = await TcpServer.RedisAsync();
await using var raw = await ConnectionMultiplexer.ConnectAsync(endpoint);
var db = raw.GetDatabase();
await db.StringSetAsync("harness:get", "value");
var script = LoadScript();
byte[] sha1 = await raw.GetServers()[0].ScriptLoadAsync(script);
RedisValue[] scriptArgs = ["1", "1", "0", "2", "1000000000", "1000000", "1000000000", "11.574074074074074"];
var tenants = Enumerable.Range(0, 1000).Select(i => new TenantId($"harness-{i}")).ToArray();
var rawKeys = tenants.Select(t => new RedisKey[] { $"harness:raw:{{{t}}}:default" }).ToArray();
RedisKey getKey = "harness:get";

var services = new ServiceCollection();
services.AddLogging();
services.AddSingleton<IConnectionMultiplexer>(raw); // the limiter shares the raw contenders' connection, as in a host
services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1").AddResilience(o =>
{
    o.RateLimiting.Store = RateLimiterStore.Redis;
    o.RateLimiting.LeaseSize = 1;
    o.RateLimiting.RedisKeyPrefix = "harness:rl:";
    o.RateLimiting.Plans["default"] =
    [
        new RateLimitRule { PermitLimit = 1_000_000_000, Window = TimeSpan.FromSeconds(1) },
        new RateLimitRule { PermitLimit = 1_000_000_000, Window = TimeSpan.FromDays(1) },
    ];
});
await using var provider = services.BuildServiceProvider();
var limiter = provider.GetRequiredService<PartitionedRateLimiter<TenantId>>();

var contenders = new (string Name, Func<int, Task<bool>> Call)[]
{
    ("raw GET", async i => (await db.StringGetAsync(getKey)).HasValue),
    ("raw EVALSHA", async i => (long)((RedisResult[])(await db.ScriptEvaluateAsync(sha1, rawKeys[i % rawKeys.Length], scriptArgs))!)[0] > 0),
    ("ScaleOps AcquireAsync", async i =>
    {
        using var lease = await limiter.AcquireAsync(tenants[i % tenants.Length]);
        return lease.IsAcquired;
    }),
};

// Warm-up: every tenant once (plan cache, key cache, script), then a few thousand calls of each.
for (var i = 0; i < tenants.Length; i++)
{
    foreach (var c in contenders)
    {
        if (!await c.Call(i))
        {
            throw new InvalidOperationException($"{c.Name} was not admitted during warm-up.");
        }
    }
}

var next = 0;
// PROFILE_LIMITER='raw EVALSHA' (or another contender's name): that contender alone, sequentially, for 15 s, so that a
// sampling profiler (perf record -p PID) sees one path at a time (docs/benchmarks.md, Resilience).
if (Environment.GetEnvironmentVariable("PROFILE_LIMITER") is { } profiled)
{
    var only = Array.FindIndex(contenders, c => c.Name == profiled);
    if (only < 0)
    {
        throw new ArgumentException($"PROFILE_LIMITER names no contender: '{profiled}'. Contenders: {string.Join(", ", contenders.Select(c => c.Name))}.");
    }

    var until = Stopwatch.GetTimestamp() + (15 * Stopwatch.Frequency);
    long calls = 0;
    while (Stopwatch.GetTimestamp() < until)
    {
        await contenders[only].Call(next++);
        calls++;
    }

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{profiled}: {calls} calls, {15e6 / calls:F1} us per call"));
    return;
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"# Redis limiter harness {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC, .NET {Environment.Version}, load average {LoadAverage()}"));

// Latency, interleaved.
var perCall = contenders.Select(_ => new List<double>()).ToArray();
var ratios = contenders.Select(_ => new List<double>()).ToArray();
for (var round = 0; round < settings.Rounds; round++)
{
    var elapsed = new double[contenders.Length];
    for (var k = 0; k < contenders.Length; k++)
    {
        var c = (round + k) % contenders.Length;
        var start = Stopwatch.GetTimestamp();
        for (var b = 0; b < settings.Batch; b++)
        {
            await contenders[c].Call(next++);
        }

        elapsed[c] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
    }

    for (var c = 0; c < contenders.Length; c++)
    {
        perCall[c].Add(elapsed[c] / settings.Batch);
        ratios[c].Add(elapsed[0] / elapsed[c]);
    }
}

// The limiter against raw EVALSHA as well.
var vsEval = new List<double>();
for (var r = 0; r < settings.Rounds; r++)
{
    vsEval.Add(perCall[1][r] / perCall[2][r]);
}

Console.WriteLine();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"## Latency, 1 in flight: {settings.Rounds} rounds x {settings.Batch} sequential calls per contender, rotating order"));
Console.WriteLine();
Console.WriteLine("| contender | µs per call, median [p10–p90] | rate vs raw GET, median of per-round ratios [p10–p90] |");
Console.WriteLine("|---|---:|---:|");
for (var c = 0; c < contenders.Length; c++)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {contenders[c].Name} | {Median(perCall[c]):F1} [{Pct(perCall[c], 10):F1}–{Pct(perCall[c], 90):F1}] | {Median(ratios[c]):P0} [{Pct(ratios[c], 10):P0}–{Pct(ratios[c], 90):P0}] |"));
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"| ScaleOps vs raw EVALSHA | | {Median(vsEval):P0} [{Pct(vsEval, 10):P0}–{Pct(vsEval, 90):P0}] |"));

// Throughput, interleaved: N callers in flight.
var rates = contenders.Select(_ => new List<double>()).ToArray();
for (var round = 0; round < settings.ThroughputRounds; round++)
{
    for (var k = 0; k < contenders.Length; k++)
    {
        var c = (round + k) % contenders.Length;
        rates[c].Add(await ThroughputAsync(contenders[c].Call, settings.InFlight, TimeSpan.FromMilliseconds(settings.SliceMs)));
    }
}

var tputRatios = contenders.Select((_, c) => Enumerable.Range(0, settings.ThroughputRounds).Select(r => rates[c][r] / rates[0][r]).ToList()).ToArray();
var tputVsEval = Enumerable.Range(0, settings.ThroughputRounds).Select(r => rates[2][r] / rates[1][r]).ToList();
Console.WriteLine();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"## Throughput, {settings.InFlight} in flight: {settings.ThroughputRounds} rounds x {settings.SliceMs} ms per contender, rotating order"));
Console.WriteLine();
Console.WriteLine("| contender | calls/s, median [min–max] | rate vs raw GET, median of per-round ratios [min–max] |");
Console.WriteLine("|---|---:|---:|");
for (var c = 0; c < contenders.Length; c++)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {contenders[c].Name} | {Median(rates[c]):N0} [{rates[c].Min():N0}–{rates[c].Max():N0}] | {Median(tputRatios[c]):P0} [{tputRatios[c].Min():P0}–{tputRatios[c].Max():P0}] |"));
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"| ScaleOps vs raw EVALSHA | | {Median(tputVsEval):P0} [{tputVsEval.Min():P0}–{tputVsEval.Max():P0}] |"));

// Allocation per call (every thread: the multiplexer's reader loop is part of a round trip's cost).
Console.WriteLine();
Console.WriteLine("## Allocated bytes per call (all threads, 5,000 sequential calls)");
Console.WriteLine();
Console.WriteLine("| contender | bytes per call |");
Console.WriteLine("|---|---:|");
foreach (var c in contenders)
{
    const int Calls = 5_000;
    var before = GC.GetTotalAllocatedBytes(precise: true);
    for (var i = 0; i < Calls; i++)
    {
        await c.Call(next++);
    }

    var bytes = (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)Calls;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {c.Name} | {bytes:N0} |"));
}

Console.WriteLine();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"load average at the end: {LoadAverage()}"));
return;

static async Task<double> ThroughputAsync(Func<int, Task<bool>> call, int inFlight, TimeSpan slice)
{
    long done = 0;
    var seed = 0;
    using var stop = new CancellationTokenSource();
    var start = Stopwatch.GetTimestamp();
    var workers = Enumerable.Range(0, inFlight).Select(w => Task.Run(async () =>
    {
        var i = Interlocked.Add(ref seed, 1000) + w;
        var mine = 0L;
        while (!stop.IsCancellationRequested)
        {
            await call(i++);
            mine++;
        }

        Interlocked.Add(ref done, mine);
    })).ToArray();
    await Task.Delay(slice);
    await stop.CancelAsync();
    await Task.WhenAll(workers);
    return done / Stopwatch.GetElapsedTime(start).TotalSeconds;
}

static double Median(List<double> values) => Pct(values, 50);

static double Pct(List<double> values, int percent)
{
    var sorted = values.Order().ToArray();
    var rank = percent / 100.0 * (sorted.Length - 1);
    var low = (int)Math.Floor(rank);
    var high = (int)Math.Ceiling(rank);
    return sorted[low] + ((sorted[high] - sorted[low]) * (rank - low));
}

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

static string LoadScript()
{
    using var stream = typeof(ResilienceOptions).Assembly.GetManifestResourceStream("ScaleOps.Resilience.RateLimiting.Lua.token_bucket.lua")
        ?? throw new InvalidOperationException("token_bucket.lua is not embedded in ScaleOps.Resilience.");
    using var reader = new StreamReader(stream);
    return reader.ReadToEnd();
}

internal sealed record Args(int Rounds, int Batch, int InFlight, int SliceMs, int ThroughputRounds)
{
    public static Args Parse(string[] args)
    {
        var values = new Dictionary<string, int>(StringComparer.Ordinal)
        {
            ["--rounds"] = 300, ["--batch"] = 20, ["--inflight"] = 16, ["--slice-ms"] = 250, ["--throughput-rounds"] = 12,
        };
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            if (!values.ContainsKey(args[i]) || !int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var value) || value < 1)
            {
                throw new ArgumentException($"Unknown option or bad value: {args[i]} {args[i + 1]}. Options: {string.Join(", ", values.Keys)} (positive integers).");
            }

            values[args[i]] = value;
        }

        return new Args(values["--rounds"], values["--batch"], values["--inflight"], values["--slice-ms"], values["--throughput-rounds"]);
    }
}
