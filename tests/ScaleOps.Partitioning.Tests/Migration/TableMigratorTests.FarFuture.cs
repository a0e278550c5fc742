using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Partitioning.Migration;
using ScaleOps.TestInfrastructure;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Migration;

public partial class TableMigratorTests
{
    /// <summary>
    /// The cut follows the newest row: one row in year 2999 put it there, so the conversion made one partition for 2999
    /// and none ahead, the old table stayed the default partition (holding every period until then) and the health report
    /// counted missing partitions for centuries. A row the partitioned table could not take without a default partition
    /// (at or after the end of the last period made ahead: Premake = 2 past November 2026 ends on 2027-02-01) is refused
    /// up front, naming the count and the bound, before anything is built on the table.
    /// </summary>
    [Theory]
    [InlineData("mig_far_2999", "2999-06-15 12:00:00+00")]
    [InlineData("mig_far_bound", "2027-02-01 00:00:00+00")]
    public async Task Rows_past_the_last_period_made_ahead_are_refused_up_front_and_leave_the_live_table_as_it_was(string name, string value)
    {
        var (host, _, _) = await SetUpAsync(name);
        using var _ = host;
        await database.DataSource.ExecAsync($"UPDATE {name} SET created_at = '{value}' WHERE id IN (7, 8)");
        var changed = await database.DataSource.ScalarAsync<string>($"SELECT md5(string_agg({name}::text, '|' ORDER BY id)) FROM {name}");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", name, name + "_new"));
        Assert.Contains($"\"public\".\"{name}\" has 2 rows whose \"created_at\" is at or after 2027-02-01 00:00:00+00", error.Message, StringComparison.Ordinal);
        Assert.Contains("Premake = 2", error.Message, StringComparison.Ordinal);

        Assert.Equal("r", await database.DataSource.ScalarAsync<string>($"SELECT relkind::text FROM pg_class WHERE oid = '{name}'::regclass"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM pg_constraint WHERE conrelid = '{name}'::regclass AND contype = 'c'"));
        Assert.Equal(1L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM pg_index WHERE indrelid = '{name}'::regclass AND NOT indisprimary"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM pg_inherits WHERE inhparent = '{name}_new'::regclass"));
        Assert.Equal(changed, await database.DataSource.ScalarAsync<string>($"SELECT md5(string_agg({name}::text, '|' ORDER BY id)) FROM {name}"));
    }

    /// <summary>
    /// A row in the last period made ahead is taken: the cut follows it (two periods past it), and the old table stays
    /// the default partition, holding the periods before the cut, until they have closed.
    /// </summary>
    [Fact]
    public async Task A_row_in_the_last_period_made_ahead_is_converted_and_moves_the_cut_with_it()
    {
        var (host, _, _) = await SetUpAsync("mig_far_last");
        using var _ = host;
        await database.DataSource.ExecAsync("UPDATE mig_far_last SET created_at = '2027-01-31 23:59:59.999999+00' WHERE id = 7");

        var result = await host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", "mig_far_last", "mig_far_last_new");
        Assert.True(result.Swapped);
        Assert.Contains("mig_far_last_p2027_03 FOR VALUES FROM ('2027-03-01 00:00:00+00') TO ('2027-04-01 00:00:00+00')",
            await database.DataSource.PartitionsAsync("public.mig_far_last"));
        Assert.Equal("mig_far_last_default", await database.DataSource.ScalarAsync<string>("SELECT tableoid::regclass::text FROM mig_far_last WHERE id = 7"));
        Assert.Equal(2000L, result.RowsAfter);
    }

    /// <summary>
    /// A range CHECK left by an interrupted run whose cut followed a far-future row since deleted (here 3000-01-01) was
    /// kept, since it lies more than a period ahead: the conversion made one partition for year 3000 and none ahead. A
    /// cut past the one a row of the last period made ahead gives is replaced like one too close.
    /// </summary>
    [Fact]
    public async Task A_leftover_range_check_cut_far_ahead_is_replaced_by_the_usual_cut()
    {
        var (host, _, _) = await SetUpAsync("mig_far_left");
        using var _ = host;
        await database.DataSource.ExecAsync(
            "ALTER TABLE mig_far_left ADD CONSTRAINT mig_far_left_scaleops_range CHECK (created_at IS NOT NULL AND created_at < '3000-01-01 00:00:00+00') NOT VALID");

        var result = await host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", "mig_far_left", "mig_far_left_new");
        Assert.True(result.Swapped);
        var partitions = await database.DataSource.PartitionsAsync("public.mig_far_left");
        Assert.Contains("mig_far_left_p2027_01 FOR VALUES FROM ('2027-01-01 00:00:00+00') TO ('2027-02-01 00:00:00+00')", partitions);
        Assert.DoesNotContain(partitions, p => p.Contains("3000", StringComparison.Ordinal));
    }
}
