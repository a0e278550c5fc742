using System;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Caching.Internal.Backplane;
using ScaleOps.Caching.Internal.L1;
using StackExchange.Redis;

namespace ScaleOps.Caching.Internal;

/// <summary>
/// The pub/sub backplane: every invalidation (and every write, which invalidates its key elsewhere) is published on
/// <c>{prefix}:backplane</c>; the other instances drop their memory copies and wake their lock waiters.
/// </summary>
internal sealed partial class TenantCache
{
    private void Publish(IDatabase db, BackplaneMessage message) =>
        db.Multiplexer.GetSubscriber().Publish(RedisChannel.Literal(_channel), message.Format(), CommandFlags.FireAndForget);

    // Fire-and-forget: the client keeps the subscription and renews it on every reconnect, so a slow or absent Redis
    // at start-up never blocks or fails the connection.
    private void SubscribeBackplane(ConnectionMultiplexer multiplexer) =>
        multiplexer.GetSubscriber().Subscribe(RedisChannel.Literal(_channel), (_, value) => OnBackplaneMessage(value), CommandFlags.FireAndForget);

    private long _backplaneMessagesApplied;

    /// <summary>How many other instances' invalidations this instance has applied (tests wait on it).</summary>
    internal long BackplaneMessagesApplied => Interlocked.Read(ref _backplaneMessagesApplied);

    private void OnBackplaneMessage(RedisValue value)
    {
        if (!BackplaneMessage.TryParse(value, out var message))
        {
            Log.InvalidBackplaneMessage(_logger);
            return;
        }

        if (string.Equals(message.Instance, _instance, StringComparison.Ordinal))
        {
            return;
        }

        var bucket = _memory.Find(message.Tenant);
        if (bucket is not null && message.Kind != BackplaneMessage.TenantGeneration)
        {
            // Every message carries the sender's generation of the tenant. A newer one than this instance knows means it
            // missed a tenant invalidation (pub/sub is at-most-once): without catching up it would keep reading and
            // writing the old generation's keys, where this and every later removal or write of the others never lands.
            var known = bucket.Generation;
            if (known != TenantBucket.UnknownGeneration && message.Generation > known)
            {
                _memory.AdvanceGeneration(bucket, message.Generation);
            }
            else if (known != TenantBucket.UnknownGeneration && message.Generation != TenantBucket.UnknownGeneration && message.Generation < known)
            {
                // An older one: the sender is behind (it missed a tenant invalidation, or the generation key was evicted or
                // deleted and a new epoch began). Its removal or write landed under its old generation, where this
                // instance no longer reads, so the value here may be stale: removed again under the newer generation, and
                // published with it, which also brings the sender up to date.
                _ = RepeatForBehindSenderAsync(message);
            }
        }

        switch (message.Kind)
        {
            case BackplaneMessage.Key:
                if (bucket is not null)
                {
                    _memory.Remove(bucket, message.Subject);
                }

                SignalLockWaiters(message.Tenant, message.Subject);
                break;
            case BackplaneMessage.Tag when bucket is not null:
                _memory.RemoveTagged(bucket, message.Subject);
                break;
            case BackplaneMessage.TenantGeneration when bucket is not null:
                // The generation first: a reader that finds the memory cleared then also reads Redis under the new one.
                _memory.AdvanceGeneration(bucket, message.Generation);
                _memory.ClearBucket(bucket);
                break;
            default:
                break;
        }

        Interlocked.Increment(ref _backplaneMessagesApplied);
    }

    private async Task RepeatForBehindSenderAsync(BackplaneMessage message)
    {
        await Task.Yield(); // off the subscription's thread: it delivers every other message
        var bucket = _memory.Pin(message.Tenant);
        try
        {
            Log.BehindSenderRepeated(_logger, message.Instance, message.Generation, bucket.Generation, message.Tenant);
            await InvalidateInRedisAsync(bucket, message.Kind, message.Subject).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or RedisException or TimeoutException)
        {
            Log.BehindSenderRepeatFailed(_logger, ex, message.Tenant);
        }
        finally
        {
            bucket.Unpin();
        }
    }
}
