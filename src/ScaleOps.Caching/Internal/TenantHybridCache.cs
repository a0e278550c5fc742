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
/// whole tenant.
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
        // The value-only cache-aside: on the built-in cache, no layer that unwraps the entry on a Redis hit.
        return cache.GetOrSetAsync(key, state, factory, Map(options, tags), cancellationToken);
    }

    public override ValueTask SetAsync<T>(
        string key, T value, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default) =>
        cache.SetAsync(key, value, Map(options, tags), cancellationToken);

    public override ValueTask RemoveAsync(string key, CancellationToken cancellationToken = default) => cache.RemoveAsync(key, cancellationToken);

    public override ValueTask RemoveByTagAsync(string tag, CancellationToken cancellationToken = default) =>
        string.Equals(tag, "*", StringComparison.Ordinal)
            ? cache.InvalidateTenantAsync(cancellationToken)
            : cache.RemoveByTagAsync(tag, cancellationToken);

    private static CacheEntryOptions? Map(HybridCacheEntryOptions? options, IEnumerable<string>? tags)
    {
        if (options is null && tags is null)
        {
            return null;
        }

        var flags = options?.Flags ?? HybridCacheEntryFlags.None;
        return new CacheEntryOptions
        {
            Expiration = options?.Expiration,
            LocalExpiration = (flags & HybridCacheEntryFlags.DisableLocalCacheWrite) != 0 ? TimeSpan.Zero : options?.LocalCacheExpiration,
            LocalOnly = (flags & HybridCacheEntryFlags.DisableDistributedCache) != 0,
            Tags = tags?.ToArray(),
        };
    }
}
