using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ScaleOps.Caching.Internal.Backplane;
using ScaleOps.Caching.Internal.L1;
using ScaleOps.Caching.Internal.L2;
using ScaleOps.Caching.Serialization;
using ScaleOps.Diagnostics;
using ScaleOps.Internal;
using ScaleOps.Tenancy;

namespace ScaleOps.Caching.Internal;

/// <summary>
/// The tenant cache: memory (L1) first, then Redis (L2), then the factory, once per key per process (and optionally
/// per cluster). Partial files: <c>TenantCache.Load.cs</c> (miss path), <c>TenantCache.Redis.cs</c> (L2 access),
/// <c>TenantCache.Invalidate.cs</c> (removals, outage replay), <c>Backplane/TenantCache.Backplane.cs</c>,
/// <c>Stampede/TenantCache.Lock.cs</c>.
/// </summary>
internal sealed partial class TenantCache : ITenantCache, IAsyncDisposable, IDisposable
{
    private readonly ITenantContext _tenants;
    private readonly TimeProvider _time;
    private readonly CachingOptions _options;
    private readonly ICacheSerializer _serializer;
    private readonly ILogger _logger;
    private readonly MemoryLayer _memory;
    private readonly RedisConnection _redis;
    private readonly RedisClock _clock; // Redis' time: fresh-until times are stamped and compared on it
    private readonly CacheMetrics _metrics;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly string _instance = Guid.NewGuid().ToString("N");
    private readonly string _channel;
    private readonly bool _systemClock;
    private readonly long _ticksPerMs;
    private readonly Action<string, string> _validateTag;
    private readonly double _eagerRefreshThreshold; // 0: off
    private readonly long _eagerRefreshDueMs; // the default threshold's margin for the default expiration

    public TenantCache(
        ITenantContext tenants,
        TimeProvider time,
        IOptions<CachingOptions> options,
        ScaleOpsMetrics metrics,
        ILogger<TenantCache>? logger = null,
        MeasuredRedisClock? measuredClock = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _tenants = tenants;
        _time = time;
        _systemClock = ReferenceEquals(time, TimeProvider.System);
        _validateTag = ValidateKey;
        _ticksPerMs = Math.Max(1, time.TimestampFrequency / 1000);
        _options = options.Value;
        _eagerRefreshThreshold = _options.EagerRefreshThreshold ?? 0;
        _eagerRefreshDueMs = (long)((1 - _eagerRefreshThreshold) * _options.DefaultExpiration.TotalMilliseconds);
        _serializer = _options.Serializer ?? new SystemTextJsonCacheSerializer();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _memory = new MemoryLayer(_options.KeyPrefix, _options.MaxMemoryEntries, _options.MaxMemoryEntriesPerTenant);
        _metrics = new CacheMetrics(metrics, () => _memory.ApproximateCount, () => _memory.Evictions);
        _channel = RedisKeys.Channel(_options.KeyPrefix);
        // Redis' clock is measured for the system clock (production); another TimeProvider is a test's, taken as it is.
        _redis = new RedisConnection(_options, time, _logger, measureClock: ReferenceEquals(time, TimeProvider.System) || measuredClock is not null);
        _clock = _redis.Clock;
        _redis.Connected += SubscribeBackplane;
        _redis.Restored += OnRedisRestored;
        _redis.Connected += CheckEvictionPolicy;
        _redis.Restored += CheckEvictionPolicyOnRestore;
        _redis.Unavailable += WakeMaintenance;
    }

    /// <summary>
    /// Signalled when Redis comes back, so the maintenance loop replays pending invalidations at once, and when it goes
    /// away, so the loop probes it once per breaker period instead of sleeping the rest of a sweep interval.
    /// </summary>
    internal SemaphoreSlim Wake { get; } = new(0);

    internal MemoryLayer Memory => _memory;

    internal RedisConnection Redis => _redis;

    internal Task ConnectAsync() => _redis.StartAsync();

    public ValueTask<CacheResult<T>> GetOrSetEntryAsync<TState, T>(
        string key,
        TState state,
        Func<TState, CancellationToken, ValueTask<T>> factory,
        CacheEntryOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var hit = Begin(key, state, factory, options, cancellationToken, out var done, out var load);
        return hit is not null ? hit.Entry : load is not null ? new ValueTask<CacheResult<T>>(load) : new ValueTask<CacheResult<T>>(done);
    }

    /// <summary><see cref="GetOrSetEntryAsync{TState, T}"/> for callers that want the value only (<c>GetOrSetAsync</c>).</summary>
    internal ValueTask<T> GetOrSetValueAsync<TState, T>(
        string key,
        TState state,
        Func<TState, CancellationToken, ValueTask<T>> factory,
        CacheEntryOptions? options,
        CancellationToken cancellationToken)
    {
        var hit = Begin(key, state, factory, options, cancellationToken, out var done, out var load);
        return hit is not null ? hit.Value
            : load is not null ? TenantCacheExtensions.ValueOf(new ValueTask<CacheResult<T>>(load))
            : new ValueTask<T>(done.Value);
    }

