using System;
using System.Collections.Concurrent;
using System.Threading;

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
    private long _epoch;
    private long _generation = UnknownGeneration;

    public TenantBucket(string tenant, string redisPrefix)
    {
        Tenant = tenant;
        RedisPrefix = redisPrefix;
    }

    public string Tenant { get; }

    /// <summary>The Redis key prefix of this tenant, ending with the hash tag and a colon: <c>prefix:{tenant}:</c>.</summary>
    public string RedisPrefix { get; }

    public ConcurrentDictionary<string, L1Entry> Entries => Volatile.Read(ref _entries);

    /// <summary>Bumped by every invalidation: a factory that started before one does not store its (maybe stale) result.</summary>
    public long Epoch => Volatile.Read(ref _epoch);

    /// <summary>The tenant's Redis generation as last seen, or <see cref="UnknownGeneration"/>.</summary>
    public long Generation => Volatile.Read(ref _generation);

    public void Touch() => Interlocked.Increment(ref _epoch);

    /// <summary>Drops every entry in O(1).</summary>
    /// <returns>How many entries were dropped (approximately).</returns>
    public int Clear()
    {
        Interlocked.Increment(ref _epoch);
        var old = Interlocked.Exchange(ref _entries, new ConcurrentDictionary<string, L1Entry>(StringComparer.Ordinal));
        return old.Count;
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
}
