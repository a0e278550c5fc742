using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Partitioning.Tests.Lifecycle;

/// <summary>A database with pg_partman 4.7 (installed by scripts/servers.d/partman.sh).</summary>
public sealed class PartmanDatabase : PostgresDatabase
{
    protected override async Task InitializeTemplateAsync(string templateDatabase)
    {
        try
        {
            await PostgresServer.ExecuteAsync("CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman", templateDatabase);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedFile)
        {
            throw new ServerMissingException(
                $"pg_partman is not installed on the test PostgreSQL server ({ex.MessageText}). Run `{TestServers.StartCommand}` (scripts/servers.d/partman.sh installs it).", ex);
        }
    }
}

/// <summary>Same configuration, same partitions as pg_partman 4.7's create_parent: names and bounds, compared on the real server clock.</summary>
public class PartmanParityTests(PartmanDatabase database) : IClassFixture<PartmanDatabase>
{
    [Theory]
    [InlineData("daily", PartitionInterval.Day)]
    [InlineData("weekly", PartitionInterval.Week)]
    [InlineData("monthly", PartitionInterval.Month)]
    [InlineData("quarterly", PartitionInterval.Quarter)]
    [InlineData("yearly", PartitionInterval.Year)]
    public async Task Names_and_bounds_match_pg_partman(string partmanInterval, PartitionInterval interval)
    {
        var theirs = "pm_" + partmanInterval;
        var ours = "so_" + partmanInterval;
        foreach (var table in new[] { theirs, ours })
        {
            await database.DataSource.ExecAsync(
                $"CREATE TABLE {table} (id bigint NOT NULL, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at)");
        }

        await using (var connection = await database.DataSource.OpenConnectionAsync())
        await using (var create = new NpgsqlCommand(
            "SET TimeZone = 'UTC'; SELECT partman.create_parent(p_parent_table := 'public." + theirs + "', p_control := 'created_at', "
            + "p_type := 'native', p_interval := '" + partmanInterval + "', p_premake := 4)", connection))
        {
            await create.ExecuteNonQueryAsync();
        }

        using var host = TestHost.Build(database.ConnectionString, o =>
        {
            o.Audit.Enabled = false;
            o.Tables.Add(new PartitionedTableOptions { Name = ours, Column = "created_at", Interval = interval, Premake = 4 });
        }, TimeProvider.System, schema: "so_" + partmanInterval);
        await host.Services.GetRequiredService<IPartitionMaintenance>().RunMaintenanceAsync();

        var partman = Normalize(await database.DataSource.PartitionsAsync("public." + theirs), theirs);
        var scaleOps = Normalize(await database.DataSource.PartitionsAsync("public." + ours), ours);
        Assert.Equal(9, scaleOps.Count); // 4 back + current + 4 ahead, like pg_partman without a start partition
        Assert.Equal(partman.Where(p => !p.StartsWith("_default", StringComparison.Ordinal)), scaleOps);
        Assert.Contains("_default DEFAULT", partman); // pg_partman adds a default partition; ScaleOps does not (see the README)
    }

    [Fact]
    public async Task Missing_future_partitions_are_recreated_exactly_without_pg_partmans_extra_one()
    {
        await database.DataSource.ExecAsync("CREATE TABLE so_gap (id bigint NOT NULL, created_at timestamptz NOT NULL) PARTITION BY RANGE (created_at)");
        using var host = TestHost.Build(database.ConnectionString, o =>
        {
            o.Audit.Enabled = false;
            o.Tables.Add(new PartitionedTableOptions { Name = "so_gap", Column = "created_at", Premake = 4 });
        }, TimeProvider.System, schema: "so_gap");
        var maintenance = host.Services.GetRequiredService<IPartitionMaintenance>();
        await maintenance.RunMaintenanceAsync();
        var all = await database.DataSource.PartitionsAsync("public.so_gap");
        var lastTwo = all.TakeLast(2).Select(p => p.Split(' ')[0]).ToList();
        foreach (var partition in lastTwo)
        {
            await database.DataSource.ExecAsync($"DROP TABLE {partition}");
        }

        var result = await maintenance.RunMaintenanceAsync();
        Assert.Equal(lastTwo, result.Actions.Select(a => a.Partition));
        Assert.Equal(all, await database.DataSource.PartitionsAsync("public.so_gap"));
    }

    private static List<string> Normalize(IEnumerable<string> partitions, string table) =>
        [.. partitions.Select(p => p[table.Length..]).Order(StringComparer.Ordinal)];
}