    /// <summary>
    /// The start of every cache-aside call. Returns the Redis read in flight, or sets <paramref name="done"/> (a memory
    /// hit) or <paramref name="load"/> (the coalesced miss path).
    /// </summary>
    private RedisHit<TState, T>? Begin<TState, T>(
        string key,
        TState state,
        Func<TState, CancellationToken, ValueTask<T>> factory,
        CacheEntryOptions? options,
        CancellationToken cancellationToken,
        out CacheResult<T> done,
        out Task<CacheResult<T>>? load)
    {
        done = default;
        load = null;
        ValidateKey(key, nameof(key));
        ArgumentNullException.ThrowIfNull(factory);
        if (cancellationToken.IsCancellationRequested)
        {
            // Before anything starts: a load started for a caller that gave up would still run the factory.
            load = Task.FromCanceled<CacheResult<T>>(cancellationToken);
            return null;
        }

        var tenant = _tenants.RequireTenant().Value;
        var bucket = _memory.Find(tenant);
        L1Entry<T>? stale = null;
        if (bucket is not null && options?.SkipMemoryRead != true && bucket.Entries.TryGetValue(key, out var entry) && entry is L1Entry<T> typed)
        {
            var now = NowMs();
            if (now < typed.FreshUntil)
            {
                if (!typed.Used)
                {
                    typed.Used = true;
                }

                var eager = options is { EagerRefreshThreshold: { } own } ? own : _eagerRefreshThreshold;
                if (eager != 0 && (options is not null || typed.LogicalFreshUntil - now <= _eagerRefreshDueMs))
                {
                    // Without options a value not due is told here; with them, the call's threshold and expiration decide.
                    RefreshIfDue(bucket, key, state, factory, options, eager, typed.LogicalFreshUntil - now);
                }

                _metrics.MemoryHit();
                done = new CacheResult<T>(typed.Value, CacheSource.Memory);
                return null;
            }

            if (now < typed.KeepUntil)
            {
                stale = typed;
            }
        }

        _metrics.MemoryMiss();
        bucket = _memory.Pin(tenant, bucket); // unpinned by the Redis hit when it completes, or by the coalesced load

        // The Redis hit path skips the coalescing bookkeeping: Redis is connected, the tenant's generation is known, no
        // invalidation waits for replay, and no load of this key is running here (a caller joins a running one).
        var generation = bucket.Generation;
        if (generation != TenantBucket.UnknownGeneration && options?.LocalOnly != true && PendingCount == 0
            && !bucket.Flights.ContainsKey(key) && _redis.TryGetReadyDatabase() is { } db)
        {
            // One direct read per key (slot) at a time: callers arriving together on one key (a stampede) coalesce
            // instead of each sending a GET.
            var slot = ReadSlot(bucket, key);
            if (Interlocked.Increment(ref _readSlots[slot]) == 1)
            {
                return RedisHit<TState, T>.Start(this, db, bucket, generation, key, state, factory, options, stale, slot, cancellationToken);
            }

            Interlocked.Decrement(ref _readSlots[slot]);
        }

        load = CoalesceAsync<TState, T>(bucket, key, state, factory, options, stale, null, cancellationToken);
        return null;
    }

    public ValueTask<CacheResult<T>> TryGetAsync<T>(string key, CancellationToken cancellationToken = default)
    {
        ValidateKey(key, nameof(key));
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<CacheResult<T>>(cancellationToken);
        }

        var tenant = _tenants.RequireTenant().Value;
        var bucket = _memory.Find(tenant);
        if (bucket is not null && bucket.Entries.TryGetValue(key, out var entry) && entry is L1Entry<T> typed
            && NowMs() < typed.FreshUntil)
        {
            if (!typed.Used)
            {
                typed.Used = true;
            }

            _metrics.MemoryHit();
            return new ValueTask<CacheResult<T>>(new CacheResult<T>(typed.Value, CacheSource.Memory));
        }

