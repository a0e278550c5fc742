using System;

namespace ScaleOps.Caching.Internal.L1;

/// <summary>An in-memory entry. Times are milliseconds of the cache's memory clock.</summary>
internal abstract class L1Entry(long freshUntil, long keepUntil, string[]? tags, long logicalFreshUntil)
{
    /// <summary>A <see cref="LogicalFreshUntil"/> that is never reached: the entry is never refreshed eagerly.</summary>
    public const long NoEagerRefresh = long.MaxValue;

    /// <summary>Until when the value is fresh in memory (its <c>LocalExpiration</c> may end it before its freshness).</summary>
    public long FreshUntil { get; } = freshUntil;

    /// <summary>
    /// Until when the value itself is fresh (its Redis fresh-until, which a shorter memory lifetime does not move): eager
    /// refresh measures from it. <see cref="NoEagerRefresh"/> for nulls and fail-safe copies, never refreshed eagerly.
    /// </summary>
    public long LogicalFreshUntil { get; } = logicalFreshUntil;

    /// <summary>Until when the value may still be served by fail-safe; the sweeper drops it afterwards.</summary>
    public long KeepUntil { get; } = keepUntil;

    public string[]? Tags { get; } = tags;

    /// <summary>
    /// Set by a memory hit, cleared by the eviction scan (CLOCK's reference bit): an entry read since the last scan
    /// survives one more. A plain field write, and only when it changes, so a hit takes no lock and allocates nothing.
    /// </summary>
    public bool Used { get; set; }

    /// <summary>The eviction hand's turn when the entry was stored: the hand lets it be until its next turn.</summary>
    public int Turn { get; set; }

    /// <summary>The eviction scan that last cleared <see cref="Used"/>: that scan does not evict the entry.</summary>
    public int SparedInScan { get; set; }

    /// <summary>
    /// The tenant's eviction hand's turn when the entry was stored (<see cref="TenantHand"/>, only with a per-tenant
    /// bound), modulo 256. One byte, like <see cref="TenantSparedInScan"/>: the two fit in the object's padding for every
    /// value type up to 4 bytes, and for references (an entry stays 64 or 72 bytes); a mark that wrapped round only
    /// spares an entry once more.
    /// </summary>
    public byte TenantTurn { get; set; }

    /// <summary>The tenant's eviction scan (modulo 256) that last cleared <see cref="Used"/>: that scan does not evict the entry.</summary>
    public byte TenantSparedInScan { get; set; }

    public bool HasTag(string tag) => Tags is { } tags && Array.IndexOf(tags, tag) >= 0;
}

/// <summary>An in-memory entry holding a <typeparamref name="T"/>: read without a cast or a copy.</summary>
internal sealed class L1Entry<T>(T value, long freshUntil, long keepUntil, string[]? tags, long logicalFreshUntil = L1Entry.NoEagerRefresh)
    : L1Entry(freshUntil, keepUntil, tags, logicalFreshUntil)
{
    public T Value { get; } = value;
}
