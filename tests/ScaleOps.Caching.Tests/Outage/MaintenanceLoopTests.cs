using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.Diagnostics;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.Caching.Tests.Outage;

/// <summary>
/// The cache inside a started host, with its real maintenance loop (no test calls <c>MaintainAsync</c>), configured from
/// the README's configuration keys; on a private redis-server.
/// </summary>
public sealed class MaintenanceLoopTests
{
    private static readonly CacheEntryOptions RedisOnly = new() { Expiration = TimeSpan.FromMinutes(10), LocalExpiration = TimeSpan.Zero };

    private static IHost BuildHost(string redis, string prefix, TimeSpan sweepInterval)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ScaleOps:Caching:RedisConnectionString"] = redis,
            ["ScaleOps:Caching:KeyPrefix"] = prefix,
            ["ScaleOps:Caching:RedisTimeout"] = "00:00:05",
            ["ScaleOps:Caching:BreakerDuration"] = "00:00:00.200",
            ["ScaleOps:Caching:SweepInterval"] = sweepInterval.ToString("c", System.Globalization.CultureInfo.InvariantCulture),
        });
        builder.Services.AddScaleOps(o =>
        {
            o.ConnectionString = "Host=127.0.0.1";
            o.ApplyMigrationsOnStart = false;
        }).AddCaching();
        return builder.Build();
    }

    [Fact]
    public async Task After_a_server_wide_error_the_loop_replays_a_queued_invalidation_although_the_instance_only_hits_memory()
    {
        await using var redis = await PrivateRedisServer.StartAsync();
        var prefix = Unique.Prefix("loop", nameof(After_a_server_wide_error_the_loop_replays_a_queued_invalidation_although_the_instance_only_hits_memory));

        // The sweep is rare (10 min) and the breaker short (200 ms): what brings the cache back must be the loop's probe
        // "once per breaker period while Redis is marked down", not a sweep.
        using var host = BuildHost(redis.Endpoint, prefix, TimeSpan.FromMinutes(10));
        await host.StartAsync().WaitAsync("the host to start");
        var cache = host.Services.GetRequiredService<ITenantCache>();
        var tenants = host.Services.GetRequiredService<ITenantContext>();
        using var fallbacks = new MetricCollector<long>(host.Services.GetRequiredService<ScaleOpsMetrics>().Meter, "scaleops.cache.fallbacks");
        await using var other = CacheNode.Create(redis.Endpoint, prefix);
        using var otherScope = other.As("acme");
        using var scope = tenants.BeginScope(new TenantId("acme"));

        await TestSignal.UntilAsync(async () =>
        {
            await cache.SetAsync("k", "v1", RedisOnly);
            return (await other.Cache.TryGetAsync<string>("k")).Value == "v1" && cache.GetStatus().RedisAvailable;
        }, "v1 to reach Redis and be read there by the other instance");

        await using (var admin = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint + ",allowAdmin=true"))
        {
            await admin.GetServer(redis.Endpoint).ConfigSetAsync("maxmemory", "1"); // every write is refused with OOM
            await cache.SetAsync("k", "v2", RedisOnly); // refused: the breaker opens, the key's invalidation is queued
            Assert.Contains(fallbacks.GetMeasurementSnapshot(), m => m.Tags["reason"] as string == "redis_error");
            Assert.Contains(fallbacks.GetMeasurementSnapshot(), m => m.Tags["reason"] as string == "redis_unavailable");
            await admin.GetServer(redis.Endpoint).ConfigSetAsync("maxmemory", "0"); // Redis serves again, no reconnect
        }

        // From here this instance makes no call (as one that only hits memory, which never touches Redis). Redis still holds v1, which the other instance reads until the
        // queued invalidation is replayed: the README promises that when Redis returns.
        await TestSignal.UntilAsync(async () =>
        {
            var status = cache.GetStatus();
            return status is { RedisAvailable: true, PendingInvalidations: 0 } && !(await other.Cache.TryGetAsync<string>("k")).HasValue;
        }, "the maintenance loop to probe Redis, replay the queued invalidation and the other instance to stop reading v1");

        await host.StopAsync().WaitAsync("the host to stop");
    }
}
