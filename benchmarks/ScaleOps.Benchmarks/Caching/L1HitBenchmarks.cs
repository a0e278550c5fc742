using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Caching;
using ZiggyCreatures.Caching.Fusion;

namespace ScaleOps.Benchmarks.Caching;

/// <summary>
/// An in-memory (L1) hit, every library configured with the same Redis as L2 and 30-minute entries. The floor is a
/// bare <see cref="ConcurrentDictionary{TKey, TValue}"/> lookup.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 9)]
public class L1HitBenchmarks
{
    private const string Key = "doc:1";
    private static readonly Func<CancellationToken, ValueTask<Document>> Factory = _ => ValueTask.FromResult(Document.Sample("1"));
    private static readonly Func<FusionCacheFactoryExecutionContext<Document>, CancellationToken, Task<Document>> FusionFactory =
        (_, _) => Task.FromResult(Document.Sample("1"));

    private readonly ConcurrentDictionary<string, Document> _floor = new(StringComparer.Ordinal);
    private ServiceProvider _scaleOpsProvider = null!;
    private ITenantCache _scaleOps = null!;
    private IDisposable _tenant = null!;
    private FusionCache _fusion = null!;
    private ServiceProvider _hybridProvider = null!;
    private HybridCache _hybrid = null!;
    private string _peerKey = "";

    [GlobalSetup]
    public void Setup()
    {
        var redis = CachingPeers.Redis;
        var prefix = "bench:l1:" + Guid.NewGuid().ToString("N");
        (_scaleOpsProvider, _scaleOps) = CachingPeers.ScaleOps(redis, prefix);
        _tenant = CachingPeers.EnterTenant(_scaleOpsProvider); // set on the benchmark thread; the workload reads it from there
        _fusion = CachingPeers.Fusion(redis);
        (_hybridProvider, _hybrid) = CachingPeers.Hybrid(redis);

        _floor[Key] = Document.Sample("1");
        _scaleOps.GetOrSetAsync(Key, Factory).AsTask().GetAwaiter().GetResult();
        _peerKey = prefix + ":" + Key;
        _fusion.GetOrSetAsync<Document>(_peerKey, FusionFactory).AsTask().GetAwaiter().GetResult();
        _hybrid.GetOrCreateAsync(_peerKey, Factory).AsTask().GetAwaiter().GetResult();
        if (_scaleOps.GetOrSetEntryAsync(Key, Factory).AsTask().GetAwaiter().GetResult().Source != CacheSource.Memory)
        {
            throw new InvalidOperationException("The ScaleOps cache did not hit memory in the setup.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _tenant.Dispose();
        _scaleOpsProvider.Dispose();
        _fusion.Dispose();
        _hybridProvider.Dispose();
    }

    [Benchmark]
    public Document? ConcurrentDictionaryFloor() => _floor.TryGetValue(Key, out var value) ? value : null;

    [Benchmark(Baseline = true)]
    public ValueTask<Document> HybridCache() => _hybrid.GetOrCreateAsync(_peerKey, Factory);

    [Benchmark]
    public ValueTask<Document> FusionCache() => _fusion.GetOrSetAsync<Document>(_peerKey, FusionFactory);

    [Benchmark]
    public ValueTask<Document> ScaleOps() => _scaleOps.GetOrSetAsync(Key, Factory);
}
