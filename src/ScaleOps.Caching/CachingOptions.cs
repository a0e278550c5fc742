using System;
using ScaleOps.Caching.Serialization;
using StackExchange.Redis;

namespace ScaleOps.Caching;

/// <summary>Settings of the tenant cache, bound from the configuration section <c>ScaleOps:Caching</c>.</summary>
public sealed class CachingOptions
{
    /// <summary>The configuration section, under <c>ScaleOps</c>.</summary>
    public const string SectionName = "Caching";

    /// <summary>The StackExchange.Redis connection string (single node or a cluster's seed nodes).</summary>
    /// <value>Default <see langword="null"/>: taken from <c>ConnectionStrings:{ConnectionStringName}</c>. Required.</value>
    public string? RedisConnectionString { get; set; }

    /// <summary>The name looked up under <c>ConnectionStrings</c> when <see cref="RedisConnectionString"/> is not set.</summary>
    /// <value>Default <c>Redis</c>.</value>
    public string ConnectionStringName { get; set; } = "Redis";

    /// <summary>Prefix of every Redis key and of the backplane channel; lets several applications share one Redis.</summary>
    /// <value>Default <c>scaleops:cache</c>. 1 to 100 characters, no <c>{</c>, <c>}</c> or white space.</value>
    public string KeyPrefix { get; set; } = "scaleops:cache";

    /// <summary>How long an entry is fresh unless the call says otherwise.</summary>
    /// <value>Default 5 minutes. From 1 second to 30 days.</value>
    public TimeSpan DefaultExpiration { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a <see langword="null"/> factory result ("not found") is kept; zero caches no nulls.</summary>
    /// <value>Default 30 seconds. From zero to 1 day.</value>
    public TimeSpan NegativeExpiration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The largest random fraction added to an expiration, so entries written together do not expire together.</summary>
    /// <value>Default 0.1 (up to 10% longer). From 0 to 0.5.</value>
    public double JitterFraction { get; set; } = 0.1;

    /// <summary>How long past its expiration a value may still be served when the factory fails or times out; zero disables fail-safe.</summary>
    /// <value>Default 1 hour. From zero to 7 days.</value>
    public TimeSpan FailSafeMaxDuration { get; set; } = TimeSpan.FromHours(1);

    /// <summary>After a fail-safe answer, how long the stale value is served before the factory is tried again.</summary>
    /// <value>Default 30 seconds. From 1 second to 1 hour.</value>
    public TimeSpan FailSafeThrottle { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long to wait for a factory when a stale value could be served instead; <see langword="null"/> waits.</summary>
    /// <value>Default <see langword="null"/>. When set, from 1 millisecond to 1 hour.</value>
    public TimeSpan? FactoryTimeout { get; set; }

    /// <summary>
    /// Eager refresh: once less than (1 - threshold) × the call's expiration of a value's freshness remains, a
    /// cache-aside hit returns the value at once and starts one background run of the factory, so a hot key never makes
    /// its callers wait at expiry. 0.8 with a 10-minute expiration refreshes on the first hit after 8 minutes.
    /// <see cref="CacheEntryOptions.EagerRefreshThreshold"/> overrides it per call (0 turns it off for the call).
    /// </summary>
    /// <value>Default <see langword="null"/> (off). When set, greater than 0 and less than 1.</value>
    public double? EagerRefreshThreshold { get; set; }

    /// <summary>The Redis connect and command timeout: a miss while Redis is unreachable costs about this much, once.</summary>
    /// <value>Default 250 milliseconds. From 10 milliseconds to 30 seconds.</value>
    public TimeSpan RedisTimeout { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>After a Redis error, how long the cache works from memory only before it probes Redis again.</summary>
    /// <value>Default 5 seconds. From 100 milliseconds to 10 minutes.</value>
    public TimeSpan BreakerDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Whether concurrent misses on several instances run the factory once (a short Redis lock; the others wait for the value).</summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool DistributedStampedeProtection { get; set; }

    /// <summary>How long the cross-instance lock lives if its holder dies.</summary>
    /// <value>Default 10 seconds. From 100 milliseconds to 10 minutes.</value>
    public TimeSpan DistributedLockLease { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an instance waits for another instance's value before running the factory itself.</summary>
    /// <value>Default 5 seconds. From 10 milliseconds to 10 minutes.</value>
    public TimeSpan DistributedLockWait { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest key or tag, in characters.</summary>
    /// <value>Default 1024. From 16 to 65536.</value>
    public int MaxKeyLength { get; set; } = 1024;

    /// <summary>The largest serialized value, in bytes; a larger one is refused with <see cref="CacheSerializationException"/>.</summary>
    /// <value>Default 1 MiB (1048576). From 1 KiB to 512 MiB.</value>
    public int MaxPayloadBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// The most in-memory entries over all tenants. A write that passes it evicts about 1/64 of the maximum with CLOCK
    /// (second chance): entries hit since the last eviction scan stay, the others go (they remain in Redis). Memory
    /// hits never pay for the bound: no lock, no allocation.
    /// </summary>
    /// <value>Default 100000. From 1 to 100000000.</value>
    public int MaxMemoryEntries { get; set; } = 100_000;

    /// <summary>
    /// The most in-memory entries of one tenant (noisy-neighbour protection): a write that takes a tenant past it evicts
    /// about 1/64 of it from that tenant's own entries with CLOCK (entries hit since the last scan of the tenant stay),
    /// never another tenant's; evicted entries remain in Redis. Memory hits never pay for the bound. Off by default: a
    /// fixed share would shrink the memory level of a deployment with few active tenants, whatever the load.
    /// </summary>
    /// <value>Default <see langword="null"/> (off: only <see cref="MaxMemoryEntries"/> bounds a tenant). When set, from 1
    /// to <see cref="MaxMemoryEntries"/>.</value>
    public int? MaxMemoryEntriesPerTenant { get; set; }

    /// <summary>How often expired in-memory entries are swept (and pending invalidations retried).</summary>
    /// <value>Default 1 minute. From 1 second to 1 hour.</value>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The serializer of values stored in Redis.</summary>
    /// <value>Default <see cref="SystemTextJsonCacheSerializer"/> with web defaults. Code only.</value>
    public ICacheSerializer? Serializer { get; set; }

    /// <summary>A hook to tune the Redis client after ScaleOps applied its fast-fail defaults.</summary>
    /// <value>Default <see langword="null"/>. Code only.</value>
    public Action<ConfigurationOptions>? ConfigureRedis { get; set; }
}
