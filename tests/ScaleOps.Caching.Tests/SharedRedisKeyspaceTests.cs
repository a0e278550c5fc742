using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ScaleOps.Caching.Tests.Support;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.Caching.Tests;

/// <summary>
/// The cache and ScaleOps.Resilience's Redis rate limiter on one Redis. The cache writes <c>{KeyPrefix}:{{tenant}}:gen</c>
/// and <c>{KeyPrefix}:{{tenant}}:v{gen}:...</c>, the limiter <c>{RedisKeyPrefix}{{tenant}}:{plan}</c>: with a limiter prefix
/// equal to the cache's prefix and a colon, the limiter's bucket of a plan named <c>gen</c> was the cache's generation key.
/// Such a start is refused (Core's Redis key namespace check); prefixes whose keys can never meet still start.
/// </summary>
public sealed class SharedRedisKeyspaceTests(SingleRedis redis) : IClassFixture<SingleRedis>
{
    private IHost BuildHost(string? cachePrefix, string? limiterPrefix, string store = "Redis")
    {
        var settings = new Dictionary<string, string?>
        {
            ["ScaleOps:Caching:RedisConnectionString"] = redis.ConnectionString,
            ["ScaleOps:Caching:RedisTimeout"] = "00:00:05",
            ["ScaleOps:Resilience:RedisConnectionString"] = redis.ConnectionString + ",connectTimeout=10000,asyncTimeout=10000,syncTimeout=10000",
            ["ScaleOps:Resilience:DefaultPlan"] = "gen",
            ["ScaleOps:Resilience:RateLimiting:Store"] = store,
            // Closed on a Redis error: a refused decision shows it (Local would decide on this instance, unseen).
            ["ScaleOps:Resilience:RateLimiting:RedisFailureMode"] = "FailClosed",
            ["ScaleOps:Resilience:RateLimiting:Plans:gen:0:PermitLimit"] = "100",
            ["ScaleOps:Resilience:RateLimiting:Plans:gen:0:Window"] = "00:00:01",
        };
        if (cachePrefix is not null)
        {
            settings["ScaleOps:Caching:KeyPrefix"] = cachePrefix;
        }

        if (limiterPrefix is not null)
        {
            settings["ScaleOps:Resilience:RateLimiting:RedisKeyPrefix"] = limiterPrefix;
        }

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddScaleOps(o =>
        {
            o.ConnectionString = "Host=127.0.0.1";
            o.ApplyMigrationsOnStart = false;
        }).AddCaching().AddResilience();
        return builder.Build();
    }

    [Fact]
    public async Task A_limiter_prefix_that_is_the_cache_prefix_and_a_colon_is_refused_at_start_naming_both_settings()
    {
        // Before the check this host started, and the limiter's bucket of plan 'gen' was the cache's generation key:
        // the cache first, the limiter refused a tenant's first request ("Redis key '...:{c-...}:gen' is a String");
        // the limiter first, the cache's values of the tenant never reached Redis ("'...:{l-...}:gen' is a Hash").
        var prefix = Unique.Prefix("single", "keyspace");
        using var host = BuildHost(prefix, prefix + ":");

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains($"ScaleOps:Caching:KeyPrefix ('{prefix}')", error.Message, StringComparison.Ordinal);
        Assert.Contains($"ScaleOps:Resilience:RateLimiting:RedisKeyPrefix ('{prefix}:')", error.Message, StringComparison.Ordinal);
        Assert.Contains($"ScaleOps.Caching writes keys starting '{prefix}:{{'", error.Message, StringComparison.Ordinal);
        Assert.Contains($"ScaleOps.Resilience keys starting '{prefix}:{{'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Prefixes_whose_keys_never_meet_start_and_a_plan_named_gen_leaves_the_cache_its_generation()
    {
        // As the sample host's tests configure them: the limiter's prefix begins with the cache's, but its keys continue
        // with 'rl:' where the cache's continue with the tenant's hash tag.
        var prefix = Unique.Prefix("single", "keyspace");
        using var host = BuildHost(prefix, prefix + ":rl:");
        await host.StartAsync().WaitAsync("the host to start");
        try
        {
            var cache = host.Services.GetRequiredService<ITenantCache>();
            var limiter = host.Services.GetRequiredService<PartitionedRateLimiter<TenantId>>();
            var tenants = host.Services.GetRequiredService<ITenantContext>();
            await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
            var db = connection.GetDatabase();

            // The cache first: its generation key of the tenant exists, then the limiter decides the tenant's first request.
            var cacheFirst = new TenantId($"c-{Guid.NewGuid():N}");
            using (tenants.BeginScope(cacheFirst))
            {
                await cache.SetAsync("doc", "v1");
            }

            using (var lease = await limiter.AcquireAsync(cacheFirst))
            {
                Assert.True(lease.IsAcquired,
                    $"The first request of a plan of 100 per second was refused: Redis key '{prefix}:{{{cacheFirst}}}:gen' is a "
                    + $"{await db.KeyTypeAsync($"{prefix}:{{{cacheFirst}}}:gen")}.");
            }

            // The limiter first: its bucket of the tenant exists, then the cache writes a value of the tenant.
            var limiterFirst = new TenantId($"l-{Guid.NewGuid():N}");
            using (var lease = await limiter.AcquireAsync(limiterFirst))
            {
                Assert.True(lease.IsAcquired);
            }

            using (tenants.BeginScope(limiterFirst))
            {
                await cache.SetAsync("doc", "v1");
            }

            var values = connection.GetServers().Single().Keys(pattern: $"{prefix}:{{{limiterFirst}}}:v*:k:doc").ToList();
            Assert.True(values.Count == 1,
                $"The cache's value never reached Redis: Redis key '{prefix}:{{{limiterFirst}}}:gen' is a "
                + $"{await db.KeyTypeAsync($"{prefix}:{{{limiterFirst}}}:gen")}.");
            Assert.Equal(RedisType.Hash, await db.KeyTypeAsync($"{prefix}:rl:{{{limiterFirst}}}:gen"));
        }
        finally
        {
            await host.StopAsync().WaitAsync("the host to stop");
        }
    }

    [Fact]
    public async Task The_default_prefixes_start()
    {
        using var host = BuildHost(cachePrefix: null, limiterPrefix: null);
        await host.StartAsync().WaitAsync("the host to start");
        await host.StopAsync().WaitAsync("the host to stop");
    }

    [Fact]
    public async Task An_overlapping_prefix_of_the_local_limiter_starts_since_it_writes_no_Redis_key()
    {
        var prefix = Unique.Prefix("single", "keyspace");
        using var host = BuildHost(prefix, prefix + ":", store: "Local");
        await host.StartAsync().WaitAsync("the host to start");
        await host.StopAsync().WaitAsync("the host to stop");
    }
}
