using System;
using System.Collections.Concurrent;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Caching;
using ZiggyCreatures.Caching.Fusion;

namespace ScaleOps.Benchmarks.Caching;

/// <summary>
/// 1,000 callers released together onto one missing key whose factory takes 50 ms, on one instance or spread over two
/// instances sharing Redis. Timed: release until every caller has its value. Counted: factory runs per stampede,
/// written to <c>BenchmarkDotNet.Artifacts/caching-stampede-runs.txt</c> (the goal is 1, even across instances).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 7)]
public class StampedeBenchmarks
{
    private const int Callers = 1000;
    private static readonly TimeSpan FactoryTime = TimeSpan.FromMilliseconds(50);
    private readonly ConcurrentQueue<int> _runsPerStampede = new();
    private ServiceProvider[] _scaleOpsProviders = [];
    private ITenantCache[] _scaleOps = [];
    private IDisposable _tenant = null!;
    private FusionCache[] _fusion = [];
    private ServiceProvider[] _hybridProviders = [];
    private HybridCache[] _hybrid = [];
    private string _prefix = "";
    private int _round;

    [Params(1, 2)]
    public int Instances { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var redis = CachingPeers.Redis;
        _prefix = "bench:stampede:" + Guid.NewGuid().ToString("N");
        var scaleOps = Enumerable.Range(0, Instances)
            .Select(_ => CachingPeers.ScaleOps(redis, _prefix, o => o.DistributedStampedeProtection = true)).ToArray();
        _scaleOpsProviders = [.. scaleOps.Select(s => s.Provider)];
        _scaleOps = [.. scaleOps.Select(s => s.Cache)];
        _tenant = CachingPeers.EnterTenant(_scaleOpsProviders[0]);
        _fusion = [.. Enumerable.Range(0, Instances).Select(_ => CachingPeers.Fusion(redis))];
        var hybrid = Enumerable.Range(0, Instances).Select(_ => CachingPeers.Hybrid(redis)).ToArray();
        _hybridProviders = [.. hybrid.Select(h => h.Provider)];
        _hybrid = [.. hybrid.Select(h => h.Cache)];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        var runs = _runsPerStampede.ToArray();
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{DateTime.UtcNow:O} {BenchmarkName} instances={Instances}: factory runs per stampede {string.Join(",", runs)} (min {runs.DefaultIfEmpty().Min()}, max {runs.DefaultIfEmpty().Max()})");
        Console.WriteLine("STAMPEDE " + line);
        Directory.CreateDirectory("BenchmarkDotNet.Artifacts");
        File.AppendAllText(Path.Combine("BenchmarkDotNet.Artifacts", "caching-stampede-runs.txt"), line + Environment.NewLine);
        _tenant.Dispose();
        foreach (var p in _scaleOpsProviders.Concat(_hybridProviders))
        {
            p.Dispose();
        }

        foreach (var f in _fusion)
        {
            f.Dispose();
        }
    }

    private string BenchmarkName { get; set; } = "";

    [Benchmark(Baseline = true)]
    public Task HybridCache() => StampedeAsync(nameof(HybridCache), (i, key, factory) =>
        _hybrid[i % Instances].GetOrCreateAsync(key, factory, static async (f, ct) => await f(ct)).AsTask());

    [Benchmark]
    public Task FusionCache() => StampedeAsync(nameof(FusionCache), (i, key, factory) =>
        _fusion[i % Instances].GetOrSetAsync<Document>(key, async (_, ct) => await factory(ct)).AsTask());

    [Benchmark]
    public Task ScaleOps() => StampedeAsync(nameof(ScaleOps), (i, key, factory) =>
        _scaleOps[i % Instances].GetOrSetAsync(key, factory).AsTask());

    private async Task StampedeAsync(string name, Func<int, string, Func<CancellationToken, ValueTask<Document>>, Task<Document>> call)
    {
        BenchmarkName = name;
        var key = string.Create(CultureInfo.InvariantCulture, $"{_prefix}:{name}:{Interlocked.Increment(ref _round)}");
        var runs = 0;
        Func<CancellationToken, ValueTask<Document>> factory = async ct =>
        {
            Interlocked.Increment(ref runs);
            await Task.Delay(FactoryTime, ct);
            return Document.Sample(key);
        };
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var callers = new Task<Document>[Callers];
        for (var i = 0; i < Callers; i++)
        {
            var index = i;
            callers[i] = Task.Run(async () =>
            {
                await gate.Task;
                return await call(index, key, factory);
            });
        }

        gate.SetResult();
        await Task.WhenAll(callers);
        _runsPerStampede.Enqueue(runs);
    }
}
