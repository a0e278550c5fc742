using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Caching.Hybrid;

namespace ScaleOps.Caching.Internal;

/// <summary>
/// Microsoft's <see cref="HybridCache"/> abstraction over the tenant cache: code written against <see cref="HybridCache"/>
/// becomes tenant-scoped (keys and tags belong to the ambient tenant). <c>RemoveByTagAsync("*")</c> invalidates the
/// whole tenant. Entry flags: <see cref="HybridCacheEntryFlags.DisableUnderlyingData"/> reads the cache only (default
/// when absent, the factory never runs), <see cref="HybridCacheEntryFlags.DisableLocalCacheWrite"/> keeps no memory copy,
/// <see cref="HybridCacheEntryFlags.DisableLocalCacheRead"/> skips the memory copy (read Redis or run the factory),
/// <see cref="HybridCacheEntryFlags.DisableDistributedCache"/> (both bits) keeps the entry in memory only,
/// <see cref="HybridCacheEntryFlags.DisableCompression"/> holds (nothing is compressed); a flag the tenant cache cannot
/// honour throws <see cref="NotSupportedException"/> naming it rather than being ignored.
/// </summary>
internal sealed class TenantHybridCache(ITenantCache cache) : HybridCache
{
    public override ValueTask<T> GetOrCreateAsync<TState, T>(
        string key,
        TState state,
        Func<TState, CancellationToken, ValueTask<T>> factory,
        HybridCacheEntryOptions? options = null,
        IEnumerable<string>? tags = null,
        CancellationToken cancellationToken = default)
    {
        var flags = options?.Flags ?? HybridCacheEntryFlags.None;
        if (flags != HybridCacheEntryFlags.None)
        {
            CheckReadFlags(flags);
            if ((flags & HybridCacheEntryFlags.DisableUnderlyingData) != 0)
            {
                return ReadOnlyAsync<T>(key, cancellationToken);
            }
        }

        // The value-only cache-aside: on the built-in cache, no layer that unwraps the entry on a Redis hit.
        return cache.GetOrSetAsync(key, state, factory, Map(options, tags, flags), cancellationToken);
    }

    public override ValueTask SetAsync<T>(
        string key, T value, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default)
    {
        // A write reads nothing and runs no factory: only the write flags apply. Without a distributed write the value
        // is kept in memory only.
        var flags = options?.Flags ?? HybridCacheEntryFlags.None;
        if ((flags & HybridCacheEntryFlags.DisableDistributedCacheWrite) != 0)
        {
            flags |= HybridCacheEntryFlags.DisableDistributedCache;
        }

        return cache.SetAsync(key, value, Map(options, tags, flags), cancellationToken);
    }

    public override ValueTask RemoveAsync(string key, CancellationToken cancellationToken = default) => cache.RemoveAsync(key, cancellationToken);

    public override ValueTask RemoveByTagAsync(string tag, CancellationToken cancellationToken = default) =>
        string.Equals(tag, "*", StringComparison.Ordinal)
            ? cache.InvalidateTenantAsync(cancellationToken)
            : cache.RemoveByTagAsync(tag, cancellationToken);

    /// <summary>The flags of a read the tenant cache cannot honour: it reads Redis for every entry it writes there.</summary>
    private static void CheckReadFlags(HybridCacheEntryFlags flags)
    {
        var distributed = flags & HybridCacheEntryFlags.DisableDistributedCache;
        if (distributed == HybridCacheEntryFlags.DisableDistributedCacheRead)
        {
            throw Unsupported(nameof(HybridCacheEntryFlags.DisableDistributedCacheRead),
                "the tenant cache reads Redis for every entry it writes there (use DisableDistributedCache for a memory-only entry)");
        }

        if (distributed == HybridCacheEntryFlags.DisableDistributedCacheWrite)
        {
            throw Unsupported(nameof(HybridCacheEntryFlags.DisableDistributedCacheWrite),
                "the tenant cache writes a loaded value to Redis unless the entry is memory-only (use DisableDistributedCache)");
        }

        if ((flags & HybridCacheEntryFlags.DisableUnderlyingData) != 0 && (distributed != 0 || (flags & HybridCacheEntryFlags.DisableLocalCache) != 0))
        {
            throw Unsupported(nameof(HybridCacheEntryFlags.DisableUnderlyingData),
                "a cache-only read goes through memory and Redis and keeps a Redis hit in memory: it cannot be combined with DisableDistributedCache, DisableLocalCacheRead or DisableLocalCacheWrite");
        }
    }

    private static NotSupportedException Unsupported(string flag, string why) =>
        new($"HybridCacheEntryFlags.{flag} is not supported by the ScaleOps tenant cache: {why}.");

    /// <summary><see cref="HybridCacheEntryFlags.DisableUnderlyingData"/>: the cached value, or the default when there is none.</summary>
    private async ValueTask<T> ReadOnlyAsync<T>(string key, CancellationToken cancellationToken)
    {
        var found = await cache.TryGetAsync<T>(key, cancellationToken).ConfigureAwait(false);
        return found.HasValue ? found.Value : default!;
    }

    private static CacheEntryOptions? Map(HybridCacheEntryOptions? options, IEnumerable<string>? tags, HybridCacheEntryFlags flags)
    {
        if (options is null && tags is null)
        {
            return null;
        }

        return new CacheEntryOptions
        {
            Expiration = options?.Expiration,
            LocalExpiration = (flags & HybridCacheEntryFlags.DisableLocalCacheWrite) != 0 ? TimeSpan.Zero : options?.LocalCacheExpiration,
            LocalOnly = (flags & HybridCacheEntryFlags.DisableDistributedCache) == HybridCacheEntryFlags.DisableDistributedCache,
            SkipMemoryRead = (flags & HybridCacheEntryFlags.DisableLocalCacheRead) != 0,
            Tags = tags?.ToArray(),
        };
    }
}
