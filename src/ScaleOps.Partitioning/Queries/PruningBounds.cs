using System;

namespace ScaleOps.Partitioning.Queries;

/// <summary>
/// Time bounds to add to a query on a time-partitioned table so that PostgreSQL prunes partitions instead of planning
/// (or locking and starting a scan on) every one of them. Pass the bounds as parameters:
/// <c>WHERE id = $1 AND occurred_at &gt;= $2 AND occurred_at &lt; $3</c>.
/// </summary>
public static class PruningBounds
{
    /// <summary>
    /// The range <c>[From, To)</c> that holds the partition-key value of a row whose id is a version 7 UUID (the id
    /// starts with its Unix time in milliseconds), widened by <paramref name="tolerance"/> on both sides for rows whose
    /// partition key is not the id's own creation time (for example an event time set by the caller).
    /// </summary>
    /// <param name="id">A version 7 UUID, such as one from <see cref="Guid.CreateVersion7()"/> or <c>IAuditLog.WriteAsync</c>.</param>
    /// <param name="tolerance">How far the row's partition key may be from the id's timestamp; zero or more.</param>
    /// <returns>The inclusive start and exclusive end, in UTC.</returns>
    /// <exception cref="ArgumentException"><paramref name="id"/> is not a version 7 UUID.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tolerance"/> is negative.</exception>
    public static (DateTime From, DateTime To) FromUuidV7(Guid id, TimeSpan tolerance = default)
    {
        if (id.Version != 7)
        {
            throw new ArgumentException($"The id {id} is a version {id.Version} UUID, not version 7: it carries no time to bound the search.", nameof(id));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(tolerance, TimeSpan.Zero);
        var at = UuidV7Time(id);
        return (at - tolerance, at.AddMilliseconds(1) + tolerance);
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

    /// <summary>The Unix time in milliseconds at the start of a version 7 UUID, as a UTC time.</summary>
    internal static DateTime UuidV7Time(Guid id)
    {
        Span<byte> bytes = stackalloc byte[16];
        id.TryWriteBytes(bytes, bigEndian: true, out _);
        long ms = 0;
        for (var i = 0; i < 6; i++)
        {
            ms = (ms << 8) | bytes[i];
        }

        return DateTime.UnixEpoch.AddMilliseconds(ms);
    }
}
