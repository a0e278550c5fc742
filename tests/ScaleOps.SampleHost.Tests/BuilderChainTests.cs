using System;
using System.Threading.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Caching;
using ScaleOps.Jobs;
using ScaleOps.Partitioning.Audit;
using ScaleOps.Rls;
using ScaleOps.Tenancy;

namespace ScaleOps.SampleHost.Tests;

/// <summary>The one builder chain the README opens with compiles, in that order, and registers every package.</summary>
public class BuilderChainTests
{
    [Fact]
    public void The_readme_chain_registers_every_package_in_its_order()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1;Database=app")
            .AddRls(o => o.Tables.Add(new RlsTable("public", "documents")))
            .AddJobs(o => o.RunWorker = false)
            .AddPartitioning()
            .AddCaching(o => o.RedisConnectionString = "127.0.0.1:6379")
            .AddResilience();

        using var provider = services.BuildServiceProvider();
        Assert.NotNull(provider.GetService<RlsPolicyManager>());
        Assert.NotNull(provider.GetService<IJobClient>());
        Assert.NotNull(provider.GetService<IAuditLog>());
        Assert.NotNull(provider.GetService<ITenantCache>());
        Assert.NotNull(provider.GetService<PartitionedRateLimiter<TenantId>>());
    }

    [Fact]
    public void A_job_handler_can_be_registered_in_the_middle_of_the_chain()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        IScaleOpsBuilder builder = services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1;Database=app")
            .AddJobs(o => o.RunWorker = false)
            .AddHandler<Ping, PingHandler>()
            .AddCaching(o => o.RedisConnectionString = "127.0.0.1:6379");

        Assert.Same(services, builder.Services);
        using var provider = services.BuildServiceProvider();
        using var scope = provider.CreateScope();
        Assert.IsType<PingHandler>(scope.ServiceProvider.GetRequiredService<IJobHandler<Ping>>());
        Assert.NotNull(provider.GetService<ITenantCache>());
    }

    private sealed record Ping(int N);

    private sealed class PingHandler : IJobHandler<Ping>
    {
        public System.Threading.Tasks.Task HandleAsync(Ping payload, JobContext context, System.Threading.CancellationToken cancellationToken) =>
            System.Threading.Tasks.Task.CompletedTask;
    }
}
