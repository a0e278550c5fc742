using System;
using System.Threading.Tasks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using ScaleOps.Partitioning;

namespace ScaleOps.Partitioning.Tests;

/// <summary>Builds hosts and services against a test database, with fake time.</summary>
internal static class TestHost
{
    /// <summary>Monday 2026-11-23 10:00 UTC, the day pg_partman's reference behaviour was recorded.</summary>
    public static readonly DateTimeOffset Monday = new(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);

    public static IHost Build(string connectionString, Action<PartitioningOptions> configure, TimeProvider? time = null, string schema = "scaleops",
        Action<IServiceCollection>? services = null, System.Collections.Generic.IReadOnlyDictionary<string, string?>? settings = null)
    {
        var builder = Host.CreateApplicationBuilder();
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings); // appsettings keys, bound before the code's options
        }

        builder.Services.AddSingleton(time ?? new FakeTimeProvider(Monday));
        builder.Services.AddScaleOps(o =>
        {
            o.ConnectionString = connectionString;
            o.Schema = schema;
        }).AddPartitioning(configure);
        services?.Invoke(builder.Services);
        return builder.Build();
    }

    /// <summary>
    /// Applies the ScaleOps migrations, as starting the host does (the tests use its services without starting it):
    /// archiving and restoring need the archive identity that migration partitioning/2 makes.
    /// </summary>
    public static async Task<IHost> MigratedAsync(this IHost host)
    {
        await host.Services.GetRequiredService<ScaleOps.Migrations.IScaleOpsMigrator>().MigrateAsync();
        return host;
    }

    public static async Task ExecAsync(this NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    public static async Task<T> ScalarAsync<T>(this NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    public static async Task<System.Collections.Generic.List<string>> ColumnAsync(this NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        var list = new System.Collections.Generic.List<string>();
        while (await reader.ReadAsync())
        {
            list.Add(reader.IsDBNull(0) ? "<null>" : reader.GetValue(0).ToString()!);
        }

        return list;
    }

    /// <summary>Partition names and bounds of a table, as text, ordered.</summary>
    public static Task<System.Collections.Generic.List<string>> PartitionsAsync(this NpgsqlDataSource dataSource, string qualified) =>
        dataSource.ColumnAsync(
            "SELECT c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            + $"WHERE i.inhparent = '{qualified.Replace("'", "''", StringComparison.Ordinal)}'::regclass ORDER BY 1");
}
