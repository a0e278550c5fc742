using System;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Partitioning.Lifecycle;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Lifecycle;

public partial class MaintenanceTests
{
    /// <summary>
    /// A connection whose DateStyle is not ISO (a database or role set to a European or the traditional style): the
    /// bounds read back from the catalog must still be the right dates. 'SQL, DMY' printed 1 November as 01/11/2026,
    /// read as 11 January: retention dropped the current partition of a date-keyed table with its rows, and a
    /// timestamptz key failed maintenance with a FormatException.
    /// </summary>
    [Theory]
    [InlineData("date", "SQL,DMY")]
    [InlineData("date", "German")]
    [InlineData("timestamptz", "SQL,DMY")]
    [InlineData("timestamptz", "German")]
    [InlineData("timestamptz", "Postgres,MDY")]
    [InlineData("timestamp", "SQL,DMY")]
    public async Task Retention_keeps_the_current_partition_whatever_the_session_DateStyle(string columnType, string dateStyle)
    {
        var name = "m_ds_" + columnType + "_" + dateStyle.Replace(",", "_", StringComparison.Ordinal).ToLowerInvariant();
        var connectionString = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Options = "-c DateStyle=" + dateStyle }.ConnectionString;
        var (host, _, maintenance) = await TableAsync(name, t => t.Retention = 2, columnType: columnType, connectionString: connectionString);
        using var _ = host;

        var first = await maintenance.RunMaintenanceAsync();
        Assert.Empty(first.Failures);
        await database.DataSource.ExecAsync($"INSERT INTO {name} VALUES (1, '2026-11-15', 'current month')");

        var second = await maintenance.RunMaintenanceAsync();
        Assert.Empty(second.Failures);
        Assert.Empty(second.Actions);
        Assert.Equal(1L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {name}"));
        var health = Assert.Single(await maintenance.GetHealthAsync());
        Assert.Contains(health.Partitions, p => p.Name == name + "_p2026_11" && p.From == new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc)
            && p.To == new DateTime(2026, 12, 1, 0, 0, 0, DateTimeKind.Utc));
    }
}
