using System;
using System.Linq;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ScaleOps.Partitioning.Audit;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning.Tests;

public class PartitioningRegistrationTests
{
    [Fact]
    public void Adding_twice_registers_each_service_once_and_applies_both_configurations()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        var builder = services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1");
        builder.AddPartitioning(o => o.LockTimeout = TimeSpan.FromSeconds(1));
        builder.AddPartitioning(o => o.DdlAttempts = 3);

        Assert.Equal(1, services.Count(d => d.ServiceType == typeof(IAuditLog)));
        Assert.Equal(1, services.Count(d => d.ServiceType == typeof(IPartitionMaintenance)));

        using var provider = services.BuildServiceProvider();
        var options = provider.GetRequiredService<IOptions<PartitioningOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(1), options.LockTimeout);
        Assert.Equal(3, options.DdlAttempts);
        var hosted = provider.GetServices<IHostedService>().Select(h => h.GetType().Name).Where(n => n is "MaintenanceHostedService" or "AuditWriter");
        Assert.Equal(["MaintenanceHostedService", "AuditWriter"], hosted);
    }

    [Theory]
    [InlineData("retention", "ScaleOps:Partitioning:Tables:0:Retention is 2, shorter than ScaleOps:Partitioning:Tables:0:Premake (4)")]
    [InlineData("empty-name", "ScaleOps:Partitioning:Tables:0:Name is invalid: an identifier cannot be empty.")]
    [InlineData("long-column", "ScaleOps:Partitioning:Tables:0:Column is invalid: an identifier is at most 63 bytes")]
    [InlineData("archive-no-blob", "ScaleOps:Partitioning:Tables:0:Archive is on, but neither ScaleOps:Partitioning:BlobConnectionString nor ConnectionStrings:Blob is set.")]
    [InlineData("lock-timeout", "ScaleOps:Partitioning:LockTimeout is 00:00:00")]
    [InlineData("audit-retention", "ScaleOps:Partitioning:Audit:Retention is 1, shorter than ScaleOps:Partitioning:Audit:Premake (3)")]
    [InlineData("plan-cache", "ScaleOps:Partitioning:PlanCacheMode 'sometimes' is not one of auto, force_generic_plan, force_custom_plan")]
    [InlineData("plan-cache-role", "ScaleOps:Partitioning:PlanCacheRole is invalid")]
    [InlineData("long-suffix", "ScaleOps:Partitioning:Tables:0:Indexes:0:Suffix 'ssssssssssssssssssssssssssssssssssssssssssss' is 44 characters, longer than 40")]
    [InlineData("max-past", "ScaleOps:Partitioning:Tables:0:MaxPastPeriods is 0; it must be between 1 and 100000.")]
    [InlineData("network-timeout", "ScaleOps:Partitioning:ArchiveNetworkTimeout is 00:00:00.5000000; it must be between 00:00:01 and 00:10:00.")]
    public void Bad_configuration_fails_validation_naming_the_setting(string what, string expected)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1").AddPartitioning(o =>
        {
            var table = new PartitionedTableOptions { Name = "events", Column = "created_at" };
            o.Tables.Add(table);
            switch (what)
            {
                case "retention": table.Retention = 2; break;
                case "empty-name": table.Name = ""; break;
                case "long-column": table.Column = new string('c', 64); break;
                case "archive-no-blob": table.Archive = true; break;
                case "lock-timeout": o.LockTimeout = TimeSpan.Zero; break;
                case "audit-retention": o.Audit.Retention = 1; break;
                case "plan-cache": o.PlanCacheMode = "sometimes"; break;
                case "plan-cache-role": o.PlanCacheRole = new string('r', 64); break;
                case "max-past": table.MaxPastPeriods = 0; break;
                case "network-timeout": o.ArchiveNetworkTimeout = TimeSpan.FromMilliseconds(500); break;
                case "long-suffix": table.Indexes.Add(new PartitionIndexTemplate { Suffix = new string('s', 44), Columns = ["created_at"] }); break;
            }
        });
        using var provider = services.BuildServiceProvider();
        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<PartitioningOptions>>().Value);
        Assert.Contains(error.Failures, f => f.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void The_blob_connection_string_falls_back_to_ConnectionStrings_Blob()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection([new("ConnectionStrings:Blob", "UseDevelopmentStorage=true")]).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1").AddPartitioning(o =>
            o.Tables.Add(new PartitionedTableOptions { Name = "events", Column = "created_at", Archive = true }));
        using var provider = services.BuildServiceProvider();
        Assert.True(provider.GetRequiredService<IOptions<PartitioningOptions>>().Value.Tables[0].Archive);
    }
}
