using System;
using System.Runtime.CompilerServices;
using System.Threading;
using System.Threading.Tasks;
using System.Threading.Tasks.Sources;
using ScaleOps.Caching.Internal.L1;
using StackExchange.Redis;

namespace ScaleOps.Caching.Internal;

/// <summary>The Redis hit path without an async state machine (see <see cref="RedisHit{TState, T}"/>).</summary>
internal sealed partial class TenantCache
{
    /// <summary>
    /// One direct Redis read (the memory level missed, Redis is ready): the GET's task calls back into this object, which
    /// decodes the reply and completes the caller's <see cref="ValueTask{TResult}"/> on the same thread, or hands a miss to
    /// the coalesced miss path and completes when that does. It replaces two awaited layers (the read and, for
    /// <c>GetOrSetAsync</c>, the unwrapping of the entry): the caller's continuation runs straight from the GET's. One
    /// object per thread is reused once its caller took the result (the object is not allocated per hit).
    /// </summary>
    private sealed class RedisHit<TState, T> : IValueTaskSource<CacheResult<T>>, IValueTaskSource<T>
    {
        [ThreadStatic]
        private static RedisHit<TState, T>? t_free;

        private static readonly ContextCallback AfterGetInContext = static hit => ((RedisHit<TState, T>)hit!).AfterGet();

        private readonly Action _afterGet;
        private readonly Action _afterLoad;
        private ManualResetValueTaskSourceCore<CacheResult<T>> _core;
        private ConfiguredTaskAwaitable<RedisValue>.ConfiguredTaskAwaiter _get;
        private ConfiguredTaskAwaitable<CacheResult<T>>.ConfiguredTaskAwaiter _load;
        private TenantCache? _cache;
        private ExecutionContext? _context;
        private TenantBucket? _bucket;
        private string? _key;
        private TState _state = default!;
        private Func<TState, CancellationToken, ValueTask<T>>? _factory;
        private CacheEntryOptions? _options;
        private L1Entry<T>? _stale;
        private CancellationToken _cancellationToken;
        private long _generation;
        private KeyEpoch _epoch;
        private long _flightsBefore;
        private int _slot;

        private RedisHit()
        {
            _afterGet = AfterGetCallback;
            _afterLoad = AfterLoad;
        }

        /// <summary>Sends the GET; the caller owns the read slot, which the callback gives back.</summary>
        public static RedisHit<TState, T> Start(
            TenantCache cache,
            IDatabase db,
            TenantBucket bucket,
            long generation,
            string key,
            TState state,
            Func<TState, CancellationToken, ValueTask<T>> factory,
            CacheEntryOptions? options,
            L1Entry<T>? stale,
            int slot,
            CancellationToken cancellationToken)
        {
            var hit = t_free ?? new RedisHit<TState, T>();
            t_free = null;
            hit._cache = cache;
            hit._context = ExecutionContext.Capture();
            hit._bucket = bucket;
            hit._generation = generation;
            hit._key = key;
            hit._state = state;
            hit._factory = factory;
            hit._options = options;
            hit._stale = stale;
            hit._slot = slot;
            hit._cancellationToken = cancellationToken;
            hit._epoch = KeyEpoch.Of(bucket);
            hit._flightsBefore = Volatile.Read(ref cache._flightsCompleted);

            Task<RedisValue> get;
            try
            {
                get = db.StringGetAsync(bucket.ValueKey(generation, key));
            }
            catch (Exception ex)
            {
                // The client refused at once (disconnected, fail-fast backlog) or failed otherwise: the callback gives the
                // read slot back and turns the failure into the miss path (a Redis failure) or the caller's exception.
                get = Task.FromException<RedisValue>(ex);
            }

            hit._get = get.ConfigureAwait(false).GetAwaiter();
            if (hit._get.IsCompleted)
            {
                hit.AfterGet();
            }
            else
            {
                hit._get.UnsafeOnCompleted(hit._afterGet);
            }

            return hit;
        }

        public ValueTask<CacheResult<T>> Entry => new(this, _core.Version);

        public ValueTask<T> Value => new(this, _core.Version);

        /// <summary>
        /// The GET's callback runs in the caller's execution context, as an awaited continuation would: a miss may run the
        /// caller's factory, and logging scopes apply.
        /// </summary>
        private void AfterGetCallback()
        {
            if (_context is { } context)
            {
                ExecutionContext.Run(context, AfterGetInContext, this);
            }
            else
            {
                AfterGet();
            }
        }

