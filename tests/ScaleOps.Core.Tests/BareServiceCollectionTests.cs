using System.Diagnostics.Metrics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using ScaleOps.Diagnostics;
using ScaleOps.Migrations;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Core.Tests;

/// <summary>
/// AddScaleOps alone is enough: a host that never calls AddLogging or AddMetrics (a bare ServiceCollection, a console
/// host) still resolves and starts every ScaleOps service, and an app that adds them after AddScaleOps gets its own.
/// </summary>
public class BareServiceCollectionTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task AddScaleOps_alone_resolves_and_starts_the_core_services()
    {
        var services = new ServiceCollection();
        services.AddScaleOps(o =>
        {
            o.ConnectionString = database.ConnectionString;
            o.Schema = "bare_services";
        }).AddMigrations("alpha", typeof(BareServiceCollectionTests).Assembly, "TestMigrations.Alpha/");
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });

        Assert.NotNull(provider.GetRequiredService<ILogger<BareServiceCollectionTests>>());
        Assert.NotNull(provider.GetRequiredService<IMeterFactory>());
        Assert.Equal(ScaleOpsDiagnostics.MeterName, provider.GetRequiredService<ScaleOpsMetrics>().Meter.Name);

        var hosted = provider.GetServices<IHostedService>().ToList();
        Assert.NotEmpty(hosted);
        foreach (var service in hosted)
        {
            if (service is IHostedLifecycleService lifecycle)
            {
                await lifecycle.StartingAsync(CancellationToken.None);
            }

            await service.StartAsync(CancellationToken.None);
        }

        // The migration hosted service ran the registered scripts: nothing is left to apply.
        Assert.Empty(await provider.GetRequiredService<IScaleOpsMigrator>().MigrateAsync());
        foreach (var service in Enumerable.Reverse(hosted))
        {
            await service.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public void Logging_and_metrics_added_after_AddScaleOps_are_the_ones_used()
    {
        var services = new ServiceCollection();
        services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1");
        services.AddFakeLogging();
        services.AddMetrics();
        using var provider = services.BuildServiceProvider();

        provider.GetRequiredService<ILogger<ScaleOpsMetrics>>().LogWarning("reached the app's provider");
        Assert.Equal(["reached the app's provider"], provider.GetRequiredService<FakeLogCollector>().GetSnapshot().Select(r => r.Message));
        Assert.Same(provider.GetRequiredService<IMeterFactory>(), provider.GetRequiredService<ScaleOpsMetrics>().Meter.Scope);
    }
}
