using System;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.Partitioning.Queries;

namespace ScaleOps.Partitioning.Tests.Queries;

public class PruningBoundsTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 23, 10, 15, 30, 123, TimeSpan.Zero);

    [Fact]
    public void A_uuidv7_bounds_the_search_to_its_own_millisecond()
    {
        var id = Guid.CreateVersion7(At.AddTicks(4567));
        var (from, to) = PruningBounds.FromUuidV7(id);
        Assert.Equal(At.UtcDateTime, from);
        Assert.Equal(At.UtcDateTime.AddMilliseconds(1), to);
        Assert.Equal(DateTimeKind.Utc, from.Kind);
    }

    [Fact]
    public void A_tolerance_widens_both_sides()
    {
        var (from, to) = PruningBounds.FromUuidV7(Guid.CreateVersion7(At), TimeSpan.FromMinutes(5));
        Assert.Equal(At.UtcDateTime.AddMinutes(-5), from);
        Assert.Equal(At.UtcDateTime.AddMilliseconds(1).AddMinutes(5), to);
    }

    [Fact]
    public void An_id_without_a_timestamp_is_rejected_by_name()
    {
        var error = Assert.Throws<ArgumentException>(() => PruningBounds.FromUuidV7(Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e")));
        Assert.Contains("version 4 UUID, not version 7", error.Message, StringComparison.Ordinal);
        Assert.Equal("id", error.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => PruningBounds.FromUuidV7(Guid.CreateVersion7(At), TimeSpan.FromSeconds(-1)));
    }

    /// <summary>
    /// An id of the last millisecond a DateTime holds, or a tolerance reaching past either end of time, overflowed
    /// (ArgumentOutOfRangeException from DateTime arithmetic, not a documented exception); the bounds now stop at the
    /// ends (which Npgsql sends as -infinity and infinity). A version 7 id whose 48-bit time lies past 9999 (any id read
    /// from a request may have one) is refused naming it.
    /// </summary>
    [Fact]
    public void Bounds_stop_at_the_ends_of_time_and_an_id_past_them_is_rejected_by_name()
    {
        var last = new DateTime(9999, 12, 31, 23, 59, 59, 999, DateTimeKind.Utc);
        Assert.Equal((last, DateTime.MaxValue), PruningBounds.FromUuidV7(Guid.CreateVersion7(DateTimeOffset.MaxValue)));
        Assert.Equal((DateTime.MinValue, DateTime.MaxValue), PruningBounds.FromUuidV7(Guid.CreateVersion7(At), TimeSpan.MaxValue));
        Assert.Equal((DateTime.MinValue, DateTime.UnixEpoch.AddMilliseconds(1).AddDays(800_000)),
            PruningBounds.FromUuidV7(Guid.CreateVersion7(DateTimeOffset.UnixEpoch), TimeSpan.FromDays(800_000)));

        var error = Assert.Throws<ArgumentException>(() => PruningBounds.FromUuidV7(Guid.Parse("ffffffff-ffff-7fff-bfff-ffffffffffff")));
        Assert.Equal("id", error.ParamName);
        Assert.Contains("after 9999-12-31", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Recent_bounds_both_ends_so_the_partitions_ahead_are_pruned()
    {
        var (from, to) = PruningBounds.Recent(At, TimeSpan.FromDays(92), TimeSpan.FromMinutes(1));
        Assert.Equal(At.UtcDateTime.AddDays(-92), from);
        Assert.Equal(At.UtcDateTime.AddMinutes(1), to);
        Assert.Throws<ArgumentOutOfRangeException>(() => PruningBounds.Recent(At, TimeSpan.Zero, TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => PruningBounds.Recent(At, TimeSpan.FromDays(1), TimeSpan.FromSeconds(-1)));
    }

    // Obsolete (it cannot see real bounds, see PruningBoundsCatalogTests): its naming is still what it computes.
#pragma warning disable CS0618
    [Fact]
    public void Partitions_lists_the_partitions_of_a_range_newest_first_with_pg_partman_names()
    {
        var from = new DateTime(2026, 10, 15, 0, 0, 0, DateTimeKind.Utc);
        Assert.Equal(["audit_log_p2026_11", "audit_log_p2026_10"],
            PruningBounds.Partitions("audit_log", PartitionInterval.Month, from, new DateTime(2026, 11, 23, 0, 0, 0, DateTimeKind.Utc)));
        Assert.Equal(["audit_log_p2026_10"], PruningBounds.Partitions("audit_log", PartitionInterval.Month, from, new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc)));
        Assert.Equal(["events_p2026w48", "events_p2026w47"],
            PruningBounds.Partitions("events", PartitionInterval.Week, new DateTime(2026, 11, 22, 0, 0, 0, DateTimeKind.Utc), new DateTime(2026, 11, 24, 0, 0, 0, DateTimeKind.Utc)));
        var error = Assert.Throws<ArgumentException>(() => PruningBounds.Partitions("audit_log", PartitionInterval.Month, from, from));
        Assert.Equal("to", error.ParamName);
    }
#pragma warning restore CS0618
}
