using System;
using System.Collections.Generic;

namespace ScaleOps.Caching;

/// <summary>
/// Per-call settings of one cache entry. Every property left <see langword="null"/> takes the default from
/// <see cref="CachingOptions"/>. Create one instance per kind of entry and reuse it: it is immutable.
/// </summary>
public sealed class CacheEntryOptions
{
    /// <summary>How long the value is fresh. A random jitter of up to <see cref="CachingOptions.JitterFraction"/> is added.</summary>
    /// <value>Default <see cref="CachingOptions.DefaultExpiration"/>.</value>
    public TimeSpan? Expiration { get; init; }

    /// <summary>
    /// How long a <see langword="null"/> result of the factory ("not found") is kept; <see cref="TimeSpan.Zero"/> does not
    /// cache it at all.
    /// </summary>
    /// <value>Default <see cref="CachingOptions.NegativeExpiration"/>.</value>
    public TimeSpan? NegativeExpiration { get; init; }

    /// <summary>
    /// At most how long the in-process copy is kept before Redis is asked again. Stored with the value, so it also bounds
    /// the copies that other instances (and reads without options, <c>TryGetAsync</c>) keep of the value read from Redis.
    /// </summary>
    /// <value>Default <see langword="null"/>: as long as <see cref="Expiration"/>.</value>
    public TimeSpan? LocalExpiration { get; init; }

    /// <summary>Tags of the entry, for <see cref="ITenantCache.RemoveByTagAsync"/>. Tags are scoped by tenant, like keys.</summary>
    /// <value>Default none.</value>
    public IReadOnlyList<string>? Tags { get; init; }

    /// <summary>
    /// Whether a failing or slow factory may be answered with the last good value. <see langword="true"/> cannot turn
    /// fail-safe on when <see cref="CachingOptions.FailSafeMaxDuration"/> is zero: no stale copy is kept to serve.
    /// </summary>
    /// <value>Default <see langword="true"/> when <see cref="CachingOptions.FailSafeMaxDuration"/> is positive.</value>
    public bool? FailSafe { get; init; }

    /// <summary>
    /// How long to wait for the factory when a stale value could be served instead; the factory keeps running and
    /// refreshes the entry when it completes.
    /// </summary>
    /// <value>Default <see cref="CachingOptions.FactoryTimeout"/>.</value>
    public TimeSpan? FactoryTimeout { get; init; }

    /// <summary>
    /// Eager refresh of this call: once less than (1 - threshold) × <see cref="Expiration"/> of the value's freshness
    /// remains, a hit returns the value at once and starts one background run of the factory (see
    /// <see cref="CachingOptions.EagerRefreshThreshold"/>). 0 turns eager refresh off for the call when the default is on.
    /// </summary>
    /// <value>Default <see cref="CachingOptions.EagerRefreshThreshold"/>. When set, 0 (off), or greater than 0 and less than 1.</value>
    public double? EagerRefreshThreshold { get; init; }

    /// <summary>Whether concurrent misses on several instances run the factory once (a short Redis lock).</summary>
    /// <value>Default <see cref="CachingOptions.DistributedStampedeProtection"/>.</value>
    public bool? DistributedStampedeProtection { get; init; }

    /// <summary>Whether the entry lives in memory only, never in Redis.</summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool LocalOnly { get; init; }

    /// <summary>
    /// Whether the call skips the memory level's copy and reads Redis (or runs the factory) as if memory missed; what it
    /// loads is still kept in memory unless <see cref="LocalExpiration"/> is zero. Set by the <c>HybridCache</c> adapter
    /// for <c>HybridCacheEntryFlags.DisableLocalCacheRead</c>.
    /// </summary>
    internal bool SkipMemoryRead { get; init; }
}
