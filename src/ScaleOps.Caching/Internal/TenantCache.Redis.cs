using System;
using System.Globalization;
using System.IO;
using System.Runtime.CompilerServices;
using System.Threading.Tasks;
using ScaleOps.Caching.Internal.Backplane;
using ScaleOps.Caching.Internal.L1;
using ScaleOps.Caching.Internal.L2;
using ScaleOps.Internal;
using StackExchange.Redis;

namespace ScaleOps.Caching.Internal;

/// <summary>
/// Redis (L2) access: one GET per hit, one SET (or one script with tags) per write. The hit path
/// (<c>TenantCache.RedisHit.cs</c>) is one reusable object called back by the GET: the key is the tenant's cached prefix
/// bytes plus the caller's key (no string built), the value is decoded in place from the client's reply (no copy), and
/// no stampede bookkeeping is done unless Redis misses. (The client's leased-buffer read saves the reply's array but
/// measured about 3% slower here.)
/// </summary>
internal sealed partial class TenantCache
{
    private const int ReadSlotCount = 1024;

    /// <summary>Direct Redis reads in progress per slot (hash of tenant and key); see <see cref="ReadSlot"/>.</summary>
    private readonly int[] _readSlots = new int[ReadSlotCount];

    /// <summary>Flights finished since start: tells a leader whether a pre-read miss may be out of date.</summary>
    private long _flightsCompleted;

    /// <summary>A Redis read. <see cref="Entry"/> is set when the value was stored in memory or may serve fail-safe.</summary>
    /// <remarks><c>RemainingMs</c>: how long the value stays fresh (eager refresh), <see cref="L1Entry.NoEagerRefresh"/> for a null.</remarks>
    private readonly record struct RedisRead<T>(T Value, L1Entry<T>? Entry, bool Fresh, bool Failed, long RemainingMs = 0);

    /// <summary>A Redis miss seen by the hit path before coalescing: the leader need not read again if nothing changed since.</summary>
    private readonly record struct PreRead<T>(RedisRead<T> Read, long Generation, long Epoch, long FlightsBefore);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<CacheResult<T>> TryGetFromRedisAsync<T>(TenantBucket bucket, string key)
    {
        try
        {
            return await TryGetFromRedisPinnedAsync<T>(bucket, key).ConfigureAwait(false);
        }
        finally
        {
            bucket.Unpin(); // pinned by the caller
        }
    }

    private async ValueTask<CacheResult<T>> TryGetFromRedisPinnedAsync<T>(TenantBucket bucket, string key)
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

        if (PendingCount > 0)
        {
            // A replayed tenant invalidation moves the generation: take it again.
            if (!await ReplayBeforeReadingAsync(db).ConfigureAwait(false)
                || (generation = await EnsureGenerationAsync(db, bucket).ConfigureAwait(false)) == TenantBucket.UnknownGeneration)
            {
                return default;
            }
        }

        var read = await ReadAsync<T>(db, bucket, generation, key, null, KeepMs(null), KeyEpoch.Of(bucket)).ConfigureAwait(false);
        if (read.Fresh)
        {
            _metrics.RedisHit();
            return new CacheResult<T>(read.Value, CacheSource.Redis);
        }

