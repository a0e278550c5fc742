using System;
using System.Reflection;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Resilience.Internal.RateLimiting;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Resilience.Tests.RateLimiting;

/// <summary>The Redis limiter keeps the contract of a <see cref="PartitionedRateLimiter{TResource}"/> and its metadata.</summary>
public class RedisLimiterContractTests
{
    private static async Task<ServiceProvider> Instance(params (int PermitLimit, TimeSpan Window, int? Burst)[] rules)
    {
        var redis = await TcpServer.RedisAsync();
        return TestHost.Build(o =>
        {
            o.RateLimiting.Store = RateLimiterStore.Redis;
            o.RedisConnectionString = redis + TestHost.PatientRedis;
            o.RateLimiting.RedisKeyPrefix = "test:contract:";
            o.Plan("default", rules);
        });
    }

    private static TenantId NewTenant() => new($"contract-{Guid.NewGuid():N}");

    [Fact]
    public async Task A_rejected_zero_permit_request_carries_the_retry_after_it_lists()
    {
        await using var sp = await Instance((2, TimeSpan.FromMinutes(1), null));
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var tenant = NewTenant();
        (await limiter.AcquireAsync(tenant)).Dispose();
        (await limiter.AcquireAsync(tenant)).Dispose();

        using var probe = await limiter.AcquireAsync(tenant, 0);

        Assert.False(probe.IsAcquired);
        Assert.Contains(MetadataName.RetryAfter.Name, probe.MetadataNames);
        Assert.True(probe.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter), "RETRY_AFTER is listed but not given");
        Assert.InRange(retryAfter, TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(30)); // one token at one per 30 s
    }

    [Fact]
    public async Task The_default_tenant_id_is_refused_naming_the_resource()
    {
        await using var sp = await Instance((5, TimeSpan.FromSeconds(1), null));
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();

        var ex = await Assert.ThrowsAsync<ArgumentException>(async () => await limiter.AcquireAsync(default));
        Assert.Equal("resource", ex.ParamName);
        Assert.Equal("resource", Assert.Throws<ArgumentException>(() => limiter.AttemptAcquire(default)).ParamName);
    }

    [Fact]
    public async Task When_rules_tie_on_remaining_reset_names_the_rule_that_refills_last()
    {
        await using var sp = await Instance((10, TimeSpan.FromSeconds(1), null), (10, TimeSpan.FromDays(1), null));
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var tenant = NewTenant();
        for (var i = 0; i < 9; i++)
        {
            (await limiter.AcquireAsync(tenant)).Dispose();
        }

        using var last = await limiter.AcquireAsync(tenant); // both rules now have 0 left
        Assert.True(last.TryGetMetadata(RateLimitMetadata.Remaining, out var remaining));
        Assert.True(last.TryGetMetadata(RateLimitMetadata.Reset, out var reset));
        Assert.Equal(0, remaining);
        Assert.True(reset > TimeSpan.FromHours(23), $"Reset {reset}: the per-second rule, which refills long before the daily one lets a request pass");
    }

    [Fact]
    public async Task Used_after_dispose_it_throws_ObjectDisposedException()
    {
        await using var sp = await Instance((5, TimeSpan.FromSeconds(1), null));
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var tenant = NewTenant();
        (await limiter.AcquireAsync(tenant)).Dispose();
        limiter.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await limiter.AcquireAsync(tenant));
        Assert.Throws<ObjectDisposedException>(() => limiter.AttemptAcquire(tenant));
    }

    [Fact]
    public async Task Disposing_answers_a_request_waiting_for_a_leased_batch_with_a_failed_lease()
    {
        var redis = await TcpServer.RedisAsync();
        await using var sp = TestHost.Build(o =>
        {
            o.RateLimiting.Store = RateLimiterStore.Redis;
            o.RedisConnectionString = redis + TestHost.PatientRedis;
            o.RateLimiting.RedisKeyPrefix = "test:contract:";
            o.RateLimiting.LeaseSize = 5;
            o.RateLimiting.LeaseDuration = TimeSpan.FromMinutes(1);
            o.Plan("default", (100, TimeSpan.FromHours(1), null));
        });
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var tenant = NewTenant();
        (await limiter.AcquireAsync(tenant)).Dispose(); // cold: one round trip, no lease

        // A batch of this tenant in flight (begun here, never ended): the next request waits for it.
        var pools = (System.Collections.IDictionary)typeof(RedisTenantRateLimiter)
            .GetField("_pools", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(limiter)!;
        var pool = (LeasePool)pools[tenant]!;
        var plan = sp.GetRequiredService<PlanCatalog>().TryGetCached(tenant)!;
        Assert.True(pool.Enter(plan, 1, join: true, TimeProvider.System.GetTimestamp(), default).Lead);
        var waiting = limiter.AcquireAsync(tenant).AsTask();
        Assert.False(waiting.IsCompleted);

        limiter.Dispose();

        using var lease = await waiting.WaitAsync("the waiting request to be answered");
        Assert.False(lease.IsAcquired);
    }
}
