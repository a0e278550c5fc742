using System;
using System.Collections.Concurrent;
using System.Text;
using System.Threading;
using StackExchange.Redis;

namespace ScaleOps.Caching.Internal.L1;

/// <summary>
/// One tenant's in-memory entries and Redis coordinates. Keys are looked up as given (no per-call key building), so
/// two tenants can never share an entry.
/// </summary>
internal sealed class TenantBucket
{
    /// <summary>The Redis generation is not known yet (read it before the next Redis access).</summary>
    public const long UnknownGeneration = -1;

    private ConcurrentDictionary<string, L1Entry> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, KeyWatch> _watches = new(concurrencyLevel: 1, capacity: 1, StringComparer.Ordinal);
    private long _epoch;
    private long _wideEpoch;
    private long _generation = UnknownGeneration;
    private ValuePrefix? _valuePrefix;
    private const int RemovedState = int.MinValue;
    private int _state; // operations holding the bucket (pins), or RemovedState once the sweep forgot it
    private int _count; // entries in _entries, kept by the memory level (a clear or a sweep racing a write may be off by one)
    private TenantHand? _hand;

    public TenantBucket(string tenant, string redisPrefix)
    {
        Tenant = tenant;
        RedisPrefix = redisPrefix;
    }

    public string Tenant { get; }

    /// <summary>The Redis key prefix of this tenant, ending with the hash tag and a colon: <c>prefix:{tenant}:</c>.</summary>
    public string RedisPrefix { get; }

    public ConcurrentDictionary<string, L1Entry> Entries => Volatile.Read(ref _entries);

    /// <summary>The tenant's in-memory entries, counted on the write path (reading it takes no lock, unlike the table's).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>The tenant's eviction hand, made on first need (only with a per-tenant bound).</summary>
    public TenantHand Hand
    {
        get
        {
            if (Volatile.Read(ref _hand) is { } hand)
            {
                return hand;
            }

            var made = new TenantHand();
            return Interlocked.CompareExchange(ref _hand, made, null) ?? made;
        }
    }

    /// <summary>The turn a new entry records (<see cref="L1Entry.TenantTurn"/>).</summary>
    public byte HandTurn => Volatile.Read(ref _hand)?.Turn ?? 0;

    /// <summary>An entry was added to <see cref="Entries"/>.</summary>
    public void CountAdded() => Interlocked.Increment(ref _count);

    /// <summary>An entry was taken out of <see cref="Entries"/>.</summary>
    public void CountRemoved() => Interlocked.Decrement(ref _count);

    /// <summary>The count as the sweep found it (corrects the drift of writes that raced a clear).</summary>
    /// <param name="count">The entries found.</param>
    public void Recount(int count) => Volatile.Write(ref _count, count);

    /// <summary>Bumped by every invalidation of the tenant, of one key or more (see <see cref="KeyEpoch.Of"/>).</summary>
    public long Epoch => Volatile.Read(ref _epoch);

    /// <summary>Bumped by the invalidations that concern every key: a tag, the tenant, a clear.</summary>
    public long WideEpoch => Volatile.Read(ref _wideEpoch);

    /// <summary>The tenant's Redis generation as last seen, or <see cref="UnknownGeneration"/>.</summary>
    public long Generation => Volatile.Read(ref _generation);

    /// <summary>
    /// The in-flight loads of this tenant (key → <see cref="System.Threading.Tasks.TaskCompletionSource{TResult}"/>), so
    /// that concurrent misses on one key run the factory once in this process; or, while a factory that timed out
    /// still runs in the background, the marker that serves its stale value meanwhile.
    /// </summary>
    /// <remarks>
    /// This table and the watched keys hold only work in flight, and every tenant has them: each takes one lock
    /// (<c>concurrencyLevel: 1</c>; reads take none) instead of the default lock per core, which made a bucket with nothing
    /// in it cost 9.1 KB on 64 cores (1.6 KB on 2), tens of thousands of tenants times that.
    /// </remarks>
    public ConcurrentDictionary<string, object> Flights { get; } = new(concurrencyLevel: 1, capacity: 1, StringComparer.Ordinal);

    /// <summary>
    /// Before a key is removed: a load or write of that key in flight (<see cref="Watch"/>) will not store what it read or
    /// produced; those of other keys are not concerned.
    /// </summary>
    /// <param name="key">The key.</param>
    public void TouchKey(string key)
    {
        if (_watches.TryGetValue(key, out var watch))
        {
            Interlocked.Increment(ref watch.Removals);
        }

        Interlocked.Increment(ref _epoch);
    }

    /// <summary>Before entries are removed by tag, or all of them: no load or write in flight will store its value.</summary>
    public void TouchAll()
    {
        Interlocked.Increment(ref _wideEpoch);
        Interlocked.Increment(ref _epoch);
    }

    /// <summary>
    /// The exact <see cref="KeyEpoch"/> of a key for a load or write about to read or produce its value: only a removal of
    /// that key, or a tag, tenant or clear, voids it. Give it back with <see cref="Unwatch"/> once nothing more is stored.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <returns>The epoch.</returns>
    public KeyEpoch Watch(string key)
    {
        while (true)
        {
            var watch = _watches.GetOrAdd(key, static _ => new KeyWatch());
            lock (watch)
            {
                if (!watch.Retired)
                {
                    watch.Holders++;
                    return new KeyEpoch(this, Epoch, watch, WideEpoch, Volatile.Read(ref watch.Removals));
                }
            }

            // Its last holder is taking it out of the table: wait for that and add a new one.
            _watches.TryRemove(new System.Collections.Generic.KeyValuePair<string, KeyWatch>(key, watch));
        }
    }

