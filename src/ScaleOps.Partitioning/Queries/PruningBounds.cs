using System;
using System.Collections.Generic;
using Npgsql;
using ScaleOps.Partitioning.Internal;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning.Queries;

/// <summary>
/// Time bounds to add to a query on a time-partitioned table so that PostgreSQL prunes partitions instead of planning
/// (or locking and starting a scan on) every one of them. Pass the bounds as parameters:
/// <c>WHERE id = $1 AND occurred_at &gt;= $2 AND occurred_at &lt; $3</c>.
/// </summary>
public static partial class PruningBounds
{
    /// <summary>
    /// The range <c>[From, To)</c> that holds the partition-key value of a row whose id is a version 7 UUID (the id
    /// starts with its Unix time in milliseconds), widened by <paramref name="tolerance"/> on both sides for rows whose
    /// partition key is not the id's own creation time (for example an event time set by the caller).
    /// </summary>
    /// <param name="id">A version 7 UUID, such as one from <see cref="Guid.CreateVersion7()"/> or <c>IAuditLog.WriteAsync</c>.</param>
    /// <param name="tolerance">How far the row's partition key may be from the id's timestamp; zero or more.</param>
    /// <returns>The inclusive start and exclusive end, in UTC; at most <see cref="DateTime.MinValue"/> and
    /// <see cref="DateTime.MaxValue"/> (which Npgsql sends as <c>-infinity</c> and <c>infinity</c>).</returns>
    /// <exception cref="ArgumentException"><paramref name="id"/> is not a version 7 UUID, or its time is after
    /// 9999-12-31 (no <see cref="DateTime"/> holds it).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tolerance"/> is negative.</exception>
    public static (DateTime From, DateTime To) FromUuidV7(Guid id, TimeSpan tolerance = default)
    {
        if (id.Version != 7)
        {
            throw new ArgumentException($"The id {id} is a version {id.Version} UUID, not version 7: it carries no time to bound the search.", nameof(id));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(tolerance, TimeSpan.Zero);
        if (!TryUuidV7Time(id, out var at))
        {
            throw new ArgumentException(
                $"The id {id} carries a time after 9999-12-31 23:59:59.999 (its first 48 bits, Unix milliseconds), which no DateTime holds.", nameof(id));
        }

        // Saturated at both ends of time: the last millisecond of 9999, or a tolerance past either end, overflowed.
        var max = DateTime.MaxValue.Ticks;
        var end = Math.Min(max, at.Ticks + TimeSpan.TicksPerMillisecond);
        return (new DateTime(tolerance.Ticks >= at.Ticks ? 0 : at.Ticks - tolerance.Ticks, DateTimeKind.Utc),
            new DateTime(tolerance.Ticks >= max - end ? max : end + tolerance.Ticks, DateTimeKind.Utc));
    }

    /// <summary>
    /// The range <c>[now - window, now + skew)</c> for "recent rows" queries. The upper bound matters as much as the
    /// lower one: without it, every partition created ahead of time stays in the plan.
    /// </summary>
    /// <param name="now">The current time.</param>
    /// <param name="window">How far back to search; more than zero.</param>
    /// <param name="skew">How far ahead of <paramref name="now"/> rows may be stamped (clock skew between hosts); zero or more.</param>
    /// <returns>The inclusive start and exclusive end, in UTC.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="window"/> is not positive or <paramref name="skew"/> is negative.</exception>
    public static (DateTime From, DateTime To) Recent(DateTimeOffset now, TimeSpan window, TimeSpan skew)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(skew, TimeSpan.Zero);
        var utc = now.UtcDateTime;
        return (utc - window, utc + skew);
    }

    /// <summary>
    /// The names of the partitions (as ScaleOps and pg_partman name them) whose periods overlap <c>[from, to)</c>,
    /// newest first, computed from <paramref name="interval"/> alone. Obsolete: it cannot see the partitions' real
    /// bounds, so where a period is held by partitions of another width (weekly ones of a table now declared monthly)
    /// or partly by a partition named with a <c>_2</c> suffix (the rest of a period that other partitions cover in
    /// part), or a partition was split, the list names a partition that exists but does not hold every row of the
    /// range, and a query on the listed partitions silently misses those rows. Use
    /// <see cref="PartitionsAsync(NpgsqlDataSource, string, string, DateTime, DateTime, System.Threading.CancellationToken)"/>,
    /// which reads them from the catalog. A partition that was dropped, detached or never created does not exist (42P01).
    /// </summary>
    /// <param name="parent">The parent table's name (without schema).</param>
    /// <param name="interval">The table's partition interval.</param>
    /// <param name="from">The inclusive start (UTC).</param>
    /// <param name="to">The exclusive end (UTC); after <paramref name="from"/>.</param>
    /// <returns>The partition names, newest first.</returns>
    /// <exception cref="ArgumentException"><paramref name="parent"/> is empty or <paramref name="to"/> is not after <paramref name="from"/>.</exception>
    [Obsolete("Names computed from the interval miss partitions of another width or with a _2 suffix, and a query on them silently misses "
        + "their rows: use PruningBounds.PartitionsAsync, which reads the partitions' real bounds from the catalog.")]
    public static IReadOnlyList<string> Partitions(string parent, PartitionInterval interval, DateTime from, DateTime to)
    {
        ArgumentException.ThrowIfNullOrEmpty(parent);
        if (to <= from)
        {
            throw new ArgumentException($"The range end {to:O} is not after its start {from:O}.", nameof(to));
        }

        var names = new List<string>();
        for (var start = PartitionPeriods.Floor(interval, Utc(from)); start < Utc(to); start = PartitionPeriods.Add(interval, start, 1))
        {
            names.Add(PartitionPeriods.Name(parent, interval, start));
        }

        names.Reverse();
        return names;
    }

    private static DateTime Utc(DateTime t) => t.Kind == DateTimeKind.Local ? t.ToUniversalTime() : DateTime.SpecifyKind(t, DateTimeKind.Utc);

    /// <summary>
    /// The Unix time in milliseconds at the start of a version 7 UUID, as a UTC time; false when it is after
    /// <see cref="DateTime.MaxValue"/> (48 bits reach the year 10889).
    /// </summary>
    internal static bool TryUuidV7Time(Guid id, out DateTime time)
    {
        Span<byte> bytes = stackalloc byte[16];
        id.TryWriteBytes(bytes, bigEndian: true, out _);
        long ms = 0;
        for (var i = 0; i < 6; i++)
        {
            ms = (ms << 8) | bytes[i];
        }

        if (ms > (DateTime.MaxValue.Ticks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerMillisecond)
        {
            time = default;
            return false;
        }

        time = DateTime.UnixEpoch.AddMilliseconds(ms);
        return true;
    }
}
