using System;
using System.Linq;
using System.Threading.Tasks;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Lifecycle;

public partial class MaintenanceTests
{
    /// <summary>
    /// Partitions of another width already attached (a table pg_partman kept weekly, now declared monthly) cover part of
    /// the current month and of the next: every time from the start of the current month to the end of the last one
    /// ahead must still have a partition after a run (an INSERT there would fail otherwise), and until then the health
    /// report counts the periods only partly covered as missing.
    /// </summary>
    [Fact]
    public async Task Periods_partly_covered_by_existing_partitions_get_partitions_for_the_rest()
    {
        var (host, _, maintenance) = await TableAsync("m_weeks");
        using var _ = host;
        await database.DataSource.ExecAsync(
            "CREATE TABLE m_weeks_p2026w48 PARTITION OF m_weeks FOR VALUES FROM ('2026-11-23 00:00+00') TO ('2026-11-30 00:00+00');"
            + "CREATE TABLE m_weeks_p2026w49 PARTITION OF m_weeks FOR VALUES FROM ('2026-11-30 00:00+00') TO ('2026-12-07 00:00+00');"
            // A partition under the period's own name that covers only part of it: the rest needs another name.
            + "CREATE TABLE m_weeks_p2027_01 PARTITION OF m_weeks FOR VALUES FROM ('2027-01-01 00:00+00') TO ('2027-01-10 00:00+00')");
        Assert.Equal(3, Assert.Single(await maintenance.GetHealthAsync()).MissingFuturePartitions);

        var run = await maintenance.RunMaintenanceAsync();
        Assert.Empty(run.Failures);
        var partitions = await database.DataSource.PartitionsAsync("public.m_weeks");
        Assert.Contains("m_weeks_p2026_11 FOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-11-23 00:00:00+00')", partitions);
        Assert.Contains("m_weeks_p2026_12 FOR VALUES FROM ('2026-12-07 00:00:00+00') TO ('2027-01-01 00:00:00+00')", partitions);
        Assert.Contains("m_weeks_p2027_01_2 FOR VALUES FROM ('2027-01-10 00:00:00+00') TO ('2027-02-01 00:00:00+00')", partitions);
        foreach (var at in new[] { "2026-11-01", "2026-11-22 23:59", "2026-11-25", "2026-12-07", "2026-12-31 23:59", "2027-01-31 23:59" })
        {
            await database.DataSource.ExecAsync($"INSERT INTO m_weeks VALUES (1, '{at}+00', 'in a partition')");
        }

        Assert.Equal(0, Assert.Single(await maintenance.GetHealthAsync()).MissingFuturePartitions);
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Actions);
    }

    /// <summary>
    /// A partition made by hand whose bound is not a whole second (here half past noon and half a second, and a
    /// microsecond past midnight for a timestamp key): the partition for the rest of the period was attached from the
    /// whole second, which overlaps it, so its creation failed at every run and the rest of the month had no partition.
    /// Bounds keep their microseconds.
    /// </summary>
    [Theory]
    [InlineData("m_frac_tz", "timestamptz", "2026-11-15 12:30:00.5+00", "2026-11-15 12:30:00.5+00")]
    [InlineData("m_frac_ts", "timestamp", "2026-11-15 00:00:00.000001", "2026-11-15 00:00:00.000001")]
    public async Task A_period_partly_covered_up_to_a_fraction_of_a_second_gets_a_partition_from_that_instant(
        string name, string columnType, string bound, string printed)
    {
        var (host, _, maintenance) = await TableAsync(name, columnType: columnType);
        using var _ = host;
        await database.DataSource.ExecAsync($"CREATE TABLE {name}_first_half PARTITION OF {name} FOR VALUES FROM ('2026-11-01') TO ('{bound}')");

        var run = await maintenance.RunMaintenanceAsync();
        Assert.Empty(run.Failures);
        var zone = columnType == "timestamptz" ? "+00" : "";
        Assert.Contains($"{name}_p2026_11 FOR VALUES FROM ('{printed}') TO ('2026-12-01 00:00:00{zone}')", await database.DataSource.PartitionsAsync("public." + name));
        Assert.Equal(0, Assert.Single(await maintenance.GetHealthAsync()).MissingFuturePartitions);
    }

    /// <summary>
    /// Rows in a default partition of a period that partitions of another width cover in part (pg_partman's weekly
    /// partitions and its default, for a table now declared monthly): the move made one partition for the whole month,
    /// whose ATTACH overlapped the weekly ones, so it failed at every run and the rows never left the default. They move
    /// into partitions for the parts of the period no partition covers, named like the creates' (<c>_2</c> for the second).
    /// </summary>
    [Fact]
    public async Task Default_rows_of_a_period_partly_covered_by_other_partitions_move_into_the_uncovered_parts()
    {
        var (host, _, maintenance) = await TableAsync("m_movegap");
        using var _ = host;
        await database.DataSource.ExecAsync(
            "CREATE TABLE m_movegap_p2026w11 PARTITION OF m_movegap FOR VALUES FROM ('2026-03-09 00:00+00') TO ('2026-03-16 00:00+00');"
            + "CREATE TABLE m_movegap_p2026w12 PARTITION OF m_movegap FOR VALUES FROM ('2026-03-16 00:00+00') TO ('2026-03-23 00:00+00');"
            + "CREATE TABLE m_movegap_default PARTITION OF m_movegap DEFAULT;"
            + "INSERT INTO m_movegap VALUES (1, '2026-03-01 00:00+00', 'first'), (2, '2026-03-08 23:59:59.999999+00', 'before the weeks'), "
            + "(3, '2026-03-10 00:00+00', 'in a week'), (4, '2026-03-23 00:00+00', 'after the weeks'), (5, '2026-03-31 23:59:59.999999+00', 'last')");

        var run = await maintenance.RunMaintenanceAsync();
        Assert.Empty(run.Failures);
        Assert.Equal(["m_movegap_p2026_03", "m_movegap_p2026_03", "m_movegap_p2026w11", "m_movegap_p2026_03_2", "m_movegap_p2026_03_2"],
            await database.DataSource.ColumnAsync("SELECT tableoid::regclass::text FROM m_movegap ORDER BY id"));
        var partitions = await database.DataSource.PartitionsAsync("public.m_movegap");
        Assert.Contains("m_movegap_p2026_03 FOR VALUES FROM ('2026-03-01 00:00:00+00') TO ('2026-03-09 00:00:00+00')", partitions);
        Assert.Contains("m_movegap_p2026_03_2 FOR VALUES FROM ('2026-03-23 00:00:00+00') TO ('2026-04-01 00:00:00+00')", partitions);
        Assert.Equal(0, Assert.Single(await maintenance.GetHealthAsync()).DefaultPartitionRows);
        Assert.Empty((await maintenance.RunMaintenanceAsync()).Actions);
    }
}
