using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Migrations;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Core.Tests;

public class ScaleOpsOptionsTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private static IHost BuildHost(Dictionary<string, string?> settings, Action<IServiceCollection>? configure = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        configure?.Invoke(builder.Services);
        builder.Services.AddScaleOps();
        return builder.Build();
    }

    private static async Task<string> StartFailure(Dictionary<string, string?> settings)
    {
        using var host = BuildHost(settings);
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        return ex.Message;
    }

    [Fact]
    public async Task A_missing_connection_string_fails_the_start_naming_the_setting()
    {
        var message = await StartFailure([]);
        Assert.Contains("ScaleOps:ConnectionString is required", message, StringComparison.Ordinal);
        Assert.Contains("ConnectionStrings:Postgres", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_malformed_connection_string_fails_the_start_without_echoing_it()
    {
        var message = await StartFailure(new() { ["ScaleOps:ConnectionString"] = "Host=127.0.0.1;Password=s3cret;Bogus Keyword=1" });
        Assert.Contains("ScaleOps:ConnectionString is malformed", message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Host=127.0.0.1;Password=s3cret;Bogus Keyword=1", "is malformed")]
    [InlineData("Username=app;Password=s3cret", "has no Host")]
    public async Task A_bad_connection_string_taken_from_ConnectionStrings_is_named_by_the_key_the_user_set(string value, string problem)
    {
        var message = await StartFailure(new() { ["ConnectionStrings:Postgres"] = value });
        Assert.Contains($"ConnectionStrings:Postgres (the fallback of ScaleOps:ConnectionString, which is not set) {problem}", message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_connection_string_without_host_fails_the_start()
    {
        var message = await StartFailure(new() { ["ScaleOps:ConnectionString"] = "Username=app" });
        Assert.Contains("ScaleOps:ConnectionString has no Host", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_invalid_schema_fails_the_start_naming_the_setting()
    {
        var message = await StartFailure(new()
        {
            ["ScaleOps:ConnectionString"] = "Host=127.0.0.1",
            ["ScaleOps:Schema"] = new string('s', 64),
        });
        Assert.Contains("ScaleOps:Schema is invalid", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("s", "unpaired surrogate")]
    [InlineData("pg_scaleops", "pg_")]
    [InlineData("pg_temp", "pg_")]
    public async Task A_schema_postgres_cannot_create_fails_the_start_naming_the_setting(string schema, string expected)
    {
        if (expected == "unpaired surrogate")
        {
            schema += (char)0xD800; // built here: xunit's theory data would turn a lone surrogate into U+FFFD
        }

        // Both passed validation: the start then failed inside the migration runner, with Npgsql's EncoderFallbackException
        // or PostgreSQL's 42939 'unacceptable schema name', neither naming the setting.
        var message = await StartFailure(new()
        {
            ["ScaleOps:ConnectionString"] = database.ConnectionString,
            ["ScaleOps:Schema"] = schema,
        });
        Assert.Contains("ScaleOps:Schema is invalid", message, StringComparison.Ordinal);
        Assert.Contains(expected, message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_settings_fail_the_start_and_every_error_is_reported_at_once()
    {
        var message = await StartFailure(new()
        {
            ["ScaleOps:ConectionString"] = "Host=127.0.0.1",
            ["ScaleOps:Schema"] = "",
        });
        Assert.Contains("ScaleOps:ConectionString is not a known setting", message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:ConnectionString is required", message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Schema is invalid", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_malformed_value_fails_the_start_naming_the_setting()
    {
        using var host = BuildHost(new()
        {
            ["ScaleOps:ConnectionString"] = database.ConnectionString,
            ["ScaleOps:ApplyMigrationsOnStart"] = "sometimes",
        });
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());
        Assert.Contains("ApplyMigrationsOnStart", ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Good_configuration_starts_and_connects_through_the_shared_data_source()
    {
        using var host = BuildHost(new() { ["ConnectionStrings:Postgres"] = database.ConnectionString, ["ScaleOps:Schema"] = "opts_ok" });
        await host.StartAsync();
        var dataSource = host.Services.GetRequiredService<NpgsqlDataSource>();
        Assert.Same(dataSource, host.Services.GetRequiredService<NpgsqlDataSource>());
        await using var command = dataSource.CreateCommand("SELECT current_database()");
        Assert.Equal(database.Name, await command.ExecuteScalarAsync());
        await host.StopAsync();
    }

    [Fact]
    public async Task The_hosts_own_data_source_is_used_and_no_connection_string_is_needed()
    {
        await using var hostDataSource = NpgsqlDataSource.Create(database.ConnectionString);
        using var host = BuildHost([], s => s.AddSingleton(hostDataSource));
        await host.StartAsync();
        Assert.Same(hostDataSource, host.Services.GetRequiredService<NpgsqlDataSource>());
        await host.StopAsync();
    }

    [Fact]
    public async Task Migrations_run_when_the_host_starts()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddScaleOps(o =>
            {
                o.ConnectionString = database.ConnectionString;
                o.Schema = "host_start";
            })
            .AddMigrations("alpha", typeof(ScaleOpsOptionsTests).Assembly, "TestMigrations.Alpha/");
        using var host = builder.Build();
        await host.StartAsync();

        await using var command = database.DataSource.CreateCommand("SELECT count(*) FROM host_start.schema_migrations WHERE component = 'alpha'");
        Assert.Equal(2L, await command.ExecuteScalarAsync());
        await host.StopAsync();
    }

    [Fact]
    public void Registering_twice_is_harmless()
    {
        var services = new ServiceCollection();
        var first = services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1");
        var count = services.Count;
        var second = services.AddScaleOps();
        first.AddMigrations("alpha", typeof(ScaleOpsOptionsTests).Assembly, "TestMigrations.Alpha/");
        second.AddMigrations("alpha", typeof(ScaleOpsOptionsTests).Assembly, "TestMigrations.Alpha/");

        Assert.Same(first, second);
        Assert.Equal(count + 1, services.Count);
        Assert.Single(services, d => d.ServiceType == typeof(IHostedService));
        Assert.Single(services, d => d.ServiceType == typeof(NpgsqlDataSource));
        Assert.Single(services, d => d.ServiceType == typeof(ScaleOps.Data.DatabaseClock));
        Assert.Single(services, d => d.ServiceType == typeof(IScaleOpsMigrator));
        Assert.Equal("Host=127.0.0.1", services.BuildServiceProvider().GetRequiredService<IOptions<ScaleOpsOptions>>().Value.ConnectionString);
    }

    [Fact]
    public void Package_sections_are_known_settings_and_bind_strictly()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ScaleOps:ConnectionString"] = "Host=127.0.0.1",
            ["ScaleOps:Sample:Size"] = "5",
            ["ScaleOps:Sample:Colour"] = "red",
        }).Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration);
        services.AddScaleOps().AddScaleOpsOptions<SampleOptions>("Sample");
        using var provider = services.BuildServiceProvider();

        Assert.NotNull(provider.GetRequiredService<IOptions<ScaleOpsOptions>>().Value);
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<SampleOptions>>().Value);
        Assert.Contains("ScaleOps:Sample", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Colour", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_core_resolves_from_a_bare_service_collection_without_logging()
    {
        var services = new ServiceCollection();
        services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1");
        using var provider = services.BuildServiceProvider();
        Assert.NotNull(provider.GetRequiredService<IScaleOpsMigrator>());
        Assert.NotNull(provider.GetRequiredService<ScaleOps.Data.ITenantDataSource>());
    }

    [Fact]
    public void Defaults_are_pinned()
    {
        var options = new ScaleOpsOptions();
        Assert.Null(options.ConnectionString);
        Assert.Equal("Postgres", options.ConnectionStringName);
        Assert.Equal("scaleops", options.Schema);
        Assert.True(options.ApplyMigrationsOnStart);
        Assert.Equal("ScaleOps", ScaleOpsOptions.SectionName);
        Assert.All(typeof(ScaleOpsOptions).GetProperties(), p => Assert.NotNull(p.GetSetMethod()));
    }

    public sealed class SampleOptions
    {
        public int Size { get; set; }
    }
}
