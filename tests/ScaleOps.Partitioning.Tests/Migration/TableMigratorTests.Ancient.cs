using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Partitioning.Migration;
using ScaleOps.TestInfrastructure;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Migration;

public partial class TableMigratorTests
{
    /// <summary>
    /// One row in 1970 (or year 1000) made the conversion fill every month from it to now with a partition (682 of them
    /// for 1970, 12,322 for year 1000, nearly all empty), each slowing the planning of every query on the table. A row
    /// more than MaxPastPeriods periods (default 300 months) before the current one is refused up front, naming the
    /// oldest value, how many partitions it would need and the setting to raise.
    /// </summary>
    [Theory]
    [InlineData("mig_old_1970", "1970-01-15 08:00:00+00", "1970-01-15 08:00:00+00", 682)]
    [InlineData("mig_old_1000", "1000-03-01 00:00:00+00", "1000-03-01 00:00:00+00", 12320)]
    public async Task A_row_older_than_MaxPastPeriods_is_refused_up_front_naming_it_and_the_partitions_it_would_need(string name, string value,
        string printed, int periods)
    {
        var (host, _, _) = await SetUpAsync(name);
        using var _ = host;
        await database.DataSource.ExecAsync($"UPDATE {name} SET created_at = '{value}' WHERE id IN (7, 8)");
        var changed = await database.DataSource.ScalarAsync<string>($"SELECT md5(string_agg({name}::text, '|' ORDER BY id)) FROM {name}");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", name, name + "_new"));
        Assert.Contains($"\"public\".\"{name}\" has 2 rows whose \"created_at\" is before 2001-11-01 00:00:00+00", error.Message, StringComparison.Ordinal);
        Assert.Contains($"the oldest {printed}", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{periods} partitions", error.Message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Partitioning:Tables:0:MaxPastPeriods = 300", error.Message, StringComparison.Ordinal);

        Assert.Equal("r", await database.DataSource.ScalarAsync<string>($"SELECT relkind::text FROM pg_class WHERE oid = '{name}'::regclass"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM pg_constraint WHERE conrelid = '{name}'::regclass AND contype = 'c'"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM pg_inherits WHERE inhparent = '{name}_new'::regclass"));
        Assert.Equal(changed, await database.DataSource.ScalarAsync<string>($"SELECT md5(string_agg({name}::text, '|' ORDER BY id)) FROM {name}"));
    }

    /// <summary>A row within the bound (here raised to 12 months: May 2026 is 6 months back) converts as before.</summary>
    [Fact]
    public async Task Rows_within_MaxPastPeriods_convert_as_before()
    {
        var (host, checksum, _) = await SetUpAsync("mig_old_ok", o => o.Tables[0].MaxPastPeriods = 12);
        using var _ = host;
        var result = await host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", "mig_old_ok", "mig_old_ok_new");
        Assert.True(result.Swapped);
        Assert.Equal(6, result.PeriodsMoved);
        Assert.Equal(checksum, await database.DataSource.ScalarAsync<string>("SELECT md5(string_agg(mig_old_ok::text, '|' ORDER BY id)) FROM mig_old_ok"));
    }

    /// <summary>With MaxPastPeriods = 5, May 2026 (6 months before November) is refused too: the bound is the setting.</summary>
    [Fact]
    public async Task A_lower_MaxPastPeriods_refuses_rows_it_would_have_taken()
    {
        var (host, _, _) = await SetUpAsync("mig_old_low", o => o.Tables[0].MaxPastPeriods = 5);
        using var _ = host;
        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", "mig_old_low", "mig_old_low_new"));
        Assert.Contains("is before 2026-06-01 00:00:00+00", error.Message, StringComparison.Ordinal);
        Assert.Contains("6 partitions", error.Message, StringComparison.Ordinal);
        Assert.Contains("MaxPastPeriods = 5", error.Message, StringComparison.Ordinal);
    }
}
