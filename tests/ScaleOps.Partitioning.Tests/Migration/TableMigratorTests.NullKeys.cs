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
    /// Rows with a NULL partition key failed the CHECK's validation with PostgreSQL's bare 23514, and the CHECK (added
    /// NOT VALID) stayed on the live table: every later INSERT with a NULL key failed. Refused up front now, naming the
    /// table, the column and the count, before anything is built on the table.
    /// </summary>
    [Fact]
    public async Task Rows_with_a_null_key_are_refused_up_front_and_leave_the_live_table_as_it_was()
    {
        var (host, _, _) = await SetUpAsync("mig_nullkey");
        using var _ = host;
        await database.DataSource.ExecAsync("UPDATE mig_nullkey SET created_at = NULL WHERE id IN (3, 4, 5)");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", "mig_nullkey", "mig_nullkey_new"));
        Assert.Contains("\"public\".\"mig_nullkey\"", error.Message, StringComparison.Ordinal);
        Assert.Contains("3 rows", error.Message, StringComparison.Ordinal);
        Assert.Contains("\"created_at\" is NULL", error.Message, StringComparison.Ordinal);

        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'mig_nullkey'::regclass AND contype = 'c'"));
        Assert.Equal(1L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM pg_index WHERE indrelid = 'mig_nullkey'::regclass AND NOT indisprimary"));
        await database.DataSource.ExecAsync("INSERT INTO mig_nullkey VALUES (9001, NULL, 't1', 'still accepted'), (9002, '2030-01-01', 't1', 'far ahead')");
        Assert.Equal(2002L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM mig_nullkey"));
    }

    /// <summary>
    /// A row beyond the cut of a range CHECK (here a leftover CHECK of an earlier run whose cut is far enough ahead to be
    /// kept, and a row written before it was added) failed the validation the same way and left the CHECK on the live
    /// table. The failure now names the rows and the cut, and the CHECK is dropped: the live table takes every row again.
    /// </summary>
    [Fact]
    public async Task A_failed_range_check_validation_is_explained_and_its_check_is_dropped()
    {
        // Premake 12: the row is within the periods made ahead (a row past them is refused before any CHECK is added).
        var (host, _, _) = await SetUpAsync("mig_beyond", o => o.Tables[0].Premake = 12);
        using var _ = host;
        await database.DataSource.ExecAsync(
            "INSERT INTO mig_beyond VALUES (9001, '2027-06-15', 't1', 'beyond');"
            + "ALTER TABLE mig_beyond ADD CONSTRAINT mig_beyond_scaleops_range CHECK (created_at IS NOT NULL AND created_at < '2027-03-01 00:00:00+00') NOT VALID");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", "mig_beyond", "mig_beyond_new"));
        Assert.Contains("\"public\".\"mig_beyond\"", error.Message, StringComparison.Ordinal);
        Assert.Contains("1 rows at or after 2027-03-01", error.Message, StringComparison.Ordinal);

        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'mig_beyond'::regclass AND contype = 'c'"));
        Assert.Equal("YES", await database.DataSource.ScalarAsync<string>(
            "SELECT is_nullable FROM information_schema.columns WHERE table_name = 'mig_beyond' AND column_name = 'created_at'"));
        await database.DataSource.ExecAsync("INSERT INTO mig_beyond VALUES (9002, '2027-07-01', 't1', 'accepted again')");
        Assert.Equal(2002L, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM mig_beyond"));
    }
}
