using System;
using System.Threading;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ScaleOps.Resilience.Internal.RateLimiting;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.Resilience.Tests.RateLimiting;

/// <summary>
/// Leased tokens and the sweep of idle pools: every token taken from Redis is spent or given back, also when the sweep
/// drops a pool that a request still holds.
/// </summary>
public class RedisLeasePoolSweepTests
{
    private const string Prefix = "test:sweep:";

    private static TenantId NewTenant() => new($"sweep-{Guid.NewGuid():N}");

    [Fact]
    public async Task A_request_holding_a_pool_the_sweep_drops_leases_nothing_into_it_so_no_token_is_kept_from_the_bucket()
    {
        // 100 a day, leases of 5 for 1 s; the clock moves only when the test says so.
        var time = new FakeTimeProvider();
        var redis = await TcpServer.RedisAsync();
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis);
        var sp = TestHost.Build(
            o =>
            {
                o.RateLimiting.Store = RateLimiterStore.Redis;
                o.RedisConnectionString = redis + TestHost.PatientRedis;
                o.RateLimiting.RedisKeyPrefix = Prefix;
                o.Plan("default", (100, TimeSpan.FromDays(1), null));
                o.RateLimiting.LeaseSize = 5;
                o.RateLimiting.LeaseDuration = TimeSpan.FromSeconds(1);
            },
            time);
        var tenant = NewTenant();
        var admitted = 0;
        try
        {
            var limiter = (RedisTenantRateLimiter)sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
            using (var cold = await limiter.AcquireAsync(tenant))
            {
                Assert.True(cold.IsAcquired); // one token, no lease; the next request within 1 s is hot and leases a batch
                admitted++;
            }

            // The tenant's next request reads the clock (still the cold request's instant: hot) and finds the pool, and
            // is preempted there. Meanwhile the clock passes 10 leases, and another tenant's round trip sweeps the pool,
            // idle by then, away.
            using var found = new SemaphoreSlim(0);
            using var resume = new SemaphoreSlim(0);
            limiter.PoolFound = t =>
            {
                if (t == tenant)
                {
                    limiter.PoolFound = null;
                    found.Release();
                    resume.Wait(TestSignal.DefaultTimeout);
                }
            };
            var preempted = Task.Run(() => limiter.AcquireAsync(tenant).AsTask());
            await found.WaitAsync(TestSignal.DefaultTimeout);
            time.Advance(TimeSpan.FromSeconds(10));
            (await limiter.AcquireAsync(NewTenant())).Dispose(); // sweeps the tenant's idle pool
            resume.Release();
            using (var lease = await preempted.WaitAsync("the preempted request's answer"))
            {
                Assert.True(lease.IsAcquired);
                admitted++;
            }
        }
        finally
        {
            await sp.DisposeAsync(); // gives back whatever the limiter's pools hold
        }

        // Taken from Redis = spent + given back: the bucket is short only of the requests admitted. A batch leased into
        // the dropped pool would keep 4 tokens nobody spends or gives back (the bucket at 94).
        var left = (double)await admin.GetDatabase().HashGetAsync($"{Prefix}{{{tenant}}}:default", "1");
        Assert.True(left > 100 - admitted - 0.1, $"the bucket held {left} tokens after {admitted} requests were admitted and the limiter was disposed");
    }
}
