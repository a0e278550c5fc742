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
        // Both sides read the clock: if the current period ends between pg_partman's run and ours (midnight UTC for
        // daily partitions), their sets differ by one for that reason alone, so such an attempt is made again.
        for (var attempt = 1; ; attempt++)
        {
            var periodBefore = await CurrentPeriodAsync(partmanInterval);
            var (partman, scaleOps) = await CreateBothAsync(partmanInterval, interval, attempt);
            if (attempt < 3 && await CurrentPeriodAsync(partmanInterval) != periodBefore)
            {
                continue;
            }

            Assert.Equal(9, scaleOps.Count); // 4 back + current + 4 ahead, like pg_partman without a start partition
            Assert.Equal(partman.Where(p => !p.StartsWith("_default", StringComparison.Ordinal)), scaleOps);
            Assert.Contains("_default DEFAULT", partman); // pg_partman adds a default partition; ScaleOps does not (see the README)
            return;
        }
    }

    private async Task<string> CurrentPeriodAsync(string partmanInterval)
    {
        var unit = partmanInterval switch { "daily" => "day", "weekly" => "week", "monthly" => "month", "quarterly" => "quarter", _ => "year" };
        await using var command = database.DataSource.CreateCommand("SELECT date_trunc($1, now() AT TIME ZONE 'UTC')::text");
        command.Parameters.AddWithValue(unit);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    private async Task<(List<string> Partman, List<string> ScaleOps)> CreateBothAsync(string partmanInterval, PartitionInterval interval, int attempt)
    {
        var suffix = attempt == 1 ? "" : "_" + attempt;
        var theirs = "pm_" + partmanInterval + suffix;
        var ours = "so_" + partmanInterval + suffix;
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
        }, TimeProvider.System, schema: ours);
        await host.Services.GetRequiredService<IPartitionMaintenance>().RunMaintenanceAsync();

        return (Normalize(await database.DataSource.PartitionsAsync("public." + theirs), theirs),
                Normalize(await database.DataSource.PartitionsAsync("public." + ours), ours));
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
