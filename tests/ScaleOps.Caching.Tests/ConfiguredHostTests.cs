using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ScaleOps.Caching.Internal;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Caching.Tests;

/// <summary>
/// Settings of the README's table that take effect, not only bind, when a started host reads them from configuration:
/// <c>MaxMemoryEntries</c>, <c>MaxMemoryEntriesPerTenant</c> and <c>SweepInterval</c> (nothing here calls the maintenance pass itself).
/// </summary>
public sealed class ConfiguredHostTests(SingleRedis redis) : IClassFixture<SingleRedis>
{
    private IHost BuildHost(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        settings["ScaleOps:Caching:RedisConnectionString"] = redis.ConnectionString;
        settings["ScaleOps:Caching:KeyPrefix"] = Unique.Prefix("host", "configured");
        settings["ScaleOps:Caching:RedisTimeout"] = "00:00:05";
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddScaleOps(o =>
        {
            o.ConnectionString = "Host=127.0.0.1";
            o.ApplyMigrationsOnStart = false;
        }).AddCaching();
        return builder.Build();
    }

    [Fact]
    public async Task MaxMemoryEntries_from_configuration_bounds_the_memory_level_and_evicted_entries_stay_in_Redis()
    {
        using var host = BuildHost(new() { ["ScaleOps:Caching:MaxMemoryEntries"] = "10" });
        await host.StartAsync().WaitAsync("the host to start");
        var cache = host.Services.GetRequiredService<ITenantCache>();
        using (host.Services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("acme")))
        {
            for (var i = 0; i < 50; i++)
            {
                await cache.SetAsync($"k:{i}", i); // one writer at a time: the bound holds exactly
                Assert.InRange(cache.GetStatus().MemoryEntries, 1, 10);
            }

            for (var i = 0; i < 50; i++)
            {
                Assert.Equal(i, (await cache.TryGetAsync<int>($"k:{i}")).Value);
            }
        }

        Assert.True(host.Services.GetRequiredService<TenantCache>().Memory.Evictions >= 40);
        await host.StopAsync().WaitAsync("the host to stop");
    }

    [Fact]
    public async Task MaxMemoryEntriesPerTenant_from_configuration_bounds_one_tenant_and_leaves_the_others_be()
    {
        using var host = BuildHost(new() { ["ScaleOps:Caching:MaxMemoryEntries"] = "100", ["ScaleOps:Caching:MaxMemoryEntriesPerTenant"] = "10" });
        await host.StartAsync().WaitAsync("the host to start");
        var cache = host.Services.GetRequiredService<ITenantCache>();
        var memory = host.Services.GetRequiredService<TenantCache>().Memory;
        var tenants = host.Services.GetRequiredService<ITenantContext>();
        using (tenants.BeginScope(new TenantId("quiet")))
        {
            await cache.SetAsync("k", "v");
        }

        using (tenants.BeginScope(new TenantId("noisy")))
        {
            for (var i = 0; i < 50; i++)
            {
                await cache.SetAsync($"k:{i}", i);
                Assert.InRange(memory.Find("noisy")!.Entries.Count, 1, 10);
            }

            for (var i = 0; i < 50; i++)
            {
                Assert.Equal(i, (await cache.TryGetAsync<int>($"k:{i}")).Value);
            }
        }

        using (tenants.BeginScope(new TenantId("quiet")))
        {
            var read = await cache.TryGetAsync<string>("k");
            Assert.Equal(("v", CacheSource.Memory), (read.Value, read.Source));
        }

        Assert.True(memory.TenantEvictions >= 40);
        await host.StopAsync().WaitAsync("the host to stop");
    }

    [Fact]
    public async Task SweepInterval_from_configuration_paces_the_sweep_that_drops_expired_entries_and_forgets_empty_tenants()
    {
        using var host = BuildHost(new()
        {
            ["ScaleOps:Caching:SweepInterval"] = "00:00:01",
            ["ScaleOps:Caching:FailSafeMaxDuration"] = "00:00:00", // an expired entry is of no further use: the sweep drops it
            ["ScaleOps:Caching:JitterFraction"] = "0",
        });
        await host.StartAsync().WaitAsync("the host to start");
        var cache = host.Services.GetRequiredService<ITenantCache>();
        var memory = host.Services.GetRequiredService<TenantCache>().Memory;
        using (host.Services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("brief")))
        {
            await cache.SetAsync("k", "v", new CacheEntryOptions { Expiration = TimeSpan.FromMilliseconds(1) });
        }

        using (host.Services.GetRequiredService<ITenantContext>().BeginScope(new TenantId("lasting")))
        {
            await cache.SetAsync("k", "v", new CacheEntryOptions { Expiration = TimeSpan.FromMinutes(10) });
        }

        // With the default (1 min) neither happens within the wait's bound.
        await TestSignal.UntilAsync(() => Task.FromResult(memory.Find("brief") is { } b && !b.Entries.ContainsKey("k") || memory.Find("brief") is null),
            "the sweep to drop the expired entry");
        await TestSignal.UntilAsync(() => Task.FromResult(memory.Find("brief") is null), "two sweeps to forget the tenant left with nothing in memory");
        Assert.True(memory.Find("lasting") is { } lasting && lasting.Entries.ContainsKey("k"));
        await host.StopAsync().WaitAsync("the host to stop");
    }
}
