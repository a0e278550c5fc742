using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Caching.Internal.Backplane;
using ScaleOps.Caching.Internal.L1;
using ScaleOps.Caching.Internal.L2;
using ScaleOps.Internal;
using StackExchange.Redis;

namespace ScaleOps.Caching.Internal;

/// <summary>
/// Invalidation: one key, a tag, a whole tenant (a generation bump, O(1)); the pub/sub backplane that carries them to
/// the other instances; and the outage rules: invalidations made while Redis is down are queued and replayed when it
/// returns, and every instance clears its memory level on reconnect, since it may have missed messages.
/// </summary>
internal sealed partial class TenantCache
{
    private const int MaxPending = 10_000;
    private readonly ConcurrentQueue<BackplaneMessage> _pending = new();
    private readonly ConcurrentDictionary<string, byte> _pendingTenants = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _replayGate = new(1, 1);
    private int _pendingCount;

    private int _pendingTenantCount;

    private int PendingCount => Volatile.Read(ref _pendingCount) + Volatile.Read(ref _pendingTenantCount);

    /// <summary>Held by the caller replaying the queue (tests hold it to play "another caller is replaying").</summary>
    internal SemaphoreSlim ReplayGate => _replayGate;

    // The token is checked before the invalidation starts, never after: one half done (memory, not Redis) would leave the
    // old value to be read again.
    public async ValueTask RemoveAsync(string key, CancellationToken cancellationToken = default)
    {
        ValidateKey(key, nameof(key));
        cancellationToken.ThrowIfCancellationRequested();
        var bucket = _memory.Pin(_tenants.RequireTenant().Value);
        try
        {
            _memory.Remove(bucket, key);
            await InvalidateInRedisAsync(bucket, BackplaneMessage.Key, key).ConfigureAwait(false);
        }
        finally
        {
            bucket.Unpin();
        }
    }

    public async ValueTask RemoveByTagAsync(string tag, CancellationToken cancellationToken = default)
    {
        ValidateKey(tag, nameof(tag));
        cancellationToken.ThrowIfCancellationRequested();
        var bucket = _memory.Pin(_tenants.RequireTenant().Value);
        try
        {
            _memory.RemoveTagged(bucket, tag);
            await InvalidateInRedisAsync(bucket, BackplaneMessage.Tag, tag).ConfigureAwait(false);
        }
        finally
        {
            bucket.Unpin();
        }
    }

