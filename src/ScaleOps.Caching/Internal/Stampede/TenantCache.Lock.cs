using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Caching.Internal.L1;
using ScaleOps.Caching.Internal.L2;
using ScaleOps.Internal;
using StackExchange.Redis;

namespace ScaleOps.Caching.Internal;

/// <summary>
/// Cross-instance stampede protection: the first instance to miss takes a short Redis lock (SET NX PX) and runs the
/// factory; the others wait for its value, woken by the backplane message that its write sends (and a slow poll, in
/// case a message is lost), and run the factory themselves only if nothing arrives within
/// <see cref="CachingOptions.DistributedLockWait"/>.
/// </summary>
internal sealed partial class TenantCache
{
    private static readonly TimeSpan LockPoll = TimeSpan.FromMilliseconds(100);
    private readonly ConcurrentDictionary<(string Tenant, string Key), TaskCompletionSource> _lockWaiters = new();

    /// <summary>
    /// The locks this instance holds, by token, so that its disposal releases them (<see cref="ReleaseHeldLocksAsync"/>):
    /// the factories it cancels end after Redis is gone, and their own release failed, leaving each lock to its lease
    /// while other instances waited for it.
    /// </summary>
    private readonly ConcurrentDictionary<string, (IDatabase Db, RedisKey Key)> _heldLocks = new();
    private long _lockCounter;

    private readonly record struct Coordination<T>(CacheResult<T>? Value, string? LockToken);

    private async Task<Coordination<T>> CoordinateAsync<T>(
        IDatabase db, TenantBucket bucket, long generation, string key, EntrySettings settings, KeyEpoch epoch, long dueMs = 0)
    {
        var lockKey = RedisKeys.Lock(bucket.RedisPrefix, generation, key);
        var token = string.Concat(_instance, ":", Interlocked.Increment(ref _lockCounter).ToString(CultureInfo.InvariantCulture));
        var waiterKey = (bucket.Tenant, key);
        var deadline = _time.GetTimestamp() + Ticks(_options.DistributedLockWait);
        var counted = false;
        TaskCompletionSource? signal = null;
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                // The caller has just missed in Redis; after a wait, look for the holder's value before competing again.
                if (attempt > 0)
                {
                    var (found, failed) = await ReadFreshAsync<T>(db, bucket, generation, key, settings, epoch, dueMs).ConfigureAwait(false);
                    if (found is not null || failed)
                    {
                        return new Coordination<T>(found, null); // failed: reported by the read (an outage, or an error about this key)
                    }
                }

                if (await db.StringSetAsync(lockKey, token, _options.DistributedLockLease, When.NotExists).ConfigureAwait(false))
                {
                    _redis.ReportSuccess();
                    _heldLocks[token] = (db, lockKey);

                    // The holder may have written its value and released the lock between the read and the SET.
                    if (attempt > 0 && (await ReadFreshAsync<T>(db, bucket, generation, key, settings, epoch, dueMs).ConfigureAwait(false)).Found is { } late)
                    {
                        await ReleaseLockAsync(db, bucket, generation, key, token).ConfigureAwait(false);
                        return new Coordination<T>(late, null);
                    }

                    return new Coordination<T>(null, token);
                }

                if (!counted)
                {
                    _metrics.StampedeWait("cluster");
                    counted = true;
                }

                var left = deadline - _time.GetTimestamp();
                if (left <= 0)
                {
                    return default;
                }

                // Registered only now that another instance holds the lock (the holder never waits, so nothing is kept
                // for it), and removed when this wait ends (finally). A message the holder sent between the SET and this
                // registration is missed; the poll below covers it.
                signal = _lockWaiters.GetOrAdd(waiterKey, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

                var wait = TimeSpan.FromSeconds(Math.Min(left, Ticks(LockPoll)) / (double)_time.TimestampFrequency);
                using var cancel = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
                await Task.WhenAny(signal.Task, Task.Delay(wait, _time, cancel.Token)).ConfigureAwait(false);
                await cancel.CancelAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            _heldLocks.TryRemove(token, out _); // if taken, left to its lease
            _redis.ReportFailure(ex.Message);
            return default;
        }
        catch (Exception ex) when (RedisErrorReplies.IsAboutTheCommand(ex))
        {
            _heldLocks.TryRemove(token, out _);
            OnErrorReply(ex, bucket, key);
            return default;
        }
        finally
        {
            if (signal is not null)
            {
                // Only the entry this wait registered (or shared): one registered since by another waiter stays.
                _lockWaiters.TryRemove(new KeyValuePair<(string Tenant, string Key), TaskCompletionSource>(waiterKey, signal));
            }
        }
    }

    /// <summary>Waits registered for another instance's lock (tests check that none is left behind).</summary>
    internal int LockWaiterCount => _lockWaiters.Count;

    /// <summary>The holder's value if Redis has it now; <c>Failed</c> when the read failed (the read reported why).</summary>
    private async Task<(CacheResult<T>? Found, bool Failed)> ReadFreshAsync<T>(
        IDatabase db, TenantBucket bucket, long generation, string key, EntrySettings settings, KeyEpoch epoch, long dueMs)
    {
        var read = await ReadAsync<T>(db, bucket, generation, key, settings.LocalExpiration, KeepMs(settings), epoch, dueMs).ConfigureAwait(false);
        if (read.Failed || !read.Fresh)
        {
            return (null, read.Failed);
        }

        if (dueMs == 0)
        {
            _metrics.RedisHit(); // an eager refresh's read is not a caller's hit
        }

        return (new CacheResult<T>(read.Value, CacheSource.Redis), false);
    }

    private async Task ReleaseLockAsync(IDatabase db, TenantBucket bucket, long generation, string key, string token)
    {
        if (!_heldLocks.TryRemove(token, out _))
        {
            return; // released by the disposal
        }

        try
        {
            await db.ScriptEvaluateAsync(LuaScripts.ReleaseLock, [RedisKeys.Lock(bucket.RedisPrefix, generation, key)], [token]).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            // The lease expires by itself.
            _redis.ReportFailure(ex.Message);
        }
        catch (Exception ex) when (RedisErrorReplies.IsAboutTheCommand(ex))
        {
            OnErrorReply(ex, bucket, key); // the lease expires by itself
        }
    }

    /// <summary>Releases every lock this instance still holds (its disposal, after cancelling the factories).</summary>
    private async Task ReleaseHeldLocksAsync()
    {
        foreach (var token in _heldLocks.Keys)
        {
            if (!_heldLocks.TryRemove(token, out var held))
            {
                continue;
            }

            try
            {
                await held.Db.ScriptEvaluateAsync(LuaScripts.ReleaseLock, [held.Key], [token]).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsRedisFailure(ex) || RedisErrorReplies.IsAboutTheCommand(ex))
            {
                // The lease expires by itself.
            }
        }
    }

    private void SignalLockWaiters(string tenant, string key)
    {
        if (_lockWaiters.TryRemove((tenant, key), out var waiter))
        {
            waiter.TrySetResult();
        }
    }
}
