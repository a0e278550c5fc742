using System;
using System.Collections.Generic;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Resilience.Internal.RateLimiting;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Resilience.Tests.RateLimiting;

/// <summary>
/// Tens of thousands of tenants passing through one instance: the per-tenant state the limiters keep in memory is
/// bounded (swept once it equals a fresh state, or capped), and a tenant whose state must be kept to stay correct (a
/// spent daily rule) is not given a fresh allowance by the sweep.
/// </summary>
public class ManyTenantsTests
{
    [Fact]
    public async Task Twenty_thousand_tenants_seen_once_leave_only_the_local_state_that_still_counts()
    {
        var time = new FakeTimeProvider();
        using var sp = TestHost.Build(
            o =>
            {
                o.Plan("default", (10, TimeSpan.FromSeconds(1), null));
                o.Plan("daily", (3, TimeSpan.FromDays(1), null));
            },
            time,
            services: s => s.AddSingleton<ITenantPlanResolver>(new TestPlans(new() { ["spent"] = "daily" })));
        var limiter = (LocalTenantRateLimiter)sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var plans = sp.GetRequiredService<PlanCatalog>();
        var spent = new TenantId("spent");
        for (var i = 0; i < 3; i++)
        {
            Assert.True((await limiter.AcquireAsync(spent)).IsAcquired);
        }

        for (var i = 0; i < 20_000; i++)
        {
            (await limiter.AcquireAsync(new TenantId($"once-{i}"))).Dispose();
        }

        Assert.Equal(20_001, limiter.TenantCount);
        Assert.InRange(plans.CachedTenantCount, 1, 100_000);
        time.Advance(TimeSpan.FromSeconds(11));
        (await limiter.AcquireAsync(new TenantId("late"))).Dispose(); // the sweep runs on the call path

        Assert.Equal(2, limiter.TenantCount); // "spent" (its daily rule is not full) and "late"
        using var refused = await limiter.AcquireAsync(spent);
        Assert.False(refused.IsAcquired); // kept, not swept into a fresh bucket
    }

    [Fact]
    public async Task Ten_thousand_tenants_through_the_leased_redis_limiter_leave_no_pools_behind_once_idle()
    {
        var time = new FakeTimeProvider();
        var redis = await TcpServer.RedisAsync();
        await using var sp = TestHost.Build(
            o =>
            {
                o.RateLimiting.Store = RateLimiterStore.Redis;
                o.RedisConnectionString = redis + TestHost.PatientRedis;
                o.RateLimiting.RedisKeyPrefix = $"test:many:{Guid.NewGuid():N}:";
                o.RateLimiting.LeaseSize = 5;
                o.RateLimiting.LeaseDuration = TimeSpan.FromSeconds(1);
                o.Plan("default", (100, TimeSpan.FromDays(1), null));
            },
            time,
            services: s => s.AddSingleton<ITenantPlanResolver>(new TestPlans([])));
        var limiter = (RedisTenantRateLimiter)sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var plans = sp.GetRequiredService<PlanCatalog>();
        for (var i = 0; i < 10_000; i++)
        {
            using var lease = await limiter.AcquireAsync(new TenantId($"once-{i}"));
            Assert.True(lease.IsAcquired);
        }

        Assert.Equal(10_000, limiter.PoolCount);
        Assert.Equal(10_000, limiter.CachedKeyCount);
        Assert.Equal(10_000, plans.CachedTenantCount);
        time.Advance(TimeSpan.FromSeconds(11)); // past 10 lease durations: every pool is idle
        (await limiter.AcquireAsync(new TenantId("late"))).Dispose();

        Assert.Equal(1, limiter.PoolCount);
        Assert.Equal(0, limiter.FallbackLimiter.TenantCount);
    }