        /// <summary>
        /// After the GET: the value, or the miss path. Nothing may escape this callback (it runs on a thread-pool thread):
        /// whatever fails fails the caller's call.
        /// </summary>
        private void AfterGet()
        {
            bool hit;
            CacheResult<T> result;
            PreRead<T>? preRead;
            try
            {
                hit = TryDecode(out result, out preRead);
            }
            catch (Exception ex)
            {
                _bucket!.Unpin();
                _core.SetException(ex);
                return;
            }

            if (hit)
            {
                _bucket!.Unpin();
                _core.SetResult(result);
            }
            else
            {
                Load(preRead); // the coalesced load takes over the bucket's pin
            }
        }

        /// <summary>Whether the GET found a fresh value; otherwise what the miss path may reuse (nothing after a Redis failure).</summary>
        private bool TryDecode(out CacheResult<T> result, out PreRead<T>? preRead)
        {
            var cache = _cache!;
            result = default;
            preRead = null;
            Interlocked.Decrement(ref cache._readSlots[_slot]);
            RedisValue stored;
            try
            {
                stored = _get.GetResult();
            }
            catch (Exception ex) when (IsRedisFailure(ex))
            {
                // The miss path takes over and works from memory (the breaker is open now).
                cache.OnRedisError(ex);
                return false;
            }
            catch (Exception ex) when (ScaleOps.Internal.RedisErrorReplies.IsAboutTheCommand(ex))
            {
                // An error about this key only: the miss path runs the factory without reading it again, and its write
                // replaces the key.
                cache.OnErrorReply(ex, _bucket!, _key!);
                preRead = new PreRead<T>(FailedRead<T>(), _generation, _epoch.All, _flightsBefore);
                return false;
            }
            finally
            {
                _get = default;
            }

            cache._redis.ReportSuccess();
            var read = cache.Decode<T>(stored, _bucket!, _generation, _key!, _options?.LocalExpiration, cache.KeepMs(_options), _epoch);
            if (!read.Fresh)
            {
                preRead = new PreRead<T>(read, _generation, _epoch.All, _flightsBefore);
                return false;
            }

            var eager = _options is { EagerRefreshThreshold: { } own } ? own : cache._eagerRefreshThreshold;
            if (eager != 0)
            {
                cache.RefreshIfDue(_bucket!, _key!, _state, _factory!, _options, eager, read.RemainingMs);
            }

            cache._metrics.RedisHit();
            result = new CacheResult<T>(read.Value, CacheSource.Redis);
            return true;
        }

        private void Load(PreRead<T>? preRead)
        {
            Task<CacheResult<T>> load;
            try
            {
                load = _cache!.CoalesceAsync(_bucket!, _key!, _state, _factory!, _options, _stale, preRead, _cancellationToken);
            }
            catch (Exception ex)
            {
                _bucket!.Unpin(); // it never started
                _core.SetException(ex);
                return;
            }

            _load = load.ConfigureAwait(false).GetAwaiter();
            if (_load.IsCompleted)
            {
                AfterLoad();
            }
            else
            {
                _load.UnsafeOnCompleted(_afterLoad);
            }
        }

        private void AfterLoad()
        {
            CacheResult<T> result;
            try
            {
                result = _load.GetResult();
            }
            catch (Exception ex)
            {
                _load = default;
                _core.SetException(ex);
                return;
            }

            _load = default;
            _core.SetResult(result);
        }

        CacheResult<T> IValueTaskSource<CacheResult<T>>.GetResult(short token)
        {
            CheckToken(token);
            try
            {
                return _core.GetResult(token);
            }
            finally
            {
                Return();
            }
        }

        T IValueTaskSource<T>.GetResult(short token)
        {
            CheckToken(token);
            try
            {
                return _core.GetResult(token).Value;
            }
            finally
            {
                Return();
            }
        }

        ValueTaskSourceStatus IValueTaskSource<CacheResult<T>>.GetStatus(short token) => _core.GetStatus(token);

        ValueTaskSourceStatus IValueTaskSource<T>.GetStatus(short token) => _core.GetStatus(token);

        void IValueTaskSource<CacheResult<T>>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        void IValueTaskSource<T>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        /// <summary>A result taken twice, or before completion, must fail without recycling the call in flight.</summary>
        private void CheckToken(short token)
        {
            if (token != _core.Version)
            {
                throw new InvalidOperationException("This ValueTask's result was already taken; a ValueTask may be awaited only once.");
            }

            if (_core.GetStatus(token) == ValueTaskSourceStatus.Pending)
            {
                throw new InvalidOperationException("This ValueTask has not completed: await it (or call AsTask()) instead of reading its result.");
            }
        }

        /// <summary>The caller took the result: forget the call and keep this object for the thread's next hit.</summary>
        private void Return()
        {
            _core.Reset();
            _cache = null;
            _context = null;
            _bucket = null;
            _key = null;
            _state = default!;
            _factory = null;
            _options = null;
            _stale = null;
            _cancellationToken = default;
            t_free = this;
        }
    }
}
