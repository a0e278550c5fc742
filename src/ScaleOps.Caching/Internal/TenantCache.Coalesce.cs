using System;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Caching.Internal.L1;

namespace ScaleOps.Caching.Internal;

/// <summary>Misses coalesced per key in this process: one flight per key, joined by every concurrent caller.</summary>
internal sealed partial class TenantCache
{
    private async Task<CacheResult<T>> CoalesceAsync<TState, T>(
        TenantBucket bucket,
        string key,
        TState state,
        Func<TState, CancellationToken, ValueTask<T>> factory,
        CacheEntryOptions? options,
        L1Entry<T>? stale,
        PreRead<T>? preRead,
        CancellationToken cancellationToken)
    {
        try
        {
            return await CoalescePinnedAsync(bucket, key, state, factory, options, stale, preRead, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            bucket.Unpin(); // pinned by the caller
        }
    }

    private async Task<CacheResult<T>> CoalescePinnedAsync<TState, T>(
        TenantBucket bucket,
        string key,
        TState state,
        Func<TState, CancellationToken, ValueTask<T>> factory,
        CacheEntryOptions? options,
        L1Entry<T>? stale,
        PreRead<T>? preRead,
        CancellationToken cancellationToken)
    {
        var settings = EntrySettings.Resolve(options, _options, _validateTag);
        var flights = bucket.Flights;
        TaskCompletionSource<CacheResult<T>>? mine = null;
        while (true)
        {
            // Cancelled during the Redis read, or while following a load its leader's cancellation ended: start none.
            cancellationToken.ThrowIfCancellationRequested();
            if (flights.TryGetValue(key, out var running))
            {
                if (running is TaskCompletionSource<CacheResult<T>> joined)
                {
                    if (joined.Task.Exception?.InnerException is LeaderCancelledException)
                    {
                        // Its leader's cancellation ended it (it is being removed): load again in its place.
                        mine ??= new TaskCompletionSource<CacheResult<T>>(TaskCreationOptions.RunContinuationsAsynchronously);
                        if (flights.TryUpdate(key, mine, joined))
                        {
                            break;
                        }

                        continue;
                    }

                    ThrowIfLoadingHere(bucket, key);
                    _metrics.StampedeWait("process");
                    try
                    {
                        return await joined.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (LeaderCancelledException)
                    {
                        continue;
                    }
                }

                if (running is EagerRefresh)
                {
                    // An eager refresh runs in the background and no caller waits for it: a miss (a memory copy gone
                    // meanwhile, an invalidation) loads as usual in its place, reading Redis first.
                    mine ??= new TaskCompletionSource<CacheResult<T>>(TaskCreationOptions.RunContinuationsAsynchronously);
                    if (flights.TryUpdate(key, mine, running))
                    {
                        break;
                    }

                    continue;
                }

                if (running is not BackgroundLoad<T> background)
                {
                    // The same key is being loaded as another type: load without coalescing (unless this is that load's
                    // own factory reading its key: it would load the key again inside itself).
                    ThrowIfLoadingHere(bucket, key);
                    return await LoadAsync(bucket, key, state, factory, settings, stale, null, null, cancellationToken).ConfigureAwait(false);
                }

                // A factory that timed out still runs: its stale value answers, without a second run or another wait,
                // until it completes, unless that value was invalidated meanwhile (then a new load takes over).
                if (background.CanServe(bucket, key, NowMs()))
                {
                    _metrics.Fallback("factory_timeout");
                    _metrics.StaleHit();
                    return new CacheResult<T>(background.Stale.Value, CacheSource.Stale);
                }

                mine ??= new TaskCompletionSource<CacheResult<T>>(TaskCreationOptions.RunContinuationsAsynchronously);
                if (flights.TryUpdate(key, mine, background))
                {
                    break;
                }

                continue;
            }

            mine ??= new TaskCompletionSource<CacheResult<T>>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (flights.TryAdd(key, mine))
            {
                break;
            }
        }

        // The leader awaits the load itself (one continuation fewer than waiting on the flight); the load keeps running
        // for the followers if the leader stops waiting.
        var load = RunFlightAsync(mine, bucket, key, state, factory, settings, stale, preRead, cancellationToken);
        return cancellationToken.CanBeCanceled
            ? await load.WaitAsync(cancellationToken).ConfigureAwait(false)
            : await load.ConfigureAwait(false);
    }

    /// <summary>
    /// Marks a key whose factory timed out and still runs in the background (in place of the finished flight): callers
    /// get <see cref="Stale"/> while it may still serve, and no second factory run starts.
    /// </summary>
    private sealed class BackgroundLoad<T>(L1Entry<T> stale, bool staleInMemory, KeyEpoch epoch)
    {
        public L1Entry<T> Stale { get; } = stale;

        /// <summary>Whether the stale value may still serve: within its fail-safe window and not invalidated since.</summary>
        public bool CanServe(TenantBucket bucket, string key, long now) =>
            now < Stale.KeepUntil && StillValid(bucket, key, Stale, staleInMemory, epoch);
    }
}
