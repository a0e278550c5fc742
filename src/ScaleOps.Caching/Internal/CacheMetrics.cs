using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Threading;
using ScaleOps.Diagnostics;

namespace ScaleOps.Caching.Internal;

/// <summary>The cache's instruments on the shared <c>ScaleOps</c> meter.</summary>
internal sealed class CacheMetrics
{
    private static readonly KeyValuePair<string, object?> Memory = new("level", "memory");
    private static readonly KeyValuePair<string, object?> Redis = new("level", "redis");
    private static readonly KeyValuePair<string, object?> Stale = new("level", "stale");

    private readonly Counter<long> _hits;
    private readonly Counter<long> _misses;
    private readonly Counter<long> _fallbacks;
    private readonly Counter<long> _stampedeWaits;
    private readonly Histogram<double> _factoryDuration;
    private long _hitCount;
    private long _missCount;

    public CacheMetrics(ScaleOpsMetrics metrics, System.Func<long> memoryEntries, System.Func<long> evictions)
    {
        var meter = metrics.Meter;
        _hits = meter.CreateCounter<long>("scaleops.cache.hits", "{hit}", "Cache hits, by level (memory, redis, stale).");
        _misses = meter.CreateCounter<long>("scaleops.cache.misses", "{miss}", "Cache misses, by level (memory: no fresh value in memory; redis: Redis was read and held no fresh value).");
        _fallbacks = meter.CreateCounter<long>("scaleops.cache.fallbacks", "{fallback}",
            "Degraded answers, by reason (redis_unavailable, redis_error, fail_safe, factory_timeout).");
        _stampedeWaits = meter.CreateCounter<long>("scaleops.cache.stampede.waits", "{wait}",
            "Callers that waited for another caller's factory, by scope (process, cluster).");

        // Factories are database reads: 1 ms to 10 s covers them.
        _factoryDuration = meter.CreateHistogram("scaleops.cache.factory.duration", "s", "Time the value factory took.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        meter.CreateObservableGauge("scaleops.cache.hit_ratio", () => HitRatio, "1", "Hits / (hits + factory runs) since start.");
        meter.CreateObservableGauge("scaleops.cache.memory.entries", memoryEntries, "{entry}", "In-memory entries (approximate).");
        meter.CreateObservableCounter("scaleops.cache.memory.evictions", evictions, "{entry}",
            "In-memory entries dropped to stay within MaxMemoryEntries or a tenant's MaxMemoryEntriesPerTenant.");
    }

    public long Hits => Volatile.Read(ref _hitCount);

    public long Misses => Volatile.Read(ref _missCount);

    private double HitRatio => Hits + Misses == 0 ? 0 : (double)Hits / (Hits + Misses);

    public void MemoryHit()
    {
        Interlocked.Increment(ref _hitCount);
        if (_hits.Enabled)
        {
            _hits.Add(1, Memory);
        }
    }

    public void RedisHit()
    {
        Interlocked.Increment(ref _hitCount);
        if (_hits.Enabled)
        {
            _hits.Add(1, Redis);
        }
    }

    public void StaleHit()
    {
        Interlocked.Increment(ref _hitCount);
        _hits.Add(1, Stale);
    }

    public void MemoryMiss()
    {
        if (_misses.Enabled)
        {
            _misses.Add(1, Memory);
        }
    }

    public void RedisMiss() => _misses.Add(1, Redis);

    public void FactoryRan(double seconds, bool success)
    {
        Interlocked.Increment(ref _missCount);
        _factoryDuration.Record(seconds, new KeyValuePair<string, object?>("outcome", success ? "success" : "failure"));
    }

    public void Fallback(string reason) => _fallbacks.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void StampedeWait(string scope) => _stampedeWaits.Add(1, new KeyValuePair<string, object?>("scope", scope));
}
