using System;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Caching.Internal;

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
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "Both overloads are new and differ in arity, as HybridCache.GetOrCreateAsync's do; no shipped caller can bind to the other.")]
    public static ValueTask<T> GetOrSetAsync<T>(
        this ITenantCache cache,
        string key,
        Func<CancellationToken, ValueTask<T>> factory,
        CacheEntryOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(factory);

        // A direct call on the built-in cache: no generic interface dispatch on the memory hit path, and no layer that
        // unwraps the entry on the Redis hit path.
        return cache is TenantCache tenantCache
            ? tenantCache.GetOrSetValueAsync(key, factory, Invoke<T>.Factory, options, cancellationToken)
            : ValueOf(cache.GetOrSetEntryAsync(key, factory, Invoke<T>.Factory, options, cancellationToken));
    }

    /// <summary>Cache-aside returning the value only; the factory gets <paramref name="state"/> (no closure to allocate).</summary>
    /// <typeparam name="TState">The factory's state.</typeparam>
    /// <typeparam name="T">The value type.</typeparam>
    /// <param name="cache">The cache.</param>
    /// <param name="key">The key.</param>
    /// <param name="state">Passed to <paramref name="factory"/>.</param>
    /// <param name="factory">Produces the value on a miss.</param>
    /// <param name="options">Entry settings.</param>
    /// <param name="cancellationToken">Cancels this caller's wait.</param>
    /// <returns>The value.</returns>
    [SuppressMessage("ApiDesign", "RS0026:Do not add multiple public overloads with optional parameters", Justification = "Both overloads are new and differ in arity, as HybridCache.GetOrCreateAsync's do; no shipped caller can bind to the other.")]
    public static ValueTask<T> GetOrSetAsync<TState, T>(
        this ITenantCache cache,
        string key,
        TState state,
        Func<TState, CancellationToken, ValueTask<T>> factory,
        CacheEntryOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(factory);
        return cache is TenantCache tenantCache
            ? tenantCache.GetOrSetValueAsync(key, state, factory, options, cancellationToken)
            : ValueOf(cache.GetOrSetEntryAsync(key, state, factory, options, cancellationToken));
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
        return cache is TenantCache tenantCache
            ? tenantCache.GetOrSetEntryAsync(key, factory, Invoke<T>.Factory, options, cancellationToken)
            : cache.GetOrSetEntryAsync(key, factory, Invoke<T>.Factory, options, cancellationToken);
    }

    private static class Invoke<T>
    {
        public static readonly Func<Func<CancellationToken, ValueTask<T>>, CancellationToken, ValueTask<T>> Factory = static (f, ct) => f(ct);
    }

    /// <summary>The value of a pending entry, without an async layer when it is already there.</summary>
    internal static ValueTask<T> ValueOf<T>(ValueTask<CacheResult<T>> pending)
    {
        if (pending.IsCompletedSuccessfully)
        {
            return new ValueTask<T>(pending.Result.Value);
        }

        return Await(pending);

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
        static async ValueTask<T> Await(ValueTask<CacheResult<T>> task) => (await task.ConfigureAwait(false)).Value;
    }
}
