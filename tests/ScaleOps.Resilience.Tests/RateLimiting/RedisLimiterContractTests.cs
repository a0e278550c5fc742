using System;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
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
}
