using System.Threading.Tasks;
using Microsoft.Extensions.Hosting;
using Npgsql;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Partitioning.Tests;

public class PlanCacheModeTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task The_start_sets_plan_cache_mode_as_the_roles_default_in_this_database_for_new_sessions()
    {
        Assert.Equal("auto", await ShowAsync());
        using var host = TestHost.Build(database.ConnectionString, o =>
        {
            o.Audit.Enabled = false;
            o.RunMaintenanceOnStart = false;
            o.PlanCacheMode = "force_generic_plan";
        });
        await host.StartAsync();
        try
        {
            Assert.Equal("force_generic_plan", await ShowAsync());
            Assert.Equal("auto", await ShowAsync("postgres")); // only this database
        }
        finally
        {
            await host.StopAsync();
            await database.DataSource.ExecAsync($"ALTER ROLE CURRENT_USER IN DATABASE \"{database.Name}\" RESET plan_cache_mode");
        }
    }

    /// <summary>plan_cache_mode in a new (unpooled) session.</summary>
    private async Task<string> ShowAsync(string? databaseName = null)
    {
        var builder = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Pooling = false };
        if (databaseName is not null)
        {
            builder.Database = databaseName;
        }

        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SHOW plan_cache_mode", connection);
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
