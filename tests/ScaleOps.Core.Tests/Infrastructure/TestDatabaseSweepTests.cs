using System;
using System.Diagnostics;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Core.Tests.Infrastructure;

/// <summary>The test server does not fill up with the databases of test hosts that were killed at the end of a run.</summary>
public class TestDatabaseSweepTests
{
    [Fact]
    public async Task Databases_of_exited_test_processes_are_dropped_and_live_ones_kept()
    {
        int deadPid;
        using (var exited = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!)
        {
            await exited.WaitForExitAsync();
            deadPid = exited.Id;
        }

        Assert.False(PostgresServer.IsRunning(deadPid));
        var dead = $"tpl_{deadPid}_sweep_probe";
        var live = $"t_{Environment.ProcessId}_sweep_probe";
        await PostgresServer.ExecuteAsync($"DROP DATABASE IF EXISTS \"{dead}\"");
        await PostgresServer.ExecuteAsync($"DROP DATABASE IF EXISTS \"{live}\"");
        await PostgresServer.ExecuteAsync($"CREATE DATABASE \"{dead}\"");
        await PostgresServer.ExecuteAsync($"CREATE DATABASE \"{live}\"");
        try
        {
            await PostgresServer.DropStaleDatabasesAsync();

            Assert.False(await ExistsAsync(dead));
            Assert.True(await ExistsAsync(live));
        }
        finally
        {
            await PostgresServer.ExecuteAsync($"DROP DATABASE IF EXISTS \"{dead}\"");
            await PostgresServer.ExecuteAsync($"DROP DATABASE IF EXISTS \"{live}\"");
        }
    }

    private static async Task<bool> ExistsAsync(string name)
    {
        await using var connection = await PostgresServer.OpenAdminAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_database WHERE datname = $1", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = name });
        return (long)(await command.ExecuteScalarAsync())! == 1;
    }
}