        _metrics.RedisMiss();
        return default;
    }

    /// <summary>
    /// Replays the invalidations queued during an outage before Redis is read: a value read from Redis while one is
    /// pending may be the very value it removes (and would be kept in memory, where the replay never looks).
    /// </summary>
    /// <returns>
    /// Whether Redis may be read: nothing is pending (any more). <see langword="false"/> while some remain (another caller
    /// is replaying them, or Redis failed again): the caller then works from memory alone.
    /// </returns>
    private async ValueTask<bool> ReplayBeforeReadingAsync(IDatabase db)
    {
        if (PendingCount == 0)
        {
            return true;
        }

        await ReplayPendingAsync(db).ConfigureAwait(false);
        return PendingCount == 0;
    }

    /// <summary>What <see cref="ReadGenerationAsync"/> gives when Redis answered but the generation key is unusable.</summary>
    private const long RefusedGeneration = -2;

    /// <summary>
    /// How long a tenant's generation key lives after its last read or advance (a process reads it once per tenant it
    /// serves, and again after a reconnect): a tenant unseen that long starts a new generation, its old values unread.
    /// </summary>
    internal static readonly TimeSpan GenerationKeyLifetime = TimeSpan.FromDays(30);

    private static readonly RedisValue[] ReadGenerationArgs = ["0", (long)GenerationKeyLifetime.TotalMilliseconds];

    private static readonly RedisValue[] AdvanceGenerationArgs = ["1", (long)GenerationKeyLifetime.TotalMilliseconds];

    /// <summary>
    /// The tenant's generation, read from Redis once per connection epoch. A missing generation key starts a new epoch at
    /// the server's clock (<c>Lua/generation.lua</c>), so a key evicted or deleted never brings back a retired generation.
    /// </summary>
    /// <returns>
    /// The generation, or <see cref="TenantBucket.UnknownGeneration"/> when Redis failed or its generation key holds no
    /// number (the tenant then skips Redis).
    /// </returns>
    private ValueTask<long> EnsureGenerationAsync(IDatabase db, TenantBucket bucket)
    {
        var known = bucket.Generation;
        if (known != TenantBucket.UnknownGeneration)
        {
            return new ValueTask<long>(known);
        }

        return Read(ReadGenerationAsync(db, bucket));

        static async ValueTask<long> Read(ValueTask<long> read)
        {
            var generation = await read.ConfigureAwait(false);
            return generation == RefusedGeneration ? TenantBucket.UnknownGeneration : generation;
        }
    }

    /// <summary>
    /// <see cref="EnsureGenerationAsync"/>, telling an outage (<see cref="TenantBucket.UnknownGeneration"/>, the breaker
    /// is open) from a generation key that Redis holds but that holds no number (<see cref="RefusedGeneration"/>).
    /// </summary>
    private async ValueTask<long> ReadGenerationAsync(IDatabase db, TenantBucket bucket)
    {
        var known = bucket.Generation;
        if (known != TenantBucket.UnknownGeneration)
        {
            return known;
        }

        try
        {
            var key = RedisKeys.Generation(bucket.RedisPrefix);
            var value = (RedisValue)await db.ScriptEvaluateAsync(LuaScripts.Generation, [key], ReadGenerationArgs).ConfigureAwait(false);
            _redis.ReportSuccess();
            if (!long.TryParse(value.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var generation))
            {
                // Not a number the cache wrote (another application's value at its key): this tenant skips Redis, as
                // after an error reply about one key, until the key is removed or holds a generation again.
                OnErrorReply(new InvalidDataException($"Redis key '{key}' holds {Quoted(value)}, not a tenant generation number; the tenant's "
                    + "calls skip Redis until it is deleted."), bucket, "(the tenant's generation)");
                return RefusedGeneration;
            }

            _memory.AdvanceGeneration(bucket, generation);
            return bucket.Generation;
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            OnRedisError(ex);
            return TenantBucket.UnknownGeneration;
        }
        catch (Exception ex) when (RedisErrorReplies.IsAboutTheCommand(ex))
        {
            OnErrorReply(ex, bucket, "(the tenant's generation)");
            return RefusedGeneration;
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<RedisRead<T>> ReadAsync<T>(
        IDatabase db, TenantBucket bucket, long generation, string key, TimeSpan? localExpiration, long keepMs, KeyEpoch epoch, long dueMs = 0)
    {
        RedisValue stored;
        try
        {
            stored = await db.StringGetAsync(bucket.ValueKey(generation, key)).ConfigureAwait(false);
            _redis.ReportSuccess();
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            OnRedisError(ex);
            return FailedRead<T>();
        }
        catch (Exception ex) when (RedisErrorReplies.IsAboutTheCommand(ex))
        {
            OnErrorReply(ex, bucket, key); // a miss of this call (no lock: the value written after the factory replaces the key)
            return FailedRead<T>();
        }

        return Decode<T>(stored, bucket, generation, key, localExpiration, keepMs, epoch, dueMs);
    }

    /// <summary>
    /// Decodes a stored value (header, tags, body) straight from the client's reply, and keeps it in memory when it is
    /// fresh and the entry allows a memory copy. An eager refresh passes <paramref name="dueMs"/>: a value with no more
    /// freshness left than that is due for refresh, so it does not count as fresh (another instance's refresh does).
    /// </summary>
    private RedisRead<T> Decode<T>(
        RedisValue stored, TenantBucket bucket, long generation, string key, TimeSpan? localExpiration, long keepMs, in KeyEpoch epoch, long dueMs = 0)
    {
        // A generation that moved meanwhile (a tenant invalidation, or Redis coming back) makes this read void.
        if (stored.IsNull || bucket.Generation != generation)
        {
            return default;
        }

        if (!Payload.TryRead(((ReadOnlyMemory<byte>)stored).Span, out var isNull, out var freshUntilMs, out var writerLocalMs, out var tags, out var body))
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

        var remainingMs = freshUntilMs - _clock.NowUnixMs(); // both on Redis' clock, whatever the writer's clock says
        if (isNull)
        {
            keepMs = 0;
        }

        if (remainingMs + keepMs <= 0)
        {
            return default;
        }

        var fresh = remainingMs > dueMs;
        var logicalMs = isNull ? L1Entry.NoEagerRefresh : remainingMs;
        var localMs = localExpiration is { } local ? Math.Min(remainingMs, (long)local.TotalMilliseconds) : remainingMs;
        if (writerLocalMs != Payload.NoLocalExpiration && writerLocalMs < localMs)
        {
            localMs = writerLocalMs; // the writer's memory lifetime, stored with the value, bounds every reader's
        }
        if (fresh && localMs <= 0)
        {
            // Fresh in Redis, not kept in memory: no entry needed.
            return new RedisRead<T>(value, null, true, false, logicalMs);
        }

        var now = NowMs();
        var entry = new L1Entry<T>(value, now + Math.Max(0, localMs), now + remainingMs + keepMs, tags, isNull ? L1Entry.NoEagerRefresh : now + remainingMs);
        if (fresh)
        {
            _memory.Store(bucket, key, entry, epoch);
        }

        return new RedisRead<T>(value, entry, fresh, false, logicalMs);
    }

    /// <summary>
    /// The read slot of a key: 1,024 counters shared by hash, so that concurrent callers on one key send one GET and
    /// the others coalesce (two hot keys sharing a slot only make one of them take the coalesced path meanwhile).
    /// </summary>
    private static int ReadSlot(TenantBucket bucket, string key) =>
        (RuntimeHelpers.GetHashCode(bucket) ^ key.GetHashCode(StringComparison.Ordinal)) & (ReadSlotCount - 1);

    /// <summary>How long past its expiration a value may serve fail-safe, for this call.</summary>
    private long KeepMs(CacheEntryOptions? options) =>
        options?.FailSafe == false ? 0 : (long)_options.FailSafeMaxDuration.TotalMilliseconds;

    private static long KeepMs(EntrySettings settings) => (long)settings.FailSafeMaxDuration.TotalMilliseconds;

    /// <summary>Writes a value (with its tags) and tells the other instances to drop their copy.</summary>
    /// <returns>Whether Redis took the write; on a failure the breaker is open and the caller decides what to do.</returns>
    private async Task<bool> WriteAsync(IDatabase db, TenantBucket bucket, long generation, string key, ReadOnlyMemory<byte> payload, TimeSpan ttl, string[]? tags)
    {
        var valueKey = bucket.ValueKey(generation, key);
        try
        {
            // Whole milliseconds, at least one: under a millisecond the client sends SETEX 0, which Redis refuses.
            var ttlMs = Math.Max(1, (long)Math.Ceiling(ttl.TotalMilliseconds));
            if (tags is null)
            {
                await db.StringSetAsync(valueKey, payload, TimeSpan.FromMilliseconds(ttlMs)).ConfigureAwait(false);
            }
            else
            {
                OnTagUsed();
                var keys = new RedisKey[tags.Length + 1];
                keys[0] = valueKey;
                for (var i = 0; i < tags.Length; i++)
                {
                    keys[i + 1] = RedisKeys.Tag(bucket.RedisPrefix, generation, tags[i]);
                }

                await db.ScriptEvaluateAsync(LuaScripts.SetTagged, keys, [payload, ttlMs]).ConfigureAwait(false);
            }

            Publish(db, new BackplaneMessage(_instance, BackplaneMessage.Key, generation, bucket.Tenant, key));
            _redis.ReportSuccess();
            return true;
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            OnRedisError(ex);
            return false;
        }
        catch (Exception ex) when (RedisErrorReplies.IsAboutTheCommand(ex))
        {
            // A tag's index of the wrong type: the script stopped after its SET, so the value is in Redis but in no index
            // (a removal by tag would miss it). Take it out again.
            OnErrorReply(ex, bucket, key);
            await DeleteQuietlyAsync(db, valueKey).ConfigureAwait(false);
            return false;
        }
    }

    private async Task DeleteQuietlyAsync(IDatabase db, RedisKey valueKey)
    {
        try
        {
            await db.KeyDeleteAsync(valueKey).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            OnRedisError(ex);
        }
    }

    private void OnRedisError(Exception ex)
    {
        _redis.ReportFailure(ex.Message);
        _metrics.Fallback("redis_error");
    }

    /// <summary>An error reply about one key (<c>WRONGTYPE</c>, a script error): that call only, the breaker stays closed.</summary>
    private void OnErrorReply(Exception ex, TenantBucket bucket, string key)
    {
        Log.RedisErrorReply(_logger, ex, key, bucket.Tenant);
        _metrics.Fallback("redis_error");
    }

    private static string Quoted(RedisValue value)
    {
        var text = value.ToString();
        return text.Length <= 40 ? $"'{text}'" : $"'{text[..40]}...' ({text.Length} characters)";
    }

    private static RedisRead<T> FailedRead<T>() => new(default!, null, false, true);

    /// <summary>
    /// Whether a Redis call failed because Redis cannot serve (connection, timeout, a server-wide error reply such as
    /// LOADING or OOM): the breaker opens. An error reply about the command or its key is not one
    /// (<see cref="RedisErrorReplies.IsAboutTheCommand"/>): each call site handles it for that call alone.
    /// </summary>
    private static bool IsRedisFailure(Exception ex) => ex is TimeoutException or ObjectDisposedException
        || (ex is RedisException && !RedisErrorReplies.IsAboutTheCommand(ex));
}
