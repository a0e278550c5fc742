using System;
using System.Linq;
using System.Threading.Tasks;
using ScaleOps.TestInfrastructure;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Lifecycle;

public partial class MaintenanceTests
{
    /// <summary>
    /// Rows in the default partition more than MaxPastPeriods periods (default 300 months) before the current one are
    /// not moved into partitions of their own (scattered bad dates made one partition per distinct period, however far
    /// back): they stay in the default partition and every run reports them, naming the oldest value, how many
    /// partitions they would need and the setting to raise. The other closed periods move as before.
    /// </summary>
    [Theory]
    [InlineData("m_ancient", "timestamptz", " 00:00:00+00")]
    [InlineData("m_ancient_d", "date", "")]
    public async Task Rows_older_than_MaxPastPeriods_stay_in_the_default_partition_and_are_reported(string name, string columnType, string time)
    {
        var (host, _, maintenance) = await TableAsync(name, columnType: columnType);
        using var _ = host;
        await database.DataSource.ExecAsync(
            $"CREATE TABLE {name}_default PARTITION OF {name} DEFAULT;"
            + $"INSERT INTO {name} VALUES (1, '1970-01-15 08:00:00+00', 'epoch'), (2, '1970-03-01 00:00:00+00', 'epoch'), (3, '1000-06-01 00:00:00+00', 'old'),"
            + "(4, '2026-09-10 00:00:00+00', 'recent')");

        var result = await maintenance.RunMaintenanceAsync();
        var failure = Assert.Single(result.Failures);
        Assert.Null(failure.Action);
        Assert.Contains($"3 rows of \"public\".\"{name}_default\" have a \"created_at\" before 2001-11-01{time}", failure.Error.Message, StringComparison.Ordinal);
        Assert.Contains($"the oldest 1000-06-01{time};", failure.Error.Message, StringComparison.Ordinal);
        Assert.Contains("3 partitions", failure.Error.Message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Partitioning:Tables:0:MaxPastPeriods = 300", failure.Error.Message, StringComparison.Ordinal);

        var partitions = await database.DataSource.PartitionsAsync($"public.{name}");
        Assert.DoesNotContain(partitions, p => p.Contains("_p1970", StringComparison.Ordinal) || p.Contains("_p1000", StringComparison.Ordinal));
        Assert.Contains(partitions, p => p.StartsWith($"{name}_p2026_09 ", StringComparison.Ordinal));
        Assert.Equal(new long[] { 1, 2, 3 }, await database.DataSource.ScalarAsync<long[]>($"SELECT array_agg(id ORDER BY id) FROM {name}_default"));

        // Said again at the next run, the rows still where they were.
        Assert.Single((await maintenance.RunMaintenanceAsync()).Failures);
    }
}