    public async ValueTask InvalidateTenantAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var bucket = _memory.Pin(_tenants.RequireTenant().Value);
        try
        {
            _memory.ClearBucket(bucket);
            await InvalidateInRedisAsync(bucket, BackplaneMessage.TenantGeneration, "").ConfigureAwait(false);
        }
        finally
        {
            bucket.Unpin();
        }
    }

    /// <summary>
    /// Sweeps expired memory entries, retries pending invalidations and measures Redis' clock again when due (the
    /// maintenance loop).
    /// </summary>
    /// <returns>A task.</returns>
    internal async Task MaintainAsync()
    {
        _memory.Sweep(NowMs());
        ForgetRefreshThrottles(NowMs());
        _clock.RefreshIfDue(); // in the background
        if (PendingCount > 0)
        {
            var db = await _redis.TryGetDatabaseAsync().ConfigureAwait(false);
            if (db is not null)
            {
                await ReplayPendingAsync(db).ConfigureAwait(false);
            }
        }
        else if (!_redis.IsAvailable)
        {
            // Memory hits never touch Redis, so a service that only hits would otherwise report Redis down (and keep
            // serving from memory alone) until its next miss: probe once the breaker lets us.
            await ProbeRedisAsync().ConfigureAwait(false);
        }
    }

    private async Task ProbeRedisAsync()
    {
        var db = await _redis.TryGetDatabaseAsync().ConfigureAwait(false);
        if (db is null)
        {
            return;
        }

        try
        {
            await db.PingAsync().ConfigureAwait(false);
            _redis.ReportSuccess();
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            _redis.ReportFailure(ex.Message);
        }
    }

    private async Task InvalidateInRedisAsync(TenantBucket bucket, char kind, string subject)
    {
        var db = await _redis.TryGetDatabaseAsync().ConfigureAwait(false);
        if (db is not null)
        {
            await ReplayPendingAsync(db).ConfigureAwait(false);
        }

        if (db is null || !await TryInvalidateAsync(db, bucket, kind, subject).ConfigureAwait(false))
        {
            _metrics.Fallback("redis_unavailable");
            Enqueue(bucket, kind, subject);
        }
    }

    private async Task<bool> TryInvalidatePinnedAsync(IDatabase db, string tenant, char kind, string subject)
    {
        var bucket = _memory.Pin(tenant);
        try
        {
            return await TryInvalidateAsync(db, bucket, kind, subject).ConfigureAwait(false);
        }
        finally
        {
            bucket.Unpin();
        }
    }

    private async Task<bool> TryInvalidateAsync(IDatabase db, TenantBucket bucket, char kind, string subject)
    {
        try
        {
            long generation;
            if (kind == BackplaneMessage.TenantGeneration)
            {
                try
                {
                    generation = (long)await db.ScriptEvaluateAsync(LuaScripts.Generation, [RedisKeys.Generation(bucket.RedisPrefix)], AdvanceGenerationArgs).ConfigureAwait(false);
                }
                catch (Exception ex) when (RedisErrorReplies.IsAboutTheCommand(ex))
                {
                    // The generation key holds no number (another application's value): the tenant skips Redis.
                    OnErrorReply(ex, bucket, "(the tenant's generation)");
                    return PublishWithoutRedis(db, bucket, kind, subject);
                }

                _memory.AdvanceGeneration(bucket, generation);
            }
            else
            {
                generation = await ReadGenerationAsync(db, bucket).ConfigureAwait(false);
                if (generation == TenantBucket.UnknownGeneration)
                {
                    return false;
                }

                if (generation == RefusedGeneration)
                {
                    return PublishWithoutRedis(db, bucket, kind, subject);
                }

                // Then drop this instance's copy again (and bump the epoch): a read between the memory removal and the
                // deletion (or, for a replay, between the outage and now) may have stored the old value, and this
                // instance ignores its own backplane message.
                if (kind == BackplaneMessage.Key)
                {
                    await db.KeyDeleteAsync(RedisKeys.Value(bucket.RedisPrefix, generation, subject)).ConfigureAwait(false);
                    _memory.Remove(bucket, subject);
                }
                else
                {
                    OnTagUsed();
                    await db.ScriptEvaluateAsync(
                        LuaScripts.RemoveByTag,
                        [RedisKeys.Tag(bucket.RedisPrefix, generation, subject), RedisKeys.LegacyTag(bucket.RedisPrefix, generation, subject)]).ConfigureAwait(false);
                    _memory.RemoveTagged(bucket, subject);
                }
            }

            Publish(db, new BackplaneMessage(_instance, kind, generation, bucket.Tenant, subject));
            _redis.ReportSuccess();
            return true;
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            _redis.ReportFailure(ex.Message);
            return false;
        }
        catch (Exception ex) when (RedisErrorReplies.IsAboutTheCommand(ex))
        {
            // Not an outage, and replaying it would only fail again (holding every read off Redis meanwhile): the
            // invalidation fails, naming what it could not remove.
            var what = kind switch
            {
                BackplaneMessage.Key => $"key '{Shorten(subject)}'",
                BackplaneMessage.Tag => $"tag '{Shorten(subject)}'",
                _ => "every entry",
            };
            throw new InvalidOperationException(
                $"Redis refused the removal of cache {what} of tenant {bucket.Tenant}: {ex.Message} "
                + $"(another application may have written a key of its own under the cache's prefix '{_options.KeyPrefix}').", ex);
        }
    }

    /// <summary>
    /// An invalidation in a tenant whose generation key holds no number: the tenant skips Redis (no instance reads its
    /// values there), so only the other instances' memory copies are to drop. Queued, it would fail at every replay, and
    /// while queued keep every tenant's reads off Redis.
    /// </summary>
    /// <returns><see langword="true"/>: done, not to be queued.</returns>
    private bool PublishWithoutRedis(IDatabase db, TenantBucket bucket, char kind, string subject)
    {
        Publish(db, new BackplaneMessage(_instance, kind, TenantBucket.UnknownGeneration, bucket.Tenant, subject));
        return true;
    }

    private void Enqueue(TenantBucket bucket, char kind, string subject)
    {
        if (kind == BackplaneMessage.TenantGeneration || Volatile.Read(ref _pendingCount) >= MaxPending)
        {
            // A tenant-wide invalidation covers everything else of the tenant; it also bounds the queue.
            if (_pendingTenants.TryAdd(bucket.Tenant, 0))
            {
                Interlocked.Increment(ref _pendingTenantCount);
            }

            return;
        }

        _pending.Enqueue(new BackplaneMessage(_instance, kind, 0, bucket.Tenant, subject));
        Interlocked.Increment(ref _pendingCount);
    }

    /// <summary>
    /// Sends the invalidations queued while Redis was unavailable, oldest first. Returns at once while another caller
    /// replays: readers then see <see cref="PendingCount"/> above zero and leave Redis alone until the queue is empty.
    /// </summary>
    private async Task ReplayPendingAsync(IDatabase db)
    {
        if (PendingCount == 0 || !await _replayGate.WaitAsync(0).ConfigureAwait(false))
        {
            return;
        }

        var replayed = 0;
        try
        {
            foreach (var tenant in _pendingTenants.Keys)
            {
                if (!await TryReplayAsync(db, tenant, BackplaneMessage.TenantGeneration, "").ConfigureAwait(false))
                {
                    return;
                }

                if (_pendingTenants.TryRemove(tenant, out _))
                {
                    Interlocked.Decrement(ref _pendingTenantCount);
                }

                replayed++;
            }

            while (_pending.TryPeek(out var message))
            {
                if (!await TryReplayAsync(db, message.Tenant, message.Kind, message.Subject).ConfigureAwait(false))
                {
                    return;
                }

                _pending.TryDequeue(out _);
                Interlocked.Decrement(ref _pendingCount);
                replayed++;
            }
        }
        finally
        {
            _replayGate.Release();
            if (replayed > 0)
            {
                Log.InvalidationsReplayed(_logger, replayed);
            }
        }
    }

    /// <summary>
    /// Replays one queued invalidation: <see langword="false"/> when Redis failed (the queue waits). One Redis refuses
    /// for its key (an error reply, which would fail on every retry) is logged and dropped, not retried for good.
    /// </summary>
    private async Task<bool> TryReplayAsync(IDatabase db, string tenant, char kind, string subject)
    {
        try
        {
            return await TryInvalidatePinnedAsync(db, tenant, kind, subject).ConfigureAwait(false);
        }
        catch (InvalidOperationException ex) when (ex.InnerException is RedisServerException)
        {
            Log.RedisErrorReply(_logger, ex, subject, tenant);
            return true;
        }
    }

    private void OnRedisRestored(string trigger)
    {
        // Messages may have been missed while disconnected, and entries written to memory only: start over from Redis.
        _memory.ClearAll();
        WakeMaintenance();
    }

    private void WakeMaintenance()
    {
        if (Wake.CurrentCount == 0)
        {
            try
            {
                Wake.Release();
            }
            catch (ObjectDisposedException)
            {
                // Shutting down.
            }
        }
    }
}
