using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Resilience.Tests.RateLimiting;

/// <summary>
/// "Never admits more than the limit", exactly: a daily rule refills about one token in 29 minutes, so concurrent callers
/// on several instances, with and without leases, can admit at most its burst. Leased mode may admit fewer, by at most
/// the tokens the instances hold unused (N x (LeaseSize - 1)). Single Redis; <see cref="ClusterExactLimitTests"/> on the Cluster.
/// </summary>
[Collection(HammerCollection.Name)]
public class ExactLimitTests
{
    protected virtual Task<string> EndpointAsync() => TcpServer.RedisAsync();

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    public async Task Concurrent_callers_on_three_instances_never_pass_a_daily_limit(int leaseSize)
    {
        const int Limit = 50, Instances = 3, CallersPerInstance = 6, Attempts = 30;
        var redis = await EndpointAsync();
        var prefix = $"test:exact:{Guid.NewGuid():N}:";
        var hosts = new List<ServiceProvider>();
        for (var i = 0; i < Instances; i++)
        {
            hosts.Add(TestHost.Build(o =>
            {
                o.RateLimiting.Store = RateLimiterStore.Redis;
                o.RedisConnectionString = redis + TestHost.PatientRedis;
                o.RateLimiting.RedisKeyPrefix = prefix;
                o.RateLimiting.LeaseSize = leaseSize;
                o.RateLimiting.LeaseDuration = TimeSpan.FromMinutes(1);
                o.Plan("default", (Limit, TimeSpan.FromDays(1), null));
            }));
        }

        try
        {
            var tenant = new TenantId($"exact-{Guid.NewGuid():N}");
            var admitted = 0;
            using var start = new SemaphoreSlim(0);
            var callers = hosts.SelectMany(sp => Enumerable.Range(0, CallersPerInstance).Select(_ => Task.Run(async () =>
            {
                var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
                await start.WaitAsync();
                for (var n = 0; n < Attempts; n++)
                {
                    // As ASP.NET Core's middleware asks: AttemptAcquire, then AcquireAsync when that did not acquire.
                    var lease = limiter.AttemptAcquire(tenant);
                    if (!lease.IsAcquired)
                    {
                        lease.Dispose();
                        lease = await limiter.AcquireAsync(tenant);
                    }

                    if (lease.IsAcquired)
                    {
                        Interlocked.Increment(ref admitted);
                    }

                    lease.Dispose();
                }
            }))).ToArray();
            start.Release(callers.Length);
            await Task.WhenAll(callers).WaitAsync($"{callers.Length} callers x {Attempts} attempts");

            Assert.True(admitted <= Limit, $"admitted {admitted} of a daily limit of {Limit} (LeaseSize {leaseSize})");
            Assert.True(admitted >= Limit - (Instances * (leaseSize - 1)),
                $"admitted {admitted}: fewer than the limit {Limit} less the {Instances} x {leaseSize - 1} tokens the instances may hold unused");
        }
        finally
        {
            foreach (var sp in hosts)
            {
                await sp.DisposeAsync();
            }
        }
    }
}

/// <summary><see cref="ExactLimitTests"/> on the Redis Cluster (<c>SCALEOPS_REDIS_CLUSTER</c>).</summary>
[Collection(HammerCollection.Name)]
public class ClusterExactLimitTests : ExactLimitTests
{
    protected override Task<string> EndpointAsync() => Task.FromResult(TestServers.Require("SCALEOPS_REDIS_CLUSTER", "Redis Cluster"));
}