        _metrics.MemoryMiss();
        return TryGetFromRedisAsync<T>(_memory.Pin(tenant, bucket), key); // it unpins
    }

    public async ValueTask SetAsync<T>(string key, T value, CacheEntryOptions? options = null, CancellationToken cancellationToken = default)
    {
        ValidateKey(key, nameof(key));
        cancellationToken.ThrowIfCancellationRequested(); // only before it starts: a write half done would be worse
        var bucket = _memory.Pin(_tenants.RequireTenant().Value);
        try
        {
            await SetPinnedAsync(bucket, key, value, options).ConfigureAwait(false);
        }
        finally
        {
            bucket.Unpin();
        }
    }

    private async Task SetPinnedAsync<T>(TenantBucket bucket, string key, T value, CacheEntryOptions? options)
    {
        var settings = EntrySettings.Resolve(options, _options, _validateTag);
        var payload = Serialize(bucket, key, value, settings, out var duration);

        // Drop the old copy first (this also stops in-flight factories of the tenant from storing older data).
        _memory.Remove(bucket, key);
        var db = settings.LocalOnly ? null : await _redis.TryGetDatabaseAsync().ConfigureAwait(false);
        if (db is not null)
        {
            await ReplayPendingAsync(db).ConfigureAwait(false); // invalidations made before this write go first
        }

        var generation = db is null ? TenantBucket.UnknownGeneration : await EnsureGenerationAsync(db, bucket).ConfigureAwait(false);
        if (generation == TenantBucket.UnknownGeneration)
        {
            db = null;
        }

        var epoch = bucket.Watch(key);
        bool stored;
        try
        {
            stored = await StoreAsync(bucket, key, value, settings, payload, duration, db, generation, epoch).ConfigureAwait(false);
        }
        finally
        {
            bucket.Unwatch(key, epoch);
        }

        if (!stored && !settings.LocalOnly)
        {
            // Redis did not take the value (down, failed, or an invalidation raced), so it may still hold the previous
            // one, which other instances (and this one, after Redis returns and memory is cleared) would read: delete it,
            // now or, while Redis is down, through the outage queue, replayed when it returns.
            await InvalidateInRedisAsync(bucket, BackplaneMessage.Key, key).ConfigureAwait(false);
        }
    }

    public CacheStatus GetStatus() => new(
        _redis.IsAvailable,
        _redis.OpenUntil,
        _redis.LastError,
        _memory.ApproximateCount,
        _metrics.Hits,
        _metrics.Misses,
        PendingCount);

    public async ValueTask DisposeAsync()
    {
        if (_shutdown.IsCancellationRequested)
        {
            return;
        }

        await _shutdown.CancelAsync().ConfigureAwait(false);
        await ReleaseHeldLocksAsync().ConfigureAwait(false);
        await _redis.DisposeAsync().ConfigureAwait(false);
        _shutdown.Dispose();
        Wake.Dispose();
    }

    public void Dispose()
    {
        if (_shutdown.IsCancellationRequested)
        {
            return;
        }

        _shutdown.Cancel();
        ReleaseHeldLocksAsync().GetAwaiter().GetResult(); // Redis replies on its own threads: no context to deadlock on
        _redis.Dispose();
        _shutdown.Dispose();
        Wake.Dispose();
    }

    private void ValidateKey(string key, string parameter)
    {
        ArgumentNullException.ThrowIfNull(key, parameter);
        if (key.Length == 0)
        {
            throw new ArgumentException("A cache key or tag cannot be empty.", parameter);
        }

        if (key.Length > _options.MaxKeyLength)
        {
            throw new ArgumentException(
                $"A cache key or tag is at most {_options.MaxKeyLength} characters (ScaleOps:Caching:MaxKeyLength); this one has {key.Length}.", parameter);
        }

        // Redis keys are UTF-8 bytes: an unpaired surrogate has no encoding (the client wrote U+FFFD for it), so distinct
        // keys such as "a\uD800" and "a\uDBFF" were one Redis key.
        if (UnpairedSurrogates.IndexOf(key) is var at and >= 0)
        {
            throw new ArgumentException(
                $"A cache key or tag must be valid UTF-16: it has an unpaired surrogate (U+{(int)key[at]:X4}) at index {at}, "
                + "which has no UTF-8 encoding, so it would share its Redis key with other keys.", parameter);
        }
    }

    private async Task<CacheResult<T>> RunFlightAsync<TState, T>(
        TaskCompletionSource<CacheResult<T>> flight,
        TenantBucket bucket,
        string key,
        TState state,
        Func<TState, CancellationToken, ValueTask<T>> factory,
        EntrySettings settings,
        L1Entry<T>? stale,
        PreRead<T>? preRead,
        CancellationToken leader)
    {
        try
        {
            var result = await LoadAsync(bucket, key, state, factory, settings, stale, preRead, flight, leader).ConfigureAwait(false);
            flight.TrySetResult(result);
            return result;
        }
        catch (Exception ex)
        {
            flight.TrySetException(ex is OperationCanceledException && leader.IsCancellationRequested && !_shutdown.IsCancellationRequested
                ? new LeaderCancelledException(ex)
                : ex);
            _ = flight.Task.Exception; // observed here: followers get it from the flight, the leader from this task
            throw;
        }
        finally
        {
            // Counted before the flight disappears: a caller that misses Redis, then leads a new flight, sees the count
            // move and reads Redis again (this flight may have stored the value after that caller's read).
            Interlocked.Increment(ref _flightsCompleted);
            bucket.Flights.TryRemove(new System.Collections.Generic.KeyValuePair<string, object>(key, flight));
        }
    }
}
