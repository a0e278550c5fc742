using System;
using System.Collections.Concurrent;
using System.Threading;

namespace ScaleOps.Caching.Internal.L1;

/// <summary>The in-process level: tenant → bucket → key → entry, two dictionary lookups on a hit and no allocation.</summary>
internal sealed class MemoryLayer(string keyPrefix, int maxEntries)
{
    private readonly ConcurrentDictionary<string, TenantBucket> _buckets = new(StringComparer.Ordinal);
    private long _approximateCount;
    private TenantBucket? _last;

    public long ApproximateCount => Volatile.Read(ref _approximateCount);

    public ConcurrentDictionary<string, TenantBucket> Buckets => _buckets;

    /// <summary>The tenant's bucket, if any. The last bucket found is remembered: a hit on one tenant skips the lookup.</summary>
    public TenantBucket? Find(string tenant)
    {
        var last = Volatile.Read(ref _last);
        if (last is not null && string.Equals(last.Tenant, tenant, StringComparison.Ordinal))
        {
            return last;
        }

        if (_buckets.TryGetValue(tenant, out var bucket))
        {
            Volatile.Write(ref _last, bucket);
            return bucket;
        }

        return null;
    }

    public TenantBucket Bucket(string tenant) =>
        _buckets.TryGetValue(tenant, out var bucket) ? bucket : _buckets.GetOrAdd(tenant, t => new TenantBucket(t, RedisKeys.TenantPrefix(keyPrefix, t)));

    /// <summary>Stores an entry unless the bucket was invalidated since <paramref name="epoch"/> or memory is full.</summary>
    /// <param name="bucket">The tenant's bucket.</param>
    /// <param name="key">The key.</param>
    /// <param name="entry">The entry.</param>
    /// <param name="epoch">The bucket's epoch when the value was read or produced.</param>
    /// <returns>Whether the entry was stored.</returns>
    public bool Store(TenantBucket bucket, string key, L1Entry entry, long epoch)
    {
        var entries = bucket.Entries;
        if (bucket.Epoch != epoch)
        {
            return false;
        }

        if (entries.TryGetValue(key, out _))
        {
            entries[key] = entry;
        }
        else
        {
            if (Volatile.Read(ref _approximateCount) >= maxEntries)
            {
                return false;
            }

            entries[key] = entry;
            Interlocked.Increment(ref _approximateCount);
        }

        // An invalidation that raced with the write wins: undo.
        if (bucket.Epoch != epoch)
        {
            entries.TryRemove(new System.Collections.Generic.KeyValuePair<string, L1Entry>(key, entry));
            return false;
        }

        return true;
    }

    public void Remove(TenantBucket bucket, string key)
    {
        bucket.Touch();
        if (bucket.Entries.TryRemove(key, out _))
        {
            Interlocked.Decrement(ref _approximateCount);
        }
    }

    public void RemoveTagged(TenantBucket bucket, string tag)
    {
        bucket.Touch();
        foreach (var pair in bucket.Entries)
        {
            if (pair.Value.HasTag(tag) && bucket.Entries.TryRemove(pair))
            {
                Interlocked.Decrement(ref _approximateCount);
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

    /// <summary>Drops entries kept past their fail-safe window; recounts.</summary>
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

            count += entries.Count;
        }

        Interlocked.Exchange(ref _approximateCount, count);
        return dropped;
    }
}
