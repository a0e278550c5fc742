using System;
using System.Linq;
using System.Threading;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
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

    /// <summary>100 a day, leases of 5 for 1 s (swept after 10 s idle) on <paramref name="redis"/>, logging to a collector.</summary>
    private static ServiceProvider Leasing(string redis, FakeTimeProvider time) => TestHost.Build(
        o =>
        {
            o.RateLimiting.Store = RateLimiterStore.Redis;
            o.RedisConnectionString = redis + TestHost.PatientRedis;
            o.RateLimiting.RedisKeyPrefix = Prefix;
            o.Plan("default", (100, TimeSpan.FromDays(1), null));
            o.RateLimiting.LeaseSize = 5;
            o.RateLimiting.LeaseDuration = TimeSpan.FromSeconds(1);
        },
        time,
        services: s => s.AddFakeLogging());

    private static int[] WarningIds(ServiceProvider sp) =>
        [.. sp.GetFakeLogCollector().GetSnapshot().Where(r => r.Level >= LogLevel.Warning).Select(r => r.Id.Id)];

    [Fact]
    public async Task A_give_back_of_a_swept_pool_that_fails_is_logged_as_lost()
    {
        var time = new FakeTimeProvider();
        await using var redis = await PrivateRedisServer.StartAsync();
        await using var sp = Leasing(redis.Endpoint, time);
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var tenant = NewTenant();
        (await limiter.AcquireAsync(tenant)).Dispose();
        (await limiter.AcquireAsync(tenant)).Dispose(); // hot: leases 5, spends 1, holds 4

        // Idle for 10 leases, then Redis is gone: another tenant's request sweeps the pool away, and its give-back fails.
        time.Advance(TimeSpan.FromSeconds(10));
        await redis.StopAsync();
        (await limiter.AcquireAsync(NewTenant())).Dispose(); // decided by the failure mode (6101)

        // The 4 tokens are missing from the tenant's bucket for the rest of the day, on every instance: that must be said.
        await TestSignal.UntilAsync(() => Task.FromResult(WarningIds(sp).Contains(6102)), "the failed give-back of the swept pool to be logged as lost");
        var lost = Assert.Single(sp.GetFakeLogCollector().GetSnapshot(), r => r.Id.Id == 6102);
        Assert.Contains("4 leased tokens of 1 tenants", lost.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<RedisException>(lost.Exception);
    }

    [Fact]
    public async Task A_stop_waits_for_the_give_back_of_a_pool_the_sweep_dropped_just_before()
    {
        var time = new FakeTimeProvider();
        await using var redis = await PrivateRedisServer.StartAsync();
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint + ",allowAdmin=true");
        await using var sp = Leasing(redis.Endpoint, time);
        var limiter = (RedisTenantRateLimiter)sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var tenant = NewTenant();
        (await limiter.AcquireAsync(tenant)).Dispose();
        (await limiter.AcquireAsync(tenant)).Dispose(); // hot: leases 5, spends 1, holds 4
        time.Advance(TimeSpan.FromSeconds(10));

        // The server holds every write until UNPAUSE: the give-back of the pool the next request sweeps away is in flight
        // when the host stops, with its stop time already spent, so the stop cannot wait for it and must say so (6103).
        await admin.GetDatabase().ExecuteAsync("CLIENT", "PAUSE", "60000", "WRITE");
        Task<RateLimitLease> sweeping;
        try
        {
            sweeping = limiter.AcquireAsync(NewTenant()).AsTask(); // sweeps the idle pool before its own round trip
            await limiter.StopLeasingAsync(new CancellationToken(canceled: true));
            Assert.Equal([6103], WarningIds(sp));
        }
        finally
        {
            await admin.GetDatabase().ExecuteAsync("CLIENT", "UNPAUSE");
        }

        (await sweeping.WaitAsync("the sweeping request's answer")).Dispose();

        // It finishes in the background: the 4 tokens are back (2 spent), and nothing is reported lost.
        var key = $"{Prefix}{{{tenant}}}:default";
        await TestSignal.UntilAsync(async () => (double)await admin.GetDatabase().HashGetAsync(key, "1") > 97.9, "the swept pool's 4 tokens to be given back");
        Assert.Equal([6103], WarningIds(sp));
    }
}
