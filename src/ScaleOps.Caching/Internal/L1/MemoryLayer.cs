using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;

namespace ScaleOps.Caching.Internal.L1;

/// <summary>
/// The in-process level: tenant → bucket → key → entry, two dictionary lookups on a hit and no allocation; at most
/// <c>maxEntries</c> entries over all tenants (CLOCK eviction on the write path) and, when set, at most
/// <c>maxEntriesPerTenant</c> of one tenant (CLOCK within the tenant's entries: <see cref="TenantHand"/>). A tenant whose
/// bucket the sweep finds empty twice in a row is forgotten, so tens of thousands of tenants seen once do not stay in
/// memory for good.
/// </summary>
internal sealed class MemoryLayer
{
    private readonly ConcurrentDictionary<string, TenantBucket> _buckets = new(StringComparer.Ordinal);
    private readonly Func<string, TenantBucket> _create;
    private readonly int _maxEntries;
    private readonly int _maxEntriesPerTenant; // 0: no per-tenant bound
    private long _approximateCount;
    private long _evictions;
    private long _tenantEvictions;
    private int _evicting;
    private readonly ClockHand _hand = new();
    private int _scans; // eviction scans so far (written by the evicting writer only)
    private TenantBucket? _last;

    public MemoryLayer(string keyPrefix, int maxEntries, int? maxEntriesPerTenant = null)
    {
        _maxEntries = maxEntries;
        _maxEntriesPerTenant = maxEntriesPerTenant ?? 0;
        _create = tenant => new TenantBucket(tenant, RedisKeys.TenantPrefix(keyPrefix, tenant));
    }

    public long ApproximateCount => Volatile.Read(ref _approximateCount);

    /// <summary>Entries dropped to respect the maximum or a tenant's, since start.</summary>
    public long Evictions => Volatile.Read(ref _evictions);

    /// <summary>Of <see cref="Evictions"/>, those dropped to respect a tenant's maximum.</summary>
    public long TenantEvictions => Volatile.Read(ref _tenantEvictions);

    public ConcurrentDictionary<string, TenantBucket> Buckets => _buckets;

    /// <summary>The tenant's bucket, if any. The last bucket found is remembered: a hit on one tenant skips the lookup.</summary>
    public TenantBucket? Find(string tenant)
    {
        var last = Volatile.Read(ref _last);
        if (last is not null && string.Equals(last.Tenant, tenant, StringComparison.Ordinal) && !last.Removed)
        {
            return last;
        }

        if (_buckets.TryGetValue(tenant, out var bucket) && !bucket.Removed)
        {
            Volatile.Write(ref _last, bucket);
            return bucket;
        }

        return null;
    }

    /// <summary>The tenant's bucket, held (<see cref="TenantBucket.TryPin"/>) until the caller unpins it.</summary>
    /// <param name="tenant">The tenant.</param>
    /// <param name="found">A bucket the caller already found, pinned if it is still live.</param>
    /// <returns>The pinned bucket.</returns>
    public TenantBucket Pin(string tenant, TenantBucket? found = null)
    {
        if (found is not null && found.TryPin())
        {
            return found;
        }

        while (true)
        {
            var bucket = Bucket(tenant);
            if (bucket.TryPin())
            {
                return bucket;
            }
        }
    }

    public TenantBucket Bucket(string tenant)
    {
        while (true)
        {
            var bucket = _buckets.TryGetValue(tenant, out var found) ? found : _buckets.GetOrAdd(tenant, _create);
            if (!bucket.Removed)
            {
                return bucket;
            }

            // The sweep is forgetting it right now: help, then add a new one.
            _buckets.TryRemove(new KeyValuePair<string, TenantBucket>(tenant, bucket));
        }
    }

