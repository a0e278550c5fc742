using System;
using System.Globalization;
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
/// Redis is down (its port refuses connections): a miss on a new key (the factory itself is instant) and a memory
/// hit. Every library uses the fast-fail client (250 ms timeouts, abortConnect=false); FusionCache is also given its
/// tuned resilience settings (soft/hard timeouts, background L2 operations, a 10 s circuit breaker). Goal: misses
/// under 5 ms and hits as fast as with Redis up.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 2, iterationCount: 9, invocationCount: 4)]
public class OutageBenchmarks
{
    private const string Hot = "hot";
    private static readonly Func<CancellationToken, ValueTask<Document>> Factory = _ => ValueTask.FromResult(Document.Sample("x"));
    private static readonly Func<FusionCacheFactoryExecutionContext<Document>, CancellationToken, Task<Document>> FusionFactory =
        (_, _) => Task.FromResult(Document.Sample("x"));

    private ServiceProvider _scaleOpsProvider = null!;
    private ITenantCache _scaleOps = null!;
    private IDisposable _tenant = null!;
    private FusionCache _fusion = null!;
    private ServiceProvider _hybridProvider = null!;
    private HybridCache _hybrid = null!;
    private int _key;

    [GlobalSetup]
    public void Setup()
    {
        var down = CachingPeers.RefusedEndpoint();
        (_scaleOpsProvider, _scaleOps) = CachingPeers.ScaleOps(down, "bench:outage");
        _tenant = CachingPeers.EnterTenant(_scaleOpsProvider);
        _fusion = CachingPeers.Fusion(down, tuned: true);
        (_hybridProvider, _hybrid) = CachingPeers.Hybrid(down);

        // Prime the memory level (these first misses pay the connect attempt).
        _scaleOps.GetOrSetAsync(Hot, Factory).AsTask().GetAwaiter().GetResult();
        _fusion.GetOrSetAsync<Document>(Hot, FusionFactory).AsTask().GetAwaiter().GetResult();
        _hybrid.GetOrCreateAsync(Hot, Factory).AsTask().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _tenant.Dispose();
        _scaleOpsProvider.Dispose();
        _fusion.Dispose();
        _hybridProvider.Dispose();
    }

    [Benchmark(Baseline = true)]
    public ValueTask<Document> HybridCacheMiss() => _hybrid.GetOrCreateAsync(NewKey(), Factory);

    [Benchmark]
    public ValueTask<Document> FusionCacheMiss() => _fusion.GetOrSetAsync<Document>(NewKey(), FusionFactory);

    [Benchmark]
    public ValueTask<Document> ScaleOpsMiss() => _scaleOps.GetOrSetAsync(NewKey(), Factory);

    [Benchmark]
    public ValueTask<Document> HybridCacheHit() => _hybrid.GetOrCreateAsync(Hot, Factory);

    [Benchmark]
    public ValueTask<Document> FusionCacheHit() => _fusion.GetOrSetAsync<Document>(Hot, FusionFactory);

    [Benchmark]
    public ValueTask<Document> ScaleOpsHit() => _scaleOps.GetOrSetAsync(Hot, Factory);

    private string NewKey() => "k" + Interlocked.Increment(ref _key).ToString(CultureInfo.InvariantCulture);
}
