using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Migrations;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Jobs.Tests.Support;

/// <summary>A fresh database per test class, cloned from a template that already has the jobs schema.</summary>
public class JobsDatabase : PostgresDatabase
{
    protected override async Task InitializeTemplateAsync(string templateDatabase)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddScaleOps(o => o.ConnectionString = PostgresServer.ConnectionStringFor(templateDatabase, pooling: false)).AddJobs();
        await using var provider = services.BuildServiceProvider();
        await provider.GetRequiredService<IScaleOpsMigrator>().MigrateAsync();
        await provider.GetRequiredService<NpgsqlDataSource>().DisposeAsync();
    }

    /// <summary>Runs a scalar query.</summary>
    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var command = DataSource.CreateCommand(sql);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Runs a statement.</summary>
    public async Task ExecuteAsync(string sql)
    {
        await using var command = DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}
