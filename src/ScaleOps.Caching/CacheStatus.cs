using System;

namespace ScaleOps.Caching;

/// <summary>A snapshot of the cache's health, for a health endpoint or a dashboard.</summary>
/// <param name="RedisAvailable">Whether Redis (L2) is in use now; false while it is down or the breaker is open.</param>
/// <param name="BreakerOpenUntil">When the breaker lets the next probe through, while it is open.</param>
/// <param name="LastRedisError">The last Redis error message, if Redis is unavailable.</param>
/// <param name="MemoryEntries">The approximate number of in-process (L1) entries.</param>
/// <param name="Hits">Hits since start (memory, Redis and fail-safe).</param>
/// <param name="Misses">Misses since start (the factory ran).</param>
/// <param name="PendingInvalidations">Invalidations made while Redis was down, waiting to be replayed.</param>
public sealed record CacheStatus(
    bool RedisAvailable,
    DateTimeOffset? BreakerOpenUntil,
    string? LastRedisError,
    long MemoryEntries,
    long Hits,
    long Misses,
    int PendingInvalidations)
{
    /// <summary>Whether the cache works in degraded mode (memory only): report it as degraded health, not as a failure.</summary>
    public bool IsDegraded => !RedisAvailable;

    /// <summary>Hits divided by hits plus misses; 0 before the first call.</summary>
    public double HitRatio => Hits + Misses == 0 ? 0 : (double)Hits / (Hits + Misses);
}
