using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Internal;
using ScaleOps.Migrations;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Core.Tests.Migrations;

public class MigrationRunnerTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private ServiceProvider Provider(string schema, params MigrationSet[] extra)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        var builder = services.AddScaleOps(o =>
        {
            o.ConnectionString = database.ConnectionString;
            o.Schema = schema;
        });
        builder.AddMigrations("alpha", typeof(MigrationRunnerTests).Assembly, "TestMigrations.Alpha/");
        builder.AddMigrations("beta", typeof(MigrationRunnerTests).Assembly, "TestMigrations.Beta/");
        foreach (var set in extra)
        {
            services.AddSingleton(set);
        }

        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task Applies_every_component_in_order_once_and_records_it()
    {
        await using var provider = Provider("m_once");
        var migrator = provider.GetRequiredService<IScaleOpsMigrator>();

        var first = await migrator.MigrateAsync();
        Assert.Equal(
            ["alpha/1/create_widgets", "alpha/2/add_widget_color", "beta/1/create_gadgets"],
            first.Select(m => $"{m.Component}/{m.Version}/{m.Name}"));
        Assert.Empty(await migrator.MigrateAsync());

        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var insert = new NpgsqlCommand("INSERT INTO m_once.widgets (name) VALUES ('w') RETURNING color", connection);
        Assert.Equal("blue", await insert.ExecuteScalarAsync());
        Assert.Equal(3L, await Scalar(connection, "SELECT count(*) FROM m_once.schema_migrations"));
    }

    [Fact]
    public async Task Hosts_migrating_at_once_leave_one_consistent_schema()
    {
        const int hosts = 8;
        var providers = Enumerable.Range(0, hosts).Select(_ => Provider("m_race")).ToList();
        try
        {
            var gate = new TaskCompletionSource();
            var runs = providers.Select(async p =>
            {
                await gate.Task;
                return await p.GetRequiredService<IScaleOpsMigrator>().MigrateAsync();
            }).ToList();
            gate.SetResult();
            var results = await Task.WhenAll(runs).WaitAsync("concurrent migrations");

            // Every script was applied by exactly one host; the others found it done.
            var applied = results.SelectMany(r => r).Select(m => $"{m.Component}/{m.Version}").Order().ToList();
            Assert.Equal(["alpha/1", "alpha/2", "beta/1"], applied);
            Assert.Single(results, r => r.Count > 0);

            await using var connection = await database.DataSource.OpenConnectionAsync();
            Assert.Equal(3L, await Scalar(connection, "SELECT count(*) FROM m_race.schema_migrations"));
            Assert.Equal(2L, await Scalar(connection,
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'm_race' AND table_name IN ('widgets', 'gadgets')"));
            Assert.Equal(1L, await Scalar(connection,
                "SELECT count(*) FROM pg_indexes WHERE schemaname = 'm_race' AND indexname = 'widgets_color'"));
        }
        finally
        {
            foreach (var p in providers)
            {
                await p.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_failing_script_rolls_everything_back_and_names_the_script()
    {
        var broken = new MigrationSet("gamma", [new MigrationScript(1, "broken", "CREATE TABLE {{schema}}.ok (id int); SELECT 1/0;", "x")]);
        await using var provider = Provider("m_fail", broken);

        var ex = await Assert.ThrowsAsync<MigrationException>(() => provider.GetRequiredService<IScaleOpsMigrator>().MigrateAsync());
        Assert.Contains("gamma/0001_broken", ex.Message, StringComparison.Ordinal);
        Assert.Contains("22012", ex.Message, StringComparison.Ordinal);

        await using var connection = await database.DataSource.OpenConnectionAsync();
        Assert.Equal(0L, await Scalar(connection, "SELECT count(*) FROM pg_namespace WHERE nspname = 'm_fail'"));
    }

    [Fact]
    public async Task An_applied_script_that_changed_is_refused()
    {
        await using (var provider = Provider("m_changed"))
        {
            await provider.GetRequiredService<IScaleOpsMigrator>().MigrateAsync();
        }

        var edited = new MigrationSet("alpha", [new MigrationScript(1, "create_widgets", "SELECT 1", "edited-checksum")]);
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddScaleOps(o =>
        {
            o.ConnectionString = database.ConnectionString;
            o.Schema = "m_changed";
        });
        services.AddSingleton(edited);
        await using var second = services.BuildServiceProvider();
        var ex = await Assert.ThrowsAsync<MigrationException>(() => second.GetRequiredService<IScaleOpsMigrator>().MigrateAsync());
        Assert.Contains("alpha/0001_create_widgets was changed after it was applied", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Hostile_schema_names_are_quoted()
    {
        const string schema = "evil\"; DROP SCHEMA public; --";
        await using var provider = Provider(schema);
        Assert.Equal(3, (await provider.GetRequiredService<IScaleOpsMigrator>().MigrateAsync()).Count);

        await using var connection = await database.DataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_namespace WHERE nspname = ANY($1)", connection);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [schema, "public"] });
        Assert.Equal(2L, await command.ExecuteScalarAsync());
    }

    [Fact]
    public void Other_scripts_under_a_registered_component_name_are_refused()
    {
        // The second set was dropped without a word: its tables were never created, and nothing said why.
        var services = new ServiceCollection();
        var builder = services.AddScaleOps(o => o.ConnectionString = database.ConnectionString);
        var assembly = typeof(MigrationRunnerTests).Assembly;
        builder.AddMigrations("alpha", assembly, "TestMigrations.Alpha/");
        builder.AddMigrations("alpha", assembly, "TestMigrations.Alpha/"); // the same scripts again: harmless

        var ex = Assert.Throws<ArgumentException>(() => builder.AddMigrations("alpha", assembly, "TestMigrations.Beta/"));
        Assert.Contains("'alpha'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("TestMigrations.Beta/", ex.Message, StringComparison.Ordinal);
        Assert.Contains("TestMigrations.Alpha/", ex.Message, StringComparison.Ordinal);
        Assert.Single(services, d => d.ServiceType == typeof(MigrationSet));
    }

    [Fact]
    public void Badly_named_resources_are_rejected()
    {
        var ex = Assert.Throws<MigrationException>(() => MigrationSet.FromAssembly("x", typeof(MigrationRunnerTests).Assembly, "TestMigrations.None/"));
        Assert.Contains("has no migrations", ex.Message, StringComparison.Ordinal);
    }

    private static async Task<object?> Scalar(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }
}
