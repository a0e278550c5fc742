using System;
using System.Threading;
using System.Threading.Tasks;

namespace ScaleOps.Caching;

/// <summary>Shorter forms of <see cref="ITenantCache.GetOrSetEntryAsync{TState, T}"/>.</summary>
public static class TenantCacheExtensions
{
    /// <summary>Cache-aside returning the value only.</summary>
    /// <typeparam name="T">The value type.</typeparam>
    /// <param name="cache">The cache.</param>
    /// <param name="key">The key.</param>
    /// <param name="factory">Produces the value on a miss.</param>
    /// <param name="options">Entry settings.</param>
    /// <param name="cancellationToken">Cancels this caller's wait.</param>
    /// <returns>The value.</returns>
    public static ValueTask<T> GetOrSetAsync<T>(
        this ITenantCache cache,
        string key,
        Func<CancellationToken, ValueTask<T>> factory,
        CacheEntryOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(factory);
        return ValueOf(cache.GetOrSetEntryAsync(key, factory, static (f, ct) => f(ct), options, cancellationToken));
    }

    /// <summary>Cache-aside returning the value and where it came from (hit or miss).</summary>
    /// <typeparam name="T">The value type.</typeparam>
    /// <param name="cache">The cache.</param>
    /// <param name="key">The key.</param>
    /// <param name="factory">Produces the value on a miss.</param>
    /// <param name="options">Entry settings.</param>
    /// <param name="cancellationToken">Cancels this caller's wait.</param>
    /// <returns>The value and its source.</returns>
    public static ValueTask<CacheResult<T>> GetOrSetEntryAsync<T>(
        this ITenantCache cache,
        string key,
        Func<CancellationToken, ValueTask<T>> factory,
        CacheEntryOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(factory);
        return cache.GetOrSetEntryAsync(key, factory, static (f, ct) => f(ct), options, cancellationToken);
    }

    private static ValueTask<T> ValueOf<T>(ValueTask<CacheResult<T>> pending)
    {
        if (pending.IsCompletedSuccessfully)
        {
            return new ValueTask<T>(pending.Result.Value);
        }

        return Await(pending);

        static async ValueTask<T> Await(ValueTask<CacheResult<T>> task) => (await task.ConfigureAwait(false)).Value;
    }
}