    [Fact]
    public async Task The_plan_cache_and_the_script_key_cache_stay_within_their_cap_past_a_hundred_thousand_tenants()
    {
        var redis = await TcpServer.RedisAsync();
        await using var sp = TestHost.Build(
            o =>
            {
                o.RateLimiting.Store = RateLimiterStore.Redis;
                o.RedisConnectionString = redis + TestHost.PatientRedis;
                o.Plan("default", (100, TimeSpan.FromDays(1), null));
            },
            services: s => s.AddSingleton<ITenantPlanResolver>(new TestPlans([])));
        var limiter = (RedisTenantRateLimiter)sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var plans = sp.GetRequiredService<PlanCatalog>();
        for (var i = 0; i < 120_000; i++)
        {
            var tenant = new TenantId($"t-{i}");
            var plan = await plans.GetAsync(tenant, default); // no I/O: the resolver answers from memory
            _ = limiter.KeysOf(tenant, plan);                // no I/O: only the key array is built and cached
            Assert.InRange(plans.CachedTenantCount, 0, 100_000); // 0 right after the cap cleared it
            Assert.InRange(limiter.CachedKeyCount, 1, 100_000);
        }
    }

    /// <summary>
    /// Tenants that stop for good: their cached plan and script keys used to stay until 100,000 tenants had been seen
    /// (then every live tenant's too went at once), so an instance held about 250 bytes per tenant ever seen (the soak
    /// harness, <c>benchmarks/soak</c>). Expired plans are dropped once per <c>PlanCacheDuration</c>, and script keys not
    /// used for a minute once a minute, on the call path.
    /// </summary>
    [Fact]
    public async Task Tenants_that_stopped_leave_no_cached_plan_or_script_keys_behind()
    {
        var time = new FakeTimeProvider();
        var redis = await TcpServer.RedisAsync();
        await using var sp = TestHost.Build(
            o =>
            {
                o.RateLimiting.Store = RateLimiterStore.Redis;
                o.RedisConnectionString = redis + TestHost.PatientRedis;
                o.RateLimiting.RedisKeyPrefix = $"test:stopped:{Guid.NewGuid():N}:";
                o.Plan("default", (100, TimeSpan.FromSeconds(1), null));
            },
            time,
            services: s => s.AddSingleton<ITenantPlanResolver>(new TestPlans([])));
        var limiter = (RedisTenantRateLimiter)sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var plans = sp.GetRequiredService<PlanCatalog>();
        for (var i = 0; i < 10_000; i++)
        {
            using var lease = await limiter.AcquireAsync(new TenantId($"stopped-{i}"));
            Assert.True(lease.IsAcquired);
        }

        Assert.Equal((10_000, 10_000), (plans.CachedTenantCount, limiter.CachedKeyCount));
        for (var minute = 0; minute < 2; minute++)
        {
            time.Advance(TimeSpan.FromSeconds(61));
            using var lease = await limiter.AcquireAsync(new TenantId("still-here"));
            Assert.True(lease.IsAcquired);
        }

        Assert.Equal((1, 1), (plans.CachedTenantCount, limiter.CachedKeyCount)); // "still-here"
        using var again = await limiter.AcquireAsync(new TenantId("stopped-0")); // a tenant that comes back is served
        Assert.True(again.IsAcquired);
    }

    /// <summary>
    /// <c>PlanCacheDuration</c> 0 asks the resolver on every request: nothing may be kept. Every answer used to be stored
    /// all the same (never read), up to 100,000 dead entries, and each store counted the table (all its locks) on every
    /// request.
    /// </summary>
    [Fact]
    public async Task With_no_plan_cache_duration_no_tenant_plan_is_kept()
    {
        var plans = new TestPlans([]);
        using var sp = TestHost.Build(
            o =>
            {
                o.RateLimiting.PlanCacheDuration = TimeSpan.Zero;
                o.Plan("default", (100, TimeSpan.FromSeconds(1), null));
            },
            services: s => s.AddSingleton<ITenantPlanResolver>(plans));
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        for (var i = 0; i < 1_000; i++)
        {
            (await limiter.AcquireAsync(new TenantId($"t-{i}"))).Dispose();
        }

        Assert.Equal(1_000, plans.Calls);
        Assert.Equal(0, sp.GetRequiredService<PlanCatalog>().CachedTenantCount);
    }
}
