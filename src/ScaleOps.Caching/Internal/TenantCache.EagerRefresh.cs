using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Caching.Internal.L1;

namespace ScaleOps.Caching.Internal;

/// <summary>
/// Eager refresh (<see cref="CachingOptions.EagerRefreshThreshold"/>): a cache-aside hit on a value near the end of its
/// freshness returns it at once and starts one background load of the key, so callers of a hot key never wait for the
/// factory at expiry.
/// </summary>
internal sealed partial class TenantCache
{
    /// <summary>
    /// Keys whose last eager refresh failed, with the memory-clock time before which none starts again
    /// (<see cref="CachingOptions.FailSafeThrottle"/>). Written only on a failure; read only by hits that are due.
    /// </summary>
    private readonly ConcurrentDictionary<(string Tenant, string Key), long> _refreshThrottle = new(concurrencyLevel: 1, capacity: 1, comparer: null);

    /// <summary>
    /// Called by a hit (from memory or the direct Redis read) when the call has a threshold: starts a background refresh
    /// when less than (1 - threshold) x the call's expiration of the value's freshness remains, none of the key runs in
    /// this process (nothing is allocated when one does), and the key's last refresh did not fail within the throttle.
    /// <c>remainingMs</c> is how long the value stays fresh: its Redis fresh-until, not its memory lifetime.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RefreshIfDue<TState, T>(
        TenantBucket bucket,
        string key,
        TState state,
        Func<TState, CancellationToken, ValueTask<T>> factory,
        CacheEntryOptions? options,
        double threshold,
        long remainingMs)
    {
        if (!(threshold > 0 && threshold < 1))
        {
            // Only a call's own value can be out of range here (the default is validated at start).
            throw new ArgumentOutOfRangeException("options", threshold, EntrySettings.EagerRefreshThresholdRange);
        }

        var expiration = options?.Expiration ?? _options.DefaultExpiration;
        if (remainingMs > (long)((1 - threshold) * expiration.TotalMilliseconds) || bucket.Flights.ContainsKey(key) || IsRefreshThrottled(bucket, key))
        {
            return;
        }

        if (!bucket.TryPin())
        {
            return; // the sweep forgot the bucket meanwhile: the next hit refreshes in the tenant's new one
        }

        var marker = new EagerRefresh();
        if (!bucket.Flights.TryAdd(key, marker))
        {
            bucket.Unpin(); // a load or a refresh of the key started meanwhile
            return;
        }

        StartRefresh(bucket, key, state, factory, options, threshold, marker);
    }

    /// <summary>
    /// Queues the refresh on the thread pool: the caller has its value and does not run the factory. The execution
    /// context flows (the factory sees the ambient tenant, as in a foreground load); the caller's cancellation token does
    /// not. (A method of its own: the lambda's closure would otherwise be allocated on every call of the check above.)
    /// </summary>
    private void StartRefresh<TState, T>(
        TenantBucket bucket,
        string key,
        TState state,
        Func<TState, CancellationToken, ValueTask<T>> factory,
        CacheEntryOptions? options,
        double threshold,
        EagerRefresh marker) =>
        _ = Task.Run(() => RefreshAsync(bucket, key, state, factory, options, threshold, marker));

    /// <summary>
    /// The background refresh: a load of the key as on a miss (the cross-instance lock when the call has distributed
    /// stampede protection, the store in memory and Redis, the backplane message, the epoch that an invalidation moves
    /// to void its result), except that Redis's copy counts only if another instance refreshed it already, and nothing
    /// stale serves: a failure keeps the current value and throttles the next refresh of the key. It never throws.
    /// </summary>
    private async Task RefreshAsync<TState, T>(
        TenantBucket bucket,
        string key,
        TState state,
        Func<TState, CancellationToken, ValueTask<T>> factory,
        CacheEntryOptions? options,
        double threshold,
        EagerRefresh marker)
    {
        try
        {
            var settings = EntrySettings.Resolve(options, _options, _validateTag);
            var dueMs = Math.Max(1, (long)((1 - threshold) * settings.Expiration.TotalMilliseconds));
            await LoadAsync<TState, T>(bucket, key, state, factory, settings, null, null, null, CancellationToken.None, dueMs).ConfigureAwait(false);
            if (!_refreshThrottle.IsEmpty)
            {
                _refreshThrottle.TryRemove((bucket.Tenant, key), out _);
            }
        }
        catch (Exception ex) when (!_shutdown.IsCancellationRequested)
        {
            _refreshThrottle[(bucket.Tenant, key)] = NowMs() + Ms(_options.FailSafeThrottle);
            Log.EagerRefreshFailed(_logger, ex, key, bucket.Tenant, _options.FailSafeThrottle.TotalSeconds);
        }
        catch (Exception)
        {
            // The cache is shutting down: the factory was cancelled, nobody waits for the value.
        }
        finally
        {
            Interlocked.Increment(ref _flightsCompleted); // it may have stored: a pre-read miss reads Redis again
            bucket.Flights.TryRemove(new KeyValuePair<string, object>(key, marker));
            bucket.Unpin();
        }
    }

    private bool IsRefreshThrottled(TenantBucket bucket, string key)
    {
        if (!_refreshThrottle.TryGetValue((bucket.Tenant, key), out var until))
        {
            return false;
        }

        if (NowMs() < until)
        {
            return true;
        }

        _refreshThrottle.TryRemove(new KeyValuePair<(string, string), long>((bucket.Tenant, key), until));
        return false;
    }

    /// <summary>Drops the throttles that ran out (the sweep), so keys never hit again leave nothing behind.</summary>
    private void ForgetRefreshThrottles(long now)
    {
        foreach (var throttle in _refreshThrottle)
        {
            if (throttle.Value <= now)
            {
                _refreshThrottle.TryRemove(throttle);
            }
        }
    }

    /// <summary>Marks a key whose eager refresh runs (in <see cref="TenantBucket.Flights"/>): no second one starts.</summary>
    private sealed class EagerRefresh;
}
