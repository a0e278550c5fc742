using System;
using System.Threading;
using System.Threading.Tasks;

namespace ScaleOps.Caching;

/// <summary>
/// A two-level cache (in-process memory, then Redis) whose keys are scoped by the ambient tenant
/// (<see cref="Tenancy.ITenantContext"/>): whatever key a caller passes, it only ever reads and writes the current
/// tenant's entries. Every method throws <see cref="Tenancy.TenantRequiredException"/> outside a tenant scope.
/// </summary>
/// <remarks>
/// Values in memory are shared, not copied: treat cached objects as immutable. When Redis is down the cache keeps
/// working from memory, never throwing a Redis error to the caller.
/// </remarks>
public interface ITenantCache
{
    /// <summary>
    /// Cache-aside: returns the cached value of <paramref name="key"/>, or runs <paramref name="factory"/> once (per key,
    /// per process, and optionally across instances), caches its result and returns it.
    /// </summary>
    /// <typeparam name="TState">State passed to the factory (avoids a closure).</typeparam>
    /// <typeparam name="T">The value type.</typeparam>
    /// <param name="key">The key, 1 to <see cref="CachingOptions.MaxKeyLength"/> characters.</param>
    /// <param name="state">The factory's state.</param>
    /// <param name="factory">Produces the value on a miss. A <see langword="null"/> result is a "not found", cached for the negative expiration.</param>
    /// <param name="options">Entry settings; <see langword="null"/> for the defaults.</param>
    /// <param name="cancellationToken">
    /// A token already cancelled cancels the call before anything starts; later, it cancels this caller's wait (the
    /// factory keeps running for the others).
    /// </param>
    /// <returns>The value and where it came from.</returns>
    /// <exception cref="ArgumentException">The key is empty or too long.</exception>
    /// <exception cref="CacheSerializationException">The factory's value cannot be serialized or is too large.</exception>
    ValueTask<CacheResult<T>> GetOrSetEntryAsync<TState, T>(
        string key,
        TState state,
        Func<TState, CancellationToken, ValueTask<T>> factory,
        CacheEntryOptions? options = null,
        CancellationToken cancellationToken = default);

    /// <summary>Reads a value without producing it.</summary>
    /// <typeparam name="T">The value type.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">A token already cancelled cancels the read (Redis commands themselves cannot be cancelled).</param>
    /// <returns>The value, or a result whose <see cref="CacheResult{T}.HasValue"/> is false.</returns>
    ValueTask<CacheResult<T>> TryGetAsync<T>(string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores a value in both levels and drops other instances' in-memory copies. With
    /// <see cref="CacheEntryOptions.LocalOnly"/> it stores in this instance's memory only and leaves Redis and the other
    /// instances alone: a value of the key written to Redis earlier is still read there, and here once the memory copy
    /// expires. Writes and removals of other keys never undo it; a removal of the same key that runs at the same time may
    /// (the key is then absent, as if the removal came last). Concurrent writes of one key race as in any cache.
    /// </summary>
    /// <typeparam name="T">The value type.</typeparam>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    /// <param name="options">Entry settings.</param>
    /// <param name="cancellationToken">A token already cancelled cancels the write; once begun it completes (half a write could leave the older value in Redis).</param>
    /// <returns>A task.</returns>
    /// <exception cref="CacheSerializationException">The value cannot be serialized or is too large.</exception>
    ValueTask SetAsync<T>(string key, T value, CacheEntryOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Removes one key on every instance.</summary>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">A token already cancelled cancels the removal; once begun it completes (half a removal would leave the value in Redis).</param>
    /// <returns>A task.</returns>
    ValueTask RemoveAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Removes every entry of the current tenant carrying <paramref name="tag"/>, on every instance.</summary>
    /// <param name="tag">The tag.</param>
    /// <param name="cancellationToken">A token already cancelled cancels the removal; once begun it completes (half a removal would leave the value in Redis).</param>
    /// <returns>A task.</returns>
    ValueTask RemoveByTagAsync(string tag, CancellationToken cancellationToken = default);

    /// <summary>Invalidates every entry of the current tenant on every instance, in O(1) (a tenant generation number).</summary>
    /// <param name="cancellationToken">A token already cancelled cancels the invalidation; once begun it completes.</param>
    /// <returns>A task.</returns>
    ValueTask InvalidateTenantAsync(CancellationToken cancellationToken = default);

    /// <summary>The cache's health: whether Redis is in use, breaker state, entry count and hit ratio.</summary>
    /// <returns>A snapshot.</returns>
    CacheStatus GetStatus();
}
