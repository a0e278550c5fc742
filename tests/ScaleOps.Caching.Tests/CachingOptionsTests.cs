using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ScaleOps.Caching.Serialization;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Caching.Tests;

public class CachingOptionsTests
{
    private static IHost BuildHost(Dictionary<string, string?> settings, Action<CachingOptions>? configure = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddScaleOps(o =>
        {
            o.ConnectionString = "Host=127.0.0.1";
            o.ApplyMigrationsOnStart = false;
        }).AddCaching(configure);
        return builder.Build();
    }

    private static async Task<string> StartFailure(Dictionary<string, string?> settings)
    {
        using var host = BuildHost(settings);
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        return ex.Message;
    }

    [Fact]
    public async Task A_missing_Redis_connection_string_fails_the_start_naming_both_settings()
    {
        var message = await StartFailure([]);
        Assert.Contains("ScaleOps:Caching:RedisConnectionString is required", message, StringComparison.Ordinal);
        Assert.Contains("ConnectionStrings:Redis", message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_connection_string_is_taken_from_ConnectionStrings_Redis()
    {
        using var host = BuildHost(new() { ["ConnectionStrings:Redis"] = "127.0.0.1:6390" });
        Assert.Equal("127.0.0.1:6390", host.Services.GetRequiredService<IOptions<CachingOptions>>().Value.RedisConnectionString);
    }

    [Fact]
    public async Task Out_of_range_values_and_unknown_keys_fail_the_start_all_at_once_naming_each_setting()
    {
        var message = await StartFailure(new()
        {
            ["ScaleOps:Caching:RedisConnectionString"] = "127.0.0.1:6390",
            ["ScaleOps:Caching:DefaultExpiration"] = "00:00:00",
            ["ScaleOps:Caching:JitterFraction"] = "2",
            ["ScaleOps:Caching:KeyPrefix"] = "app{1}",
            ["ScaleOps:Caching:MaxKeyLength"] = "1",
            ["ScaleOps:Caching:RedisTimeout"] = "00:05:00",
            ["ScaleOps:Caching:MaxMemoryEntries"] = "0",
        });
        Assert.Contains("ScaleOps:Caching:DefaultExpiration must be between 00:00:01 and 30.00:00:00; it is 00:00:00.", message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Caching:JitterFraction must be between 0 and 0.5; it is 2.", message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Caching:KeyPrefix must be 1 to 100 characters", message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Caching:MaxKeyLength must be between 16 and 65536; it is 1.", message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Caching:RedisTimeout", message, StringComparison.Ordinal);
        Assert.Contains("ScaleOps:Caching:MaxMemoryEntries must be between 1 and 100000000; it is 0.", message, StringComparison.Ordinal);

        using var host = BuildHost(new() { ["ScaleOps:Caching:RedisConnectionString"] = "127.0.0.1:6390", ["ScaleOps:Caching:Expiry"] = "1" });
        var unknown = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("ScaleOps:Caching", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("Expiry", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_setting_of_the_README_table_binds_from_configuration()
    {
        using var host = BuildHost(new()
        {
            ["ConnectionStrings:Cache"] = "127.0.0.1:6391",
            ["ScaleOps:Caching:ConnectionStringName"] = "Cache",
            ["ScaleOps:Caching:KeyPrefix"] = "app:cache",
            ["ScaleOps:Caching:DefaultExpiration"] = "00:02:00",
            ["ScaleOps:Caching:NegativeExpiration"] = "00:00:05",
            ["ScaleOps:Caching:JitterFraction"] = "0.25",
            ["ScaleOps:Caching:FailSafeMaxDuration"] = "02:00:00",
            ["ScaleOps:Caching:FailSafeThrottle"] = "00:00:07",
            ["ScaleOps:Caching:FactoryTimeout"] = "00:00:00.150",
            ["ScaleOps:Caching:RedisTimeout"] = "00:00:01",
            ["ScaleOps:Caching:BreakerDuration"] = "00:00:03",
            ["ScaleOps:Caching:DistributedStampedeProtection"] = "true",
            ["ScaleOps:Caching:DistributedLockLease"] = "00:00:20",
            ["ScaleOps:Caching:DistributedLockWait"] = "00:00:02",
            ["ScaleOps:Caching:MaxKeyLength"] = "200",
            ["ScaleOps:Caching:MaxPayloadBytes"] = "2048",
            ["ScaleOps:Caching:MaxMemoryEntries"] = "500",
            ["ScaleOps:Caching:MaxMemoryEntriesPerTenant"] = "50",
            ["ScaleOps:Caching:SweepInterval"] = "00:00:30",
        });
        var o = host.Services.GetRequiredService<IOptions<CachingOptions>>().Value;
        Assert.Equal("127.0.0.1:6391", o.RedisConnectionString);
        Assert.Equal(("app:cache", TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(5), 0.25), (o.KeyPrefix, o.DefaultExpiration, o.NegativeExpiration, o.JitterFraction));
        Assert.Equal((TimeSpan.FromHours(2), TimeSpan.FromSeconds(7), (TimeSpan?)TimeSpan.FromMilliseconds(150)), (o.FailSafeMaxDuration, o.FailSafeThrottle, o.FactoryTimeout));
        Assert.Equal((TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3)), (o.RedisTimeout, o.BreakerDuration));
        Assert.Equal((true, TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(2)), (o.DistributedStampedeProtection, o.DistributedLockLease, o.DistributedLockWait));
        Assert.Equal((200, 2048, 500, TimeSpan.FromSeconds(30)), (o.MaxKeyLength, o.MaxPayloadBytes, o.MaxMemoryEntries, o.SweepInterval));
        Assert.Equal(50, o.MaxMemoryEntriesPerTenant);
    }

    [Fact]
    public async Task A_tenant_bound_above_MaxMemoryEntries_fails_the_start_naming_both_and_unset_is_the_default()
    {
        var message = await StartFailure(new()
        {
            ["ScaleOps:Caching:RedisConnectionString"] = "127.0.0.1:6390",
            ["ScaleOps:Caching:MaxMemoryEntries"] = "1000",
            ["ScaleOps:Caching:MaxMemoryEntriesPerTenant"] = "1001",
        });
        Assert.Contains(
            "ScaleOps:Caching:MaxMemoryEntriesPerTenant must be between 1 and ScaleOps:Caching:MaxMemoryEntries (1000), or unset (no per-tenant bound); it is 1001.",
            message,
            StringComparison.Ordinal);

        using var host = BuildHost(new() { ["ScaleOps:Caching:RedisConnectionString"] = "127.0.0.1:6390", ["ScaleOps:Caching:MaxMemoryEntries"] = "1000" });
        Assert.Null(host.Services.GetRequiredService<IOptions<CachingOptions>>().Value.MaxMemoryEntriesPerTenant);
        using var equal = BuildHost(new()
        {
            ["ScaleOps:Caching:RedisConnectionString"] = "127.0.0.1:6390",
            ["ScaleOps:Caching:MaxMemoryEntries"] = "1000",
            ["ScaleOps:Caching:MaxMemoryEntriesPerTenant"] = "1000",
        });
        Assert.Equal(1000, equal.Services.GetRequiredService<IOptions<CachingOptions>>().Value.MaxMemoryEntriesPerTenant); // validated: the bound itself is allowed
    }

    [Fact]
    public async Task The_host_starts_and_stops_with_the_cache_and_its_maintenance_loop()
    {
        var redis = await TcpServer.RedisAsync();
        using var host = BuildHost(new() { ["ConnectionStrings:Redis"] = redis, ["ScaleOps:Caching:SweepInterval"] = "00:00:01", ["ScaleOps:Caching:RedisTimeout"] = "00:00:05" });
        await host.StartAsync().WaitAsync("the host to start");
        var cache = host.Services.GetRequiredService<ITenantCache>();
        using (host.Services.GetRequiredService<Tenancy.ITenantContext>().BeginScope(new Tenancy.TenantId("host-" + Guid.NewGuid().ToString("N"))))
        {
            Assert.Equal(3, await cache.GetOrSetAsync("k", _ => ValueTask.FromResult(3)));
        }

        Assert.True(cache.GetStatus().RedisAvailable);
        await host.StopAsync().WaitAsync("the host to stop (the maintenance loop drains)");
    }

    [Fact]
    public void Registering_twice_is_harmless()
    {
        var services = new ServiceCollection();
        var builder = services.AddScaleOps().AddCaching(o => o.RedisConnectionString = "127.0.0.1:6390");
        var count = services.Count;
        builder.AddCaching();
        services.AddScaleOps().AddCaching();

        Assert.Equal(count, services.Count);
        Assert.Equal(2, services.Count(d => d.ServiceType == typeof(IHostedService))); // migrations (core) and cache maintenance
        builder.AddCaching(o => o.KeyPrefix = "second");
        Assert.Equal(count + 1, services.Count);
        using var provider = services.BuildServiceProvider();
        Assert.Equal("second", provider.GetRequiredService<IOptions<CachingOptions>>().Value.KeyPrefix);
        Assert.Equal("127.0.0.1:6390", provider.GetRequiredService<IOptions<CachingOptions>>().Value.RedisConnectionString);
        Assert.Same(provider.GetRequiredService<ITenantCache>(), provider.GetRequiredService<ITenantCache>()); // no logging registered: still resolves
    }

    [Fact]
    public void Defaults_are_pinned()
    {
        var options = new CachingOptions();
        Assert.Null(options.RedisConnectionString);
        Assert.Equal("Redis", options.ConnectionStringName);
        Assert.Equal("scaleops:cache", options.KeyPrefix);
        Assert.Equal(TimeSpan.FromMinutes(5), options.DefaultExpiration);
        Assert.Equal(TimeSpan.FromSeconds(30), options.NegativeExpiration);
        Assert.Equal(0.1, options.JitterFraction);
        Assert.Equal(TimeSpan.FromHours(1), options.FailSafeMaxDuration);
        Assert.Equal(TimeSpan.FromSeconds(30), options.FailSafeThrottle);
        Assert.Null(options.FactoryTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.RedisTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), options.BreakerDuration);
        Assert.False(options.DistributedStampedeProtection);
        Assert.Equal(TimeSpan.FromSeconds(10), options.DistributedLockLease);
        Assert.Equal(TimeSpan.FromSeconds(5), options.DistributedLockWait);
        Assert.Equal(1024, options.MaxKeyLength);
        Assert.Equal(1024 * 1024, options.MaxPayloadBytes);
        Assert.Equal(100_000, options.MaxMemoryEntries);
        Assert.Equal(TimeSpan.FromMinutes(1), options.SweepInterval);
        Assert.Null(options.Serializer);
        Assert.Null(options.ConfigureRedis);
        Assert.Equal("Caching", CachingOptions.SectionName);
    }

    [Fact]
    public void The_HybridCache_abstraction_resolves_to_the_tenant_cache_unless_the_host_registered_one()
    {
        var services = new ServiceCollection();
        services.AddScaleOps().AddCaching(o => o.RedisConnectionString = "127.0.0.1:6390");
        Assert.Single(services, d => d.ServiceType == typeof(HybridCache));
        Assert.Single(services, d => d.ServiceType == typeof(ITenantCache));
        Assert.IsType<SystemTextJsonCacheSerializer>(new SystemTextJsonCacheSerializer());
    }
}