    /// <summary>One more holder of an epoch from <see cref="Watch"/> (work that outlives its taker), given back the same way.</summary>
    /// <param name="epoch">The epoch, still held.</param>
    public static void Hold(in KeyEpoch epoch)
    {
        if (epoch.Watch is { } watch)
        {
            lock (watch)
            {
                watch.Holders++;
            }
        }
    }

    /// <summary>Gives back an epoch from <see cref="Watch"/> (nothing for a coarse one).</summary>
    /// <param name="key">The key it was taken for.</param>
    /// <param name="epoch">The epoch.</param>
    public void Unwatch(string key, in KeyEpoch epoch)
    {
        if (epoch.Watch is not { } watch)
        {
            return;
        }

        lock (watch)
        {
            if (--watch.Holders > 0)
            {
                return;
            }

            watch.Retired = true;
        }

        _watches.TryRemove(new System.Collections.Generic.KeyValuePair<string, KeyWatch>(key, watch));
    }

    /// <summary>Keys with loads or writes in flight (tests check that none is left behind).</summary>
    internal int WatchedKeys => _watches.Count;

    /// <summary>
    /// The sweep forgot this bucket (it stayed empty, with nothing holding it): nobody may look entries up in it or store
    /// into it any more, a new bucket takes its place.
    /// </summary>
    public bool Removed => Volatile.Read(ref _state) == RemovedState;

    /// <summary>
    /// Holds the bucket for an operation that may store into it, register a load or watch a key in it, or invalidate
    /// in it after a round trip: until <see cref="Unpin"/>, the sweep cannot forget it, so every such operation of the
    /// tenant meets the others in the same bucket (a load in a forgotten bucket was neither joined by later callers nor
    /// voided by a removal made in the new one).
    /// </summary>
    /// <returns>False when the bucket was already forgotten: take the tenant's current one.</returns>
    public bool TryPin()
    {
        while (true)
        {
            var state = Volatile.Read(ref _state);
            if (state == RemovedState)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _state, state + 1, state) == state)
            {
                return true;
            }
        }
    }

    /// <summary>Releases a <see cref="TryPin"/>.</summary>
    public void Unpin() => Interlocked.Decrement(ref _state);

    /// <summary>Consecutive sweeps that found the bucket empty (written by the sweep only).</summary>
    public int EmptySweeps { get; set; }

    /// <summary>Marks the bucket removed, only if nothing holds it (<see cref="TryPin"/>) and it was not already.</summary>
    /// <returns>Whether this call marked it.</returns>
    public bool MarkRemoved() => Interlocked.CompareExchange(ref _state, RemovedState, 0) == 0;

    /// <summary>
    /// The Redis key of a value, <c>prefix:{tenant}:v{generation}:k:{key}</c>, without building a string: the UTF-8
    /// bytes up to <c>:k:</c> are cached per generation and StackExchange.Redis writes them and the key straight into
    /// its output buffer.
    /// </summary>
    /// <param name="generation">The tenant's generation.</param>
    /// <param name="key">The caller's key.</param>
    /// <returns>The key.</returns>
    public RedisKey ValueKey(long generation, string key)
    {
        var prefix = Volatile.Read(ref _valuePrefix);
        if (prefix is null || prefix.Generation != generation)
        {
            prefix = new ValuePrefix(generation, Encoding.UTF8.GetBytes(RedisKeys.ValuePrefix(RedisPrefix, generation)));
            Volatile.Write(ref _valuePrefix, prefix);
        }

        return ((RedisKey)prefix.Bytes).Append(key);
    }

    /// <summary>Drops every entry in O(1).</summary>
    /// <returns>How many entries were dropped (approximately).</returns>
    public int Clear()
    {
        TouchAll();
        var old = Interlocked.Exchange(ref _entries, new ConcurrentDictionary<string, L1Entry>(StringComparer.Ordinal));
        var dropped = old.Count;
        Interlocked.Add(ref _count, -dropped);

        // The hand's place was in the old table: let it go with it (a scan running now finishes on its own reference).
        Volatile.Write(ref _hand, null);
        return dropped;
    }

    /// <summary>Raises the known generation (never lowers it) and clears the entries when it changed.</summary>
    /// <param name="generation">The generation seen in Redis or in a backplane message.</param>
    /// <returns>Entries dropped.</returns>
    public int AdvanceGeneration(long generation)
    {
        while (true)
        {
            var current = Generation;
            if (generation <= current)
            {
                return 0;
            }

            if (Interlocked.CompareExchange(ref _generation, generation, current) == current)
            {
                // From unknown to known (first read, or after a reconnect) the entries were cleared already.
                return current == UnknownGeneration ? 0 : Clear();
            }
        }
    }

    /// <summary>Forgets the generation (after Redis comes back): the next Redis access reads it again.</summary>
    public void ForgetGeneration() => Interlocked.Exchange(ref _generation, UnknownGeneration);

    private sealed class ValuePrefix(long generation, byte[] bytes)
    {
        public long Generation { get; } = generation;

        public byte[] Bytes { get; } = bytes;
    }
}
