using System;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Caching.Internal.Backplane;
using ScaleOps.Caching.Internal.L1;
using ScaleOps.Caching.Internal.L2;
using StackExchange.Redis;

namespace ScaleOps.Caching.Internal;

/// <summary>The miss path: Redis, the cross-instance lock, the factory with fail-safe, and storing the result.</summary>
internal sealed partial class TenantCache
{
    private async Task<CacheResult<T>> LoadAsync<TState, T>(
        TenantBucket bucket,
        string key,
        TState state,
        Func<TState, CancellationToken, ValueTask<T>> factory,
        EntrySettings settings,
        L1Entry<T>? stale,
        PreRead<T>? preRead,
        object? flight,
        CancellationToken caller,
        long dueMs = 0)
    {
        // dueMs > 0: an eager refresh (TenantCache.EagerRefresh.cs). A value in Redis counts as found only with more
        // freshness left than that (another instance refreshed it), and nothing stale serves: a failure goes to the refresh.
        var db = settings.LocalOnly ? null : await _redis.TryGetDatabaseAsync().ConfigureAwait(false);
        var generation = TenantBucket.UnknownGeneration;
        if (db is not null)
        {
            // While invalidations queued during an outage wait for replay (by another caller, or Redis failed again),
            // Redis may still hold what they remove: load as if Redis were down (memory only, nothing written there).
            if (await ReplayBeforeReadingAsync(db).ConfigureAwait(false))
            {
                generation = await EnsureGenerationAsync(db, bucket).ConfigureAwait(false);
            }
            else
            {
                _metrics.Fallback("redis_unavailable");
            }

            if (generation == TenantBucket.UnknownGeneration)
            {
                db = null;
            }
        }
        else if (!settings.LocalOnly)
        {
            _metrics.Fallback("redis_unavailable");
        }

        var epoch = bucket.Watch(key); // given back below, or by a background completion that took it over
        try
        {
            var staleInMemory = stale is not null; // picked up from memory by the caller, before this epoch was read
            string? lockToken = null;
            if (db is not null)
            {
                // The hit path's GET just missed and nothing was stored or invalidated here since: no second read.
                var read = preRead is { } pre && pre.Generation == generation && pre.Epoch == epoch.All
                    && pre.FlightsBefore == Volatile.Read(ref _flightsCompleted)
                    ? pre.Read
                    : await ReadAsync<T>(db, bucket, generation, key, settings.LocalExpiration, KeepMs(settings), epoch, dueMs).ConfigureAwait(false);
                if (read.Fresh)
                {
                    if (dueMs == 0)
                    {
                        _metrics.RedisHit();
                    }

                    return new CacheResult<T>(read.Value, CacheSource.Redis);
                }

                if (dueMs == 0)
                {
                    stale ??= read.Entry; // read after the epoch: an invalidation since moves it
                }

                if (!read.Failed && settings.DistributedLock)
                {
                    var coordinated = await CoordinateAsync<T>(db, bucket, generation, key, settings, epoch, dueMs).ConfigureAwait(false);
                    if (coordinated.Value is { } found)
                    {
                        return found; // another instance's factory produced it: counted as a Redis hit, not a miss
                    }

                    lockToken = coordinated.LockToken;
                }

                if (dueMs == 0)
                {
                    _metrics.RedisMiss(); // the factory runs
                }
            }

            try
            {
                return await RunFactoryAsync(bucket, key, state, factory, settings, stale, staleInMemory, db, generation, epoch, flight, caller)
                    .ConfigureAwait(false);
            }
            finally
            {
                if (lockToken is not null)
                {
                    await ReleaseLockAsync(db!, bucket, generation, key, lockToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            bucket.Unwatch(key, epoch);
        }
    }

    private async Task<CacheResult<T>> RunFactoryAsync<TState, T>(
        TenantBucket bucket,
        string key,
        TState state,
        Func<TState, CancellationToken, ValueTask<T>> factory,
        EntrySettings settings,
        L1Entry<T>? stale,
        bool staleInMemory,
        IDatabase? db,
        long generation,
        KeyEpoch epoch,
        object? flight,
        CancellationToken caller)
    {
        var started = _time.GetTimestamp();
        var canServeStale = stale is not null && settings.FailSafe;
        Task<T> task;
        var outer = Loading.Value;
        try
        {
            // The factory's flow knows it loads this key: a read of the same key from inside it would wait for itself.
            Loading.Value = new LoadingKey(bucket, key, outer);
            task = factory(state, _shutdown.Token).AsTask();
        }
        catch (Exception ex)
        {
            // Thrown before the factory returned its task: a failed run like any other (counted, fail-safe below).
            task = Task.FromException<T>(ex);
        }
        finally
        {
            Loading.Value = outer;
        }

        if (canServeStale && settings.FactoryTimeout is { } timeout && !task.IsCompleted && StillValid(bucket, key, stale!, staleInMemory, epoch))
        {
            using var delayCancel = CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token);
            var delay = Task.Delay(timeout, _time, delayCancel.Token);
            // Checked again once the timeout won: the stale copy may have been invalidated while the factory ran.
            if (await Task.WhenAny(task, delay).ConfigureAwait(false) != task && StillValid(bucket, key, stale!, staleInMemory, epoch))
            {
                _metrics.Fallback("factory_timeout");
                _metrics.StaleHit();
                Log.FactoryTimedOutServingStale(_logger, key, bucket.Tenant, timeout.TotalMilliseconds);
                // The key stays marked as loading until the factory completes (the marker replaces this call's flight):
                // later callers get the stale value at once instead of waiting the timeout again and running another.
                BackgroundLoad<T>? background = null;
                if (flight is not null)
                {
                    background = new BackgroundLoad<T>(stale!, staleInMemory, epoch);
                    if (!bucket.Flights.TryUpdate(key, background, flight))
                    {
                        background = null;
                    }
                }

                TenantBucket.Hold(epoch); // given back by the background completion, and so is the bucket's pin
                var pinned = bucket.TryPin(); // held by this call's caller, so it succeeds
                _ = CompleteLaterAsync(task, bucket, key, settings, db, generation, epoch, started, background, pinned, caller);
                return new CacheResult<T>(stale!.Value, CacheSource.Stale);
            }

            await delayCancel.CancelAsync().ConfigureAwait(false);
        }

        T value;
        try
        {
            value = await task.ConfigureAwait(false);
        }
        catch (Exception ex) when (canServeStale && IsFactoryFailure(ex, caller) && StillValid(bucket, key, stale!, staleInMemory, epoch))
        {
            _metrics.FactoryRan(_time.GetElapsedTime(started).TotalSeconds, success: false);
            return ServeStale(bucket, key, stale!, ex, epoch);
        }
        catch
        {
            _metrics.FactoryRan(_time.GetElapsedTime(started).TotalSeconds, success: false);
            throw;
        }

        _metrics.FactoryRan(_time.GetElapsedTime(started).TotalSeconds, success: true);
        var payload = Serialize(bucket, key, value, settings, out var duration);
        await StoreAsync(bucket, key, value, settings, payload, duration, db, generation, epoch).ConfigureAwait(false);
        return new CacheResult<T>(value, CacheSource.Factory);
    }

    /// <summary>
    /// Whether nothing invalidated a stale copy since it was picked up, so it may still serve fail-safe. A copy taken
    /// from memory was picked up before <paramref name="epoch"/> was read, so the epoch cannot tell: memory must still
    /// hold that very entry (a removal, a tag or tenant invalidation, or a clear took it out). A copy read from Redis
    /// was read after <paramref name="epoch"/>: the epoch must not have moved. (An entry evicted from memory meanwhile
    /// no longer serves either, as if it had been evicted before the call.)
    /// </summary>
    private static bool StillValid(TenantBucket bucket, string key, L1Entry stale, bool inMemory, in KeyEpoch epoch) => inMemory
        ? bucket.Entries.TryGetValue(key, out var current) && ReferenceEquals(current, stale)
        : epoch.IsCurrent;

    private CacheResult<T> ServeStale<T>(TenantBucket bucket, string key, L1Entry<T> stale, Exception error, in KeyEpoch epoch)
    {
        _metrics.Fallback("fail_safe");
        _metrics.StaleHit();
        Log.FactoryFailedServingStale(_logger, error, key, bucket.Tenant);

        // Serve the stale value for a while before trying the factory again, but never past its fail-safe window.
        var now = NowMs();
        var freshUntil = Math.Min(now + Ms(_options.FailSafeThrottle), stale.KeepUntil);
        _memory.Store(bucket, key, new L1Entry<T>(stale.Value, freshUntil, stale.KeepUntil, stale.Tags), epoch);
        return new CacheResult<T>(stale.Value, CacheSource.Stale);
    }

    private async Task CompleteLaterAsync<T>(
        Task<T> task, TenantBucket bucket, string key, EntrySettings settings, IDatabase? db, long generation, KeyEpoch epoch, long started,
        BackgroundLoad<T>? background, bool pinned, CancellationToken caller)
    {
        try
        {
            var value = await task.ConfigureAwait(false);
            _metrics.FactoryRan(_time.GetElapsedTime(started).TotalSeconds, success: true);
            var payload = Serialize(bucket, key, value, settings, out var duration);
            await StoreAsync(bucket, key, value, settings, payload, duration, db, generation, epoch).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _metrics.FactoryRan(_time.GetElapsedTime(started).TotalSeconds, success: false);
            Log.BackgroundRefreshFailed(_logger, ex, key, bucket.Tenant);
            if (background is not null && IsFactoryFailure(ex, caller) && background.CanServe(bucket, key, NowMs()))
            {
                // As after a failure in the foreground: the stale value serves for the throttle before the next try.
                var stale = background.Stale;
                _memory.Store(bucket, key, new L1Entry<T>(stale.Value, Math.Min(NowMs() + Ms(_options.FailSafeThrottle), stale.KeepUntil), stale.KeepUntil, stale.Tags), epoch);
            }
        }
        finally
        {
            bucket.Unwatch(key, epoch);
            if (pinned)
            {
                bucket.Unpin();
            }

            if (background is not null)
            {
                Interlocked.Increment(ref _flightsCompleted);
                bucket.Flights.TryRemove(new System.Collections.Generic.KeyValuePair<string, object>(key, background));
            }
        }
    }

    /// <summary>Serializes a value with the payload header, enforcing the size limit.</summary>
    private PayloadWriter? Serialize<T>(TenantBucket bucket, string key, T value, EntrySettings settings, out TimeSpan duration)
    {
        var isNull = value is null;
        duration = isNull ? settings.NegativeExpiration : Jitter(settings.Expiration);
        if (isNull && duration <= TimeSpan.Zero)
        {
            return null;
        }

        // The memory lifetime travels with the value when it is shorter than the expiration, so that reads without
        // options (TryGetAsync) on every instance keep the value in memory no longer than its writer allowed.
        var localMs = settings.LocalExpiration is { } local && local < duration ? Ms(local) : Payload.NoLocalExpiration;
        var writer = new PayloadWriter(localMs == Payload.NoLocalExpiration ? Payload.HeaderSize : Payload.LocalHeaderSize);
        if (settings.Tags is { } tags)
        {
            Payload.WriteTags(writer, tags);
        }

        if (!isNull)
        {
            var before = writer.BodyLength; // the tags do not count against the value's limit
            try
            {
                _serializer.Serialize(value, writer);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new CacheSerializationException(
                    $"The value of cache key '{Shorten(key)}' (tenant {bucket.Tenant}, type {typeof(T).FullName}) cannot be serialized: {ex.Message}", ex);
            }

            var length = writer.BodyLength - before;
            if (length > _options.MaxPayloadBytes)
            {
                throw new CacheSerializationException(
                    $"The value of cache key '{Shorten(key)}' (tenant {bucket.Tenant}, type {typeof(T).FullName}) is {length} bytes serialized, "
                    + $"over ScaleOps:Caching:MaxPayloadBytes ({_options.MaxPayloadBytes}). Cache something smaller or raise the limit.");
            }
        }

        Payload.WriteHeader(writer.Header, isNull, settings.Tags is not null, 0, localMs); // fresh-until: stamped by StoreAsync
        return writer;
    }

    /// <summary>Stores in memory, then in Redis (with tags), then tells the other instances to drop their copy.</summary>
    /// <returns>
    /// Whether the value reached Redis: <see langword="false"/> when there is nothing to store (a null not cached), no
    /// database, an invalidation since <paramref name="epoch"/>, or a failed write.
    /// </returns>
    private async Task<bool> StoreAsync<T>(
        TenantBucket bucket, string key, T value, EntrySettings settings, PayloadWriter? payload, TimeSpan duration,
        IDatabase? db, long generation, KeyEpoch epoch)
    {
        if (payload is null)
        {
            return false;
        }

        var now = NowMs();
        var isNull = value is null;
        var keep = isNull ? TimeSpan.Zero : settings.FailSafeMaxDuration;
        var local = settings.LocalExpiration is { } l && l < duration ? l : duration;
        if (local > TimeSpan.Zero)
        {
            _memory.Store(bucket, key, new L1Entry<T>(value, now + Ms(local), now + Ms(duration + keep), settings.Tags,
                isNull ? L1Entry.NoEagerRefresh : now + Ms(duration)), epoch);
        }

        if (db is null || !epoch.IsCurrent)
        {
            return false;
        }

        if (BeforeRedisWrite is { } hook)
        {
            await hook(key).ConfigureAwait(false);
        }

        // Fresh-until on Redis' clock (not this host's), from the moment of the write, as the key's TTL counts.
        Payload.StampFreshUntil(payload.Header, _clock.NowUnixMs() + Ms(duration));
        _clock.RefreshIfDue();
        if (!await WriteAsync(db, bucket, generation, key, payload.WrittenMemory, duration + keep, settings.Tags).ConfigureAwait(false))
        {
            return false;
        }

        if (epoch.IsCurrent)
        {
            return true;
        }

        // An invalidation of the tenant here (a removal, a tag, or another instance's message) bumped the epoch between
        // the check above and Redis's reply to the SET: its DEL may have reached Redis first, leaving this older value
        // there. Delete it again. (An invalidation that bumps the epoch after this check sends its DEL after the SET.)
        await UndoRacedWriteAsync(db, bucket, generation, key).ConfigureAwait(false);
        return false;
    }

    /// <summary>Test hook: runs after the invalidation check of a Redis write, before the write is sent.</summary>
    internal Func<string, Task>? BeforeRedisWrite { get; set; }

    private async Task UndoRacedWriteAsync(IDatabase db, TenantBucket bucket, long generation, string key)
    {
        try
        {
            await db.KeyDeleteAsync(bucket.ValueKey(generation, key)).ConfigureAwait(false);
            Publish(db, new BackplaneMessage(_instance, BackplaneMessage.Key, generation, bucket.Tenant, key));
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            OnRedisError(ex);
            Enqueue(bucket, BackplaneMessage.Key, key);
        }
    }

    private TimeSpan Jitter(TimeSpan expiration) =>
        _options.JitterFraction <= 0 ? expiration : expiration * (1 + (Random.Shared.NextDouble() * _options.JitterFraction));

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    private static long Ms(TimeSpan span) => (long)span.TotalMilliseconds;

    /// <summary>
    /// The memory level's clock in milliseconds: <see cref="Environment.TickCount64"/> (a few nanoseconds) with the
    /// system time provider, the injected provider's timestamp otherwise (tests move it).
    /// </summary>
    private long NowMs() => _systemClock ? Environment.TickCount64 : _time.GetTimestamp() / _ticksPerMs;

    private static string Shorten(string key) => key.Length <= 100 ? key : string.Concat(key.AsSpan(0, 100), "…");
}