    /// <summary>
    /// Stores an entry unless the bucket was invalidated since <paramref name="epoch"/>. When the tenant holds more than
    /// its maximum, the writer evicts from the tenant's entries (<see cref="EvictTenant"/>); when the memory level holds
    /// more than its maximum, from all (see <see cref="Evict"/>): the bounds cost the write path, never a hit.
    /// </summary>
    /// <param name="bucket">The tenant's bucket.</param>
    /// <param name="key">The key.</param>
    /// <param name="entry">The entry.</param>
    /// <param name="epoch">What the value's read or load saw of the invalidations of the key.</param>
    /// <returns>Whether the entry was stored.</returns>
    public bool Store(TenantBucket bucket, string key, L1Entry entry, in KeyEpoch epoch)
    {
        var entries = bucket.Entries;
        if (!epoch.IsCurrent)
        {
            return false;
        }

        // Counted exactly: one more entry when this call added one, one fewer whenever an entry is taken out (a replaced
        // entry is not counted twice). A replace done with the indexer could add an entry a removal had just taken out,
        // uncounted, and the undo below could subtract one never added: the count drifted below zero and the bound
        // stopped holding until the next sweep's recount.
        entry.Turn = _hand.Turn; // CLOCK: a new entry stays at least until the hand's next turn reaches it
        if (_maxEntriesPerTenant != 0)
        {
            entry.TenantTurn = bucket.HandTurn; // and until the tenant's hand's next turn
        }

        bool added;
        while (true)
        {
            if (entries.TryAdd(key, entry))
            {
                added = true;
                Interlocked.Increment(ref _approximateCount);
                bucket.CountAdded();
                break;
            }

            if (entries.TryGetValue(key, out var old) && entries.TryUpdate(key, entry, old))
            {
                added = false;
                break;
            }
        }

        // An invalidation that raced with the write wins: undo.
        if (!epoch.IsCurrent)
        {
            if (entries.TryRemove(new KeyValuePair<string, L1Entry>(key, entry)))
            {
                Interlocked.Decrement(ref _approximateCount);
                bucket.CountRemoved();
            }

            return false;
        }

        if (added && _maxEntriesPerTenant != 0 && bucket.Count > _maxEntriesPerTenant)
        {
            EvictTenant(bucket);
        }

        if (added && Volatile.Read(ref _approximateCount) > _maxEntries)
        {
            Evict();
        }

        return true;
    }

    /// <summary>
    /// Brings the tenant back under its maximum from its own entries (<see cref="TenantHand.Evict"/>), freeing 1/64 of
    /// the maximum at once when that is at least one entry. One writer of the tenant evicts at a time; a writer that
    /// finds the scan taken stores anyway (the tenant may pass its maximum by the number of its concurrent writers), and
    /// the evicting writer looks at the count again once it has let the scan go, so the bound holds again when the
    /// writes stop (the increment of the add and the release of the scan are both full fences: one of the two sees
    /// the other).
    /// </summary>
    /// <param name="bucket">The tenant's bucket, pinned by the writer.</param>
    private void EvictTenant(TenantBucket bucket)
    {
        var target = _maxEntriesPerTenant - (_maxEntriesPerTenant / 64);
        while (bucket.Count > _maxEntriesPerTenant)
        {
            var hand = bucket.Hand;
            if (!hand.TryEnter())
            {
                return;
            }

            int evicted;
            try
            {
                evicted = hand.Evict(bucket, target, ref _approximateCount);
            }
            finally
            {
                hand.Exit();
            }

            Interlocked.Add(ref _evictions, evicted);
            Interlocked.Add(ref _tenantEvictions, evicted);
            if (evicted == 0)
            {
                return; // nothing to drop: the count is off (a clear raced a write) until the next sweep recounts
            }
        }
    }

    /// <summary>
    /// Brings the memory level back under its maximum with CLOCK (second chance). The hand keeps its place between scans:
    /// it goes on through the entries of the tenant where the last scan stopped, then the next tenants in turn, so every
    /// entry is looked at once per turn. An entry stored during the hand's current turn stays (as if stored just behind
    /// the hand: it has a whole turn to be hit); an entry hit since the hand last passed it (<see cref="L1Entry.Used"/>)
    /// loses its mark and stays, at least until the next scan; any other is dropped. After three turns' worth of entries
    /// the hand drops whatever it meets (entries under constant hits must still make room). It frees 1/64 of the maximum
    /// at once so that the next writes do not scan again. One writer evicts at a time; a writer that finds the scan taken stores anyway (the count
    /// may pass the maximum by the number of concurrent writers until the scan ends), and the evicting writer looks at the
    /// count again once it has let the scan go (a full fence, as the add's increment is), so the bound holds again when
    /// the writes stop, as for a tenant's own bound (<see cref="EvictTenant"/>).
    /// </summary>
    /// <remarks>
    /// Each scan used to start again at the front of each tenant's entries (only the first tenant moved on by one), so it
    /// only ever looked at the entries first in the dictionaries' hash order: those went as soon as one scan had cleared
    /// their mark, new ones at once, while entries further on were never looked at and stayed until they expired.
    /// </remarks>
    private void Evict()
    {
        while (Volatile.Read(ref _approximateCount) > _maxEntries)
        {
            if (Interlocked.CompareExchange(ref _evicting, 1, 0) != 0)
            {
                return;
            }

            bool found;
            try
            {
                found = Scan();
                AfterScan?.Invoke();
            }
            finally
            {
                Interlocked.Exchange(ref _evicting, 0);
            }

            if (!found)
            {
                return; // no entry anywhere (the count is off until the next sweep recounts)
            }
        }
    }

