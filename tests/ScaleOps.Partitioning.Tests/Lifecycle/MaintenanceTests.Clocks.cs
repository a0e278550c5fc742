using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Data;
using ScaleOps.Internal;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Partitioning.Tests.Lifecycle;

/// <summary>The periods maintenance works on are the database's, whatever the maintenance host's clock says.</summary>
public partial class MaintenanceTests
{
    [Fact]
    public async Task A_maintenance_host_whose_clock_is_months_ahead_drops_no_current_partition()
    {
        // The current period, the partitions made ahead and retention's cutoff came from the maintenance host's clock: a
        // host 100 days ahead took the current month for one past the 1-month retention and dropped it, rows included.
        const string Name = "m_clock_ahead";
        var quoted = SqlIdentifier.Qualify("public", Name);
        await database.DataSource.ExecAsync(
            $"CREATE TABLE {quoted} (id bigint NOT NULL, created_at timestamptz NOT NULL, body text) PARTITION BY RANGE (created_at)");
        IPartitionMaintenance Maintenance(Microsoft.Extensions.Hosting.IHost host) => host.Services.GetRequiredService<IPartitionMaintenance>();
        Microsoft.Extensions.Hosting.IHost Host(TimeSpan skew) => TestHost.Build(database.ConnectionString, o =>
        {
            o.Audit.Enabled = false;
            o.RunMaintenanceOnStart = false;
            o.DdlRetryDelay = TimeSpan.Zero;
            o.Tables.Add(new PartitionedTableOptions { Name = Name, Column = "created_at", Premake = 1, Retention = 1 });
        }, new SkewedTime(skew), schema: "so_clock_ahead", services: s => s.AddSingleton(new MeasuredDatabaseClock()));

        using (var onTime = Host(TimeSpan.Zero))
        {
            await onTime.Services.GetRequiredService<DatabaseClock>().MeasureAsync(); // what a host's start does
            Assert.True((await Maintenance(onTime).RunMaintenanceAsync()).Ran);
        }

        await database.DataSource.ExecAsync($"INSERT INTO {quoted} VALUES (1, now(), 'this month')");
        using var ahead = Host(TimeSpan.FromDays(100));
        await ahead.Services.GetRequiredService<DatabaseClock>().MeasureAsync();
        var result = await Maintenance(ahead).RunMaintenanceAsync();

        Assert.DoesNotContain(result.Actions, a => a.Kind == PartitionActionKind.Drop);
        Assert.Equal(1L, await database.DataSource.ScalarAsync<long>($"SELECT count(*) FROM {quoted}"));
    }
}
