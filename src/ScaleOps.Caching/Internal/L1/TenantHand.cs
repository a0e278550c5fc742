using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;

namespace ScaleOps.Caching.Internal.L1;

/// <summary>
/// The CLOCK hand of one tenant's entries, for <see cref="CachingOptions.MaxMemoryEntriesPerTenant"/>: a write that takes
/// the tenant past its bound evicts from that tenant's own entries, never another tenant's (the noisy neighbour). Same
/// rules as the memory level's hand over all tenants (<see cref="MemoryLayer"/>), on marks of its own
/// (<see cref="L1Entry.TenantTurn"/>, <see cref="L1Entry.TenantSparedInScan"/>); the hit mark <see cref="L1Entry.Used"/>
/// is shared, so an entry hit since either hand last passed it stays. One writer of the tenant evicts at a time
/// (<see cref="TryEnter"/>); the hand keeps its place between scans.
/// </summary>
internal sealed class TenantHand
{
    private ConcurrentDictionary<string, L1Entry>? _entries;
    private IEnumerator<KeyValuePair<string, L1Entry>>? _position;
    private int _turn;
    private int _scans;
    private int _evicting;

    /// <summary>The hand's turns over the tenant's entries so far, modulo 256 (marks are only compared for equality).</summary>
    public byte Turn => unchecked((byte)Volatile.Read(ref _turn));

    /// <summary>Takes the tenant's eviction; <see langword="false"/> when another writer of the tenant has it.</summary>
    /// <returns>Whether this writer evicts.</returns>
    public bool TryEnter() => Interlocked.CompareExchange(ref _evicting, 1, 0) == 0;

    /// <summary>
    /// Gives the eviction back, with a full fence: a writer that added an entry and found the eviction taken, then reads
    /// its count after this, or this writer's next read of the count sees its entry (see <see cref="MemoryLayer"/>).
    /// </summary>
    public void Exit() => Interlocked.Exchange(ref _evicting, 0);

    /// <summary>
    /// Evicts the tenant's entries until it holds <paramref name="target"/> or fewer: an entry stored during the hand's
    /// current turn stays, an entry hit since the hand last passed it loses its mark and stays, any other is dropped;
    /// after three turns' worth of entries the hand drops whatever it meets. Call between <see cref="TryEnter"/> and
    /// <see cref="Exit"/>.
    /// </summary>
    /// <param name="bucket">The tenant's bucket (pinned by the writer).</param>
    /// <param name="target">The count to get down to.</param>
    /// <param name="total">The memory level's count, brought down with each eviction (a write of another tenant that
    /// reads it meanwhile must not take this tenant's entries for the others' and evict theirs).</param>
    /// <returns>Entries evicted.</returns>
    public int Evict(TenantBucket bucket, int target, ref long total)
    {
        var scan = unchecked((byte)++_scans);
        var honourMarks = 3L * Math.Max(1, bucket.Count);
        long visited = 0;
        var evicted = 0;
        while (bucket.Count > target)
        {
            if (!Next(bucket, out var entries, out var pair))
            {
                break; // no entry (the count is off until the next sweep recounts)
            }

            var entry = pair.Value;
            if (++visited <= honourMarks)
            {
                if (entry.TenantTurn == Turn || entry.TenantSparedInScan == scan)
                {
                    continue; // stored during this turn (as if behind the hand), or its mark was cleared by this scan
                }

                if (entry.Used)
                {
                    entry.Used = false; // second chance, until a later scan
                    entry.TenantSparedInScan = scan;
                    continue;
                }
            }

            // By key and value: an entry replaced or removed meanwhile is not touched (readers of the tenant never wait).
            if (entries.TryRemove(pair))
            {
                bucket.CountRemoved();
                Interlocked.Decrement(ref total);
                evicted++;
            }
        }

        return evicted;
    }

    /// <summary>The next entry under the hand; at the end of the entries (or once they were cleared) a new turn begins.</summary>
    private bool Next(TenantBucket bucket, out ConcurrentDictionary<string, L1Entry> entries, out KeyValuePair<string, L1Entry> pair)
    {
        var current = bucket.Entries;
        if (_position is null || !ReferenceEquals(current, _entries) || !_position.MoveNext())
        {
            _entries = current;
            _position = current.GetEnumerator();
            Volatile.Write(ref _turn, _turn + 1);
            if (!_position.MoveNext())
            {
                _entries = null;
                _position = null;
                entries = null!;
                pair = default;
                return false;
            }
        }

        entries = _entries!;
        pair = _position.Current;
        return true;
    }
}
