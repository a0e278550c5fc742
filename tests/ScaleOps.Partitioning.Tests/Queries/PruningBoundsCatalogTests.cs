using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.Partitioning.Queries;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Partitioning.Tests.Queries;

/// <summary>
/// Querying partitions by name must read every partition that holds rows of the range: partitions of another width
/// (weekly ones pg_partman made for a table now declared monthly) and the rest of a period made under a <c>_2</c> name.
/// </summary>
public class PruningBoundsCatalogTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private static DateTime Utc(int month, int day) => new(2026, month, day, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>Weekly partitions for 2 to 16 November, then the table declared monthly: maintenance fills the rest.</summary>
    private async Task WeeklyThenMonthlyAsync(string table)
    {
        await database.DataSource.ExecAsync(
            $"CREATE TABLE {table} (id bigint NOT NULL, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at);"
            + $"CREATE TABLE {table}_p2026w45 PARTITION OF {table} FOR VALUES FROM ('2026-11-02 00:00+00') TO ('2026-11-09 00:00+00');"
            + $"CREATE TABLE {table}_p2026w46 PARTITION OF {table} FOR VALUES FROM ('2026-11-09 00:00+00') TO ('2026-11-16 00:00+00')");
        using var host = TestHost.Build(database.ConnectionString, o =>
        {
            o.Audit.Enabled = false;
            o.RunMaintenanceOnStart = false;
            o.DdlRetryDelay = TimeSpan.Zero;
            o.Tables.Add(new PartitionedTableOptions { Name = table, Column = "created_at", Interval = PartitionInterval.Month, Premake = 1 });
        }, schema: "so_" + table);
        Assert.Empty((await host.Services.GetRequiredService<IPartitionMaintenance>().RunMaintenanceAsync()).Failures);
        await database.DataSource.ExecAsync(
            $"INSERT INTO {table} VALUES (1, '2026-11-01 12:00+00'), (2, '2026-11-10 00:00+00'), (3, '2026-11-20 00:00+00'), (4, '2026-12-05 00:00+00')");
    }

    [Fact]
    public async Task The_partitions_listed_for_a_range_hold_every_row_of_it_when_widths_differ()
    {
        await WeeklyThenMonthlyAsync("pb_weeks");
        Assert.Contains("pb_weeks_p2026_11_2 FOR VALUES FROM ('2026-11-16 00:00:00+00') TO ('2026-12-01 00:00:00+00')",
            await database.DataSource.PartitionsAsync("public.pb_weeks"));

        var listed = await PruningBounds.PartitionsAsync(database.DataSource, "public", "pb_weeks", Utc(11, 1), Utc(12, 1));

        Assert.Equal(["\"public\".\"pb_weeks_p2026_11_2\"", "\"public\".\"pb_weeks_p2026w46\"", "\"public\".\"pb_weeks_p2026w45\"",
            "\"public\".\"pb_weeks_p2026_11\""], listed);
        var union = string.Join(" UNION ALL ", listed.Select(p => $"SELECT id FROM {p} WHERE created_at >= '2026-11-01' AND created_at < '2026-12-01'"));
        Assert.Equal(["1", "2", "3"], await database.DataSource.ColumnAsync($"SELECT id FROM ({union}) s ORDER BY id"));
        // A part of one week, and a range across the month's end.
        Assert.Equal(["\"public\".\"pb_weeks_p2026w46\""], await PruningBounds.PartitionsAsync(database.DataSource, "public", "pb_weeks",
            new DateTime(2026, 11, 10, 5, 0, 0, DateTimeKind.Utc), Utc(11, 12)));
        Assert.Equal(["\"public\".\"pb_weeks_p2026_12\"", "\"public\".\"pb_weeks_p2026_11_2\""],
            await PruningBounds.PartitionsAsync(database.DataSource, "public", "pb_weeks", Utc(11, 20), Utc(12, 10)));
    }

    [Fact]
    public async Task The_default_partition_is_listed_when_the_range_is_not_wholly_covered_by_the_others()
    {
        await database.DataSource.ExecAsync(
            "CREATE TABLE pb_def (id bigint NOT NULL, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at);"
            + "CREATE TABLE pb_def_p2026_11 PARTITION OF pb_def FOR VALUES FROM ('2026-11-01 00:00+00') TO ('2026-12-01 00:00+00');"
            + "CREATE TABLE \"PB Def Rest\" PARTITION OF pb_def DEFAULT;"
            + "INSERT INTO pb_def VALUES (1, '2026-10-31 23:00+00'), (2, '2026-11-02 00:00+00')");

        var across = await PruningBounds.PartitionsAsync(database.DataSource, "public", "pb_def", Utc(10, 31), Utc(11, 3));
        Assert.Equal(["\"public\".\"pb_def_p2026_11\"", "\"public\".\"PB Def Rest\""], across);
        var union = string.Join(" UNION ALL ", across.Select(p => $"SELECT id FROM {p} WHERE created_at >= '2026-10-31' AND created_at < '2026-11-03'"));
        Assert.Equal(["1", "2"], await database.DataSource.ColumnAsync($"SELECT id FROM ({union}) s ORDER BY id"));
        Assert.Equal(["\"public\".\"pb_def_p2026_11\""], await PruningBounds.PartitionsAsync(database.DataSource, "public", "pb_def", Utc(11, 2), Utc(11, 3)));
    }

    [Fact]
    public async Task A_table_that_is_not_range_partitioned_or_missing_is_refused_by_name()
    {
        await database.DataSource.ExecAsync("CREATE TABLE pb_plain (id bigint, created_at timestamptz);"
            + "CREATE TABLE pb_list (id bigint, kind text) PARTITION BY LIST (kind)");

        var plain = await Assert.ThrowsAsync<InvalidOperationException>(() => PruningBounds.PartitionsAsync(database.DataSource, "public", "pb_plain", Utc(11, 1), Utc(12, 1)));
        Assert.Equal("\"public\".\"pb_plain\" does not exist or is not a partitioned table.", plain.Message);
        var missing = await Assert.ThrowsAsync<InvalidOperationException>(() => PruningBounds.PartitionsAsync(database.DataSource, "public", "pb_none", Utc(11, 1), Utc(12, 1)));
        Assert.Contains("pb_none", missing.Message, StringComparison.Ordinal);
        var list = await Assert.ThrowsAsync<InvalidOperationException>(() => PruningBounds.PartitionsAsync(database.DataSource, "public", "pb_list", Utc(11, 1), Utc(12, 1)));
        Assert.Contains("not partitioned by range on one column", list.Message, StringComparison.Ordinal);
        var range = await Assert.ThrowsAsync<ArgumentException>(() => PruningBounds.PartitionsAsync(database.DataSource, "public", "pb_list", Utc(11, 1), Utc(11, 1)));
        Assert.Equal("to", range.ParamName);
    }
}
