using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;

namespace ScaleOps.Caching.Internal.L1;

/// <summary>
/// The hand of the memory level's CLOCK eviction (<see cref="MemoryLayer"/>): where the last scan stopped, as a tenant's
/// bucket and an enumerator over its entries, so that the next scan goes on from there. Used by the one evicting writer
/// at a time only (the memory level's eviction flag orders its uses).
/// </summary>
internal sealed class ClockHand
{
    private TenantBucket? _bucket;
    private ConcurrentDictionary<string, L1Entry>? _entries;
    private IEnumerator<KeyValuePair<string, L1Entry>>? _position;
    private int _index = -1;
    private int _turn;

    /// <summary>The hand's turns over the tenants so far (an entry records the turn it was stored in).</summary>
    public int Turn => Volatile.Read(ref _turn);

    /// <summary>
    /// The next entry under the hand, moving on to the next tenant when one's entries are done (or were replaced: a
    /// clear, or a bucket the sweep forgot). <see langword="false"/> when a whole turn over the tenants found no entry.
    /// </summary>
    /// <param name="buckets">The tenants as this scan sees them, taken on first need.</param>
    /// <param name="all">The memory level's buckets.</param>
    /// <param name="bucket">The tenant's bucket (its count goes down with a removal).</param>
    /// <param name="entries">The dictionary holding the entry (remove it from there, by key and value).</param>
    /// <param name="pair">The entry.</param>
    /// <returns>Whether there was an entry.</returns>
    public bool Next(
        ref TenantBucket[]? buckets,
        ConcurrentDictionary<string, TenantBucket> all,
        out TenantBucket bucket,
        out ConcurrentDictionary<string, L1Entry> entries,
        out KeyValuePair<string, L1Entry> pair)
    {
        if (_position is not null && _bucket is { Removed: false } current && ReferenceEquals(current.Entries, _entries)
            && _position.MoveNext())
        {
            bucket = current;
            entries = _entries!;
            pair = _position.Current;
            return true;
        }

        buckets ??= [.. all.Values];
        for (var moved = 0; moved <= buckets.Length; moved++)
        {
            if (buckets.Length == 0)
            {
                break;
            }

            if (_index + 1 >= buckets.Length)
            {
                _index = 0;
                Volatile.Write(ref _turn, _turn + 1);
            }
            else
            {
                _index++;
            }

            _bucket = buckets[_index];
            _entries = _bucket.Entries;
            _position = _entries.GetEnumerator();
            if (!_bucket.Removed && _position.MoveNext())
            {
                bucket = _bucket;
                entries = _entries;
                pair = _position.Current;
                return true;
            }
        }

        Reset();
        bucket = null!;
        entries = null!;
        pair = default;
        return false;
    }

    private void Reset()
    {
        _bucket = null;
        _entries = null;
        _position = null;
    }
}
