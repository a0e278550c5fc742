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
    /// Rows whose key no period can hold (<c>infinity</c>, <c>-infinity</c>, a date BC, a year past 9999) would stay in
    /// the old table, the default partition, which the conversion drops. <c>infinity</c> failed the conversion with an
    /// ArgumentOutOfRangeException ("un-representable DateTime") while computing its cut; <c>-infinity</c> let it swap the
    /// tables and then failed every split the same way, the old table stuck as the default partition. Refused up front
    /// now, naming the table, the column and the count, before anything is built on the table.
    /// </summary>
    [Theory]
    [InlineData("mig_inf_plus", "infinity")]
    [InlineData("mig_inf_minus", "-infinity")]
    [InlineData("mig_inf_bc", "0044-03-15 12:00:00+00 BC")]
    public async Task Rows_whose_key_no_period_can_hold_are_refused_up_front_and_leave_the_live_table_as_it_was(string name, string value)
    {
        var (host, checksum, _) = await SetUpAsync(name);
        using var _ = host;
        await database.DataSource.ExecAsync($"UPDATE {name} SET created_at = '{value}' WHERE id = 7");
        var changed = await database.DataSource.ScalarAsync<string>($"SELECT md5(string_agg({name}::text, '|' ORDER BY id)) FROM {name}");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", name, name + "_new"));
        Assert.Contains($"\"public\".\"{name}\" has 1 rows whose \"created_at\" is before 0001-01-01 or from 9999-01-01 on", error.Message, StringComparison.Ordinal);
        Assert.Contains("infinity", error.Message, StringComparison.Ordinal);

        Assert.Equal("r", await database.DataSource.ScalarAsync<string>($"SELECT relkind::text FROM pg_class WHERE oid = '{name}'::regclass"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM pg_constraint WHERE conrelid = '{name}'::regclass AND contype = 'c'"));
        Assert.Equal(1L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM pg_index WHERE indrelid = '{name}'::regclass AND NOT indisprimary"));
        Assert.NotEqual(checksum, changed);
        Assert.Equal(changed, await database.DataSource.ScalarAsync<string>($"SELECT md5(string_agg({name}::text, '|' ORDER BY id)) FROM {name}"));
    }
}
