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
    /// A view reads a table by its oid, not its name: after the swap a view of the old table read the default
    /// partition, which the split empties, so it showed fewer and fewer rows (none once every closed period had moved),
    /// and the drop of the emptied old table failed on it (2BP01). The conversion is refused before anything changes.
    /// </summary>
    [Fact]
    public async Task A_table_a_view_reads_is_refused_up_front_naming_the_view()
    {
        var (host, _, _) = await SetUpAsync("mig_view");
        using var _ = host;
        await database.DataSource.ExecAsync("CREATE VIEW \"Mig view\" AS SELECT id, body FROM mig_view WHERE tenant_id = 't1'");
        var visible = await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM \"Mig view\"");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", "mig_view", "mig_view_new"));
        Assert.Contains("\"Mig view\"", error.Message, StringComparison.Ordinal);
        Assert.Contains("view", error.Message, StringComparison.Ordinal);
        Assert.Equal(visible, await database.DataSource.ScalarAsync<long>("SELECT count(*) FROM \"Mig view\""));
        Assert.Equal("r", await database.DataSource.ScalarAsync<string>("SELECT relkind::text FROM pg_class WHERE oid = 'mig_view'::regclass"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'mig_view'::regclass AND contype = 'c'")); // no range CHECK added
    }
}
