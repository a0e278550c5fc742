using System;
using System.Globalization;
using System.Threading.Tasks;
using ScaleOps.Caching.Internal.Backplane;
using ScaleOps.Caching.Internal.L1;
using ScaleOps.Caching.Internal.L2;
using StackExchange.Redis;

namespace ScaleOps.Caching.Internal;

/// <summary>Redis (L2) access: one GET per hit, one SET (or one script with tags) per write.</summary>
internal sealed partial class TenantCache
{
    private readonly record struct RedisRead<T>(L1Entry<T>? Entry, bool Fresh, bool Failed);

    private async ValueTask<CacheResult<T>> TryGetFromRedisAsync<T>(TenantBucket bucket, string key)
    {
        var db = await _redis.TryGetDatabaseAsync().ConfigureAwait(false);
        if (db is null)
        {
            _metrics.Fallback("redis_unavailable");
            return default;
        }

        var generation = await EnsureGenerationAsync(db, bucket).ConfigureAwait(false);
        if (generation == TenantBucket.UnknownGeneration)
        {
            return default;
        }

        var settings = EntrySettings.Resolve(null, _options, _validateTag);
        var read = await ReadAsync<T>(db, bucket, generation, key, settings, bucket.Epoch).ConfigureAwait(false);
        if (read.Fresh)
        {
            _metrics.RedisHit();
            return new CacheResult<T>(read.Entry!.Value, CacheSource.Redis);
        }

        _metrics.RedisMiss();
        return default;
    }

    /// <summary>The tenant's generation, read from Redis once per connection epoch.</summary>
    /// <returns>The generation, or <see cref="TenantBucket.UnknownGeneration"/> when Redis failed.</returns>
    private async ValueTask<long> EnsureGenerationAsync(IDatabase db, TenantBucket bucket)
    {
        var known = bucket.Generation;
        if (known != TenantBucket.UnknownGeneration)
        {
            return known;
        }

        try
        {
            var value = await db.StringGetAsync(RedisKeys.Generation(bucket.RedisPrefix)).ConfigureAwait(false);
            _redis.ReportSuccess();
            var generation = value.IsNull ? 0 : long.Parse(value.ToString(), NumberStyles.None, CultureInfo.InvariantCulture);
            _memory.AdvanceGeneration(bucket, generation);
            return bucket.Generation;
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            _redis.ReportFailure(ex.Message);
            _metrics.Fallback("redis_error");
            return TenantBucket.UnknownGeneration;
        }
    }

    private async Task<RedisRead<T>> ReadAsync<T>(IDatabase db, TenantBucket bucket, long generation, string key, EntrySettings settings, long epoch)
    {
        RedisValue stored;
        try
        {
            stored = await db.StringGetAsync(RedisKeys.Value(bucket.RedisPrefix, generation, key)).ConfigureAwait(false);
            _redis.ReportSuccess();
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            _redis.ReportFailure(ex.Message);
            _metrics.Fallback("redis_error");
            return new RedisRead<T>(null, false, true);
        }

        // A generation that moved meanwhile (a tenant invalidation, or Redis coming back) makes this read void.
        if (stored.IsNull || bucket.Generation != generation)
        {
            return default;
        }

        ReadOnlyMemory<byte> bytes = stored;
        if (!Payload.TryRead(bytes.Span, out var isNull, out var freshUntilMs, out var tags, out var body))
        {
            Log.UnreadablePayload(_logger, null, key, bucket.Tenant, typeof(T).Name);
            return default;
        }

        T value;
        try
        {
            value = isNull ? default! : _serializer.Deserialize<T>(body);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.UnreadablePayload(_logger, ex, key, bucket.Tenant, typeof(T).Name);
            return default;
        }

        var remainingMs = freshUntilMs - _time.GetUtcNow().ToUnixTimeMilliseconds();
        var now = NowMs();
        var keepMs = isNull ? 0 : (long)settings.FailSafeMaxDuration.TotalMilliseconds;
        if (remainingMs + keepMs <= 0)
        {
            return default;
        }

        var localMs = settings.LocalExpiration is { } local ? Math.Min(remainingMs, (long)local.TotalMilliseconds) : remainingMs;
        var entry = new L1Entry<T>(value, now + Math.Max(0, localMs), now + remainingMs + keepMs, tags);
        var fresh = remainingMs > 0;
        if (fresh && localMs > 0)
        {
            _memory.Store(bucket, key, entry, epoch);
        }

        return new RedisRead<T>(entry, fresh, false);
    }

    private async Task WriteAsync(IDatabase db, TenantBucket bucket, long generation, string key, ReadOnlyMemory<byte> payload, TimeSpan ttl, string[]? tags)
    {
        var valueKey = RedisKeys.Value(bucket.RedisPrefix, generation, key);
        try
        {
            if (tags is null)
            {
                await db.StringSetAsync(valueKey, payload, ttl).ConfigureAwait(false);
            }
            else
            {
                var keys = new RedisKey[tags.Length + 1];
                keys[0] = valueKey;
                for (var i = 0; i < tags.Length; i++)
                {
                    keys[i + 1] = RedisKeys.Tag(bucket.RedisPrefix, generation, tags[i]);
                }

                await db.ScriptEvaluateAsync(LuaScripts.SetTagged, keys, [payload, (long)Math.Ceiling(ttl.TotalMilliseconds)]).ConfigureAwait(false);
            }

            Publish(db, new BackplaneMessage(_instance, BackplaneMessage.Key, generation, bucket.Tenant, key));
            _redis.ReportSuccess();
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            _redis.ReportFailure(ex.Message);
            _metrics.Fallback("redis_error");
        }
    }

    private static bool IsRedisFailure(Exception ex) => ex is RedisException or TimeoutException or ObjectDisposedException;
}