    /// <summary>Test hook: runs after a scan of <see cref="Evict"/>, before the scan is let go (other writers find it taken).</summary>
    internal Action? AfterScan { get; set; }

    /// <summary>One CLOCK scan down to 1/64 below the maximum (<see cref="Evict"/>); false when no entry was left to look at.</summary>
    private bool Scan()
    {
        var target = _maxEntries - Math.Max(1, _maxEntries / 64);
        TenantBucket[]? buckets = null;
        var scan = ++_scans;
        var honourMarks = 3 * Math.Max(1, Volatile.Read(ref _approximateCount));
        long visited = 0;
        while (Volatile.Read(ref _approximateCount) > target)
        {
            if (!_hand.Next(ref buckets, _buckets, out var bucket, out var entries, out var pair))
            {
                return false;
            }

            var entry = pair.Value;
            if (++visited <= honourMarks)
            {
                if (entry.Turn == _hand.Turn || entry.SparedInScan == scan)
                {
                    continue; // stored during this turn (as if behind the hand), or its mark was cleared by this scan
                }

                if (entry.Used)
                {
                    // Second chance: until a later scan, so that a scan going round more than once (nothing else to
                    // drop on its way) does not drop the hot entries it has just passed, before any hit could come.
                    entry.Used = false;
                    entry.SparedInScan = scan;
                    continue;
                }
            }

            if (entries.TryRemove(pair))
            {
                Interlocked.Decrement(ref _approximateCount);
                Interlocked.Increment(ref _evictions);
                bucket.CountRemoved();
            }
        }

        return true;
    }

    public void Remove(TenantBucket bucket, string key)
    {
        bucket.TouchKey(key);
        if (bucket.Entries.TryRemove(key, out _))
        {
            Interlocked.Decrement(ref _approximateCount);
            bucket.CountRemoved();
        }
    }

    public void RemoveTagged(TenantBucket bucket, string tag)
    {
        bucket.TouchAll();
        foreach (var pair in bucket.Entries)
        {
            if (pair.Value.HasTag(tag) && bucket.Entries.TryRemove(pair))
            {
                Interlocked.Decrement(ref _approximateCount);
                bucket.CountRemoved();
            }
        }
    }

    public void ClearBucket(TenantBucket bucket) => Interlocked.Add(ref _approximateCount, -bucket.Clear());

    public void AdvanceGeneration(TenantBucket bucket, long generation) =>
        Interlocked.Add(ref _approximateCount, -bucket.AdvanceGeneration(generation));

    /// <summary>Clears every tenant and forgets every generation (Redis came back: messages may have been missed).</summary>
    public void ClearAll()
    {
        foreach (var bucket in _buckets.Values)
        {
            bucket.ForgetGeneration();
            bucket.Clear();
        }

        Interlocked.Exchange(ref _approximateCount, 0);
    }

    /// <summary>
    /// Drops entries kept past their fail-safe window; recounts; forgets the tenants whose bucket was empty, with no
    /// load running, at this sweep and the one before (their next access reads the tenant's generation from Redis
    /// again: one GET). Called by one loop at a time.
    /// </summary>
    /// <param name="now">The current timestamp.</param>
    /// <returns>Entries dropped.</returns>
    public int Sweep(long now)
    {
        var dropped = 0;
        long count = 0;
        foreach (var bucket in _buckets.Values)
        {
            var entries = bucket.Entries;
            foreach (var pair in entries)
            {
                if (pair.Value.KeepUntil <= now && entries.TryRemove(pair))
                {
                    dropped++;
                }
            }

            var held = entries.Count;
            bucket.Recount(held);
            count += held;
            if (held > 0 || !bucket.Flights.IsEmpty)
            {
                bucket.EmptySweeps = 0;
            }
            else if (++bucket.EmptySweeps >= 2 && bucket.MarkRemoved())
            {
                // Marked first, so no lookup returns it from here on; then out of the map and out of the shortcut.
                _buckets.TryRemove(new KeyValuePair<string, TenantBucket>(bucket.Tenant, bucket));
                Interlocked.CompareExchange(ref _last, null, bucket);
            }
        }

        Interlocked.Exchange(ref _approximateCount, count);
        return dropped;
    }
}
