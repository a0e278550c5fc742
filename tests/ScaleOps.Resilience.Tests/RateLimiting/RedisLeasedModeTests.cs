using System;
using System.Linq;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.Resilience.Tests.RateLimiting;

/// <summary>Leased mode of the Redis limiter: what unused leases cost, and what a remembered rejection answers.</summary>
public class RedisLeasedModeTests
{
    private const string Prefix = "test:leased:";

    private static async Task<ServiceProvider> Instance(Action<ResilienceOptions> configure)
    {
        var redis = await TcpServer.RedisAsync();
        return TestHost.Build(o =>
        {
            o.RateLimiting.Store = RateLimiterStore.Redis;
            o.RedisConnectionString = redis + TestHost.PatientRedis;
            o.RateLimiting.RedisKeyPrefix = Prefix;
            configure(o);
        });
    }

    private static TenantId NewTenant() => new($"leased-{Guid.NewGuid():N}");

    [Fact]
    public async Task Leased_tokens_that_expire_unused_are_given_back_so_a_daily_rule_admits_its_whole_limit()
    {
        // 10 a second and 20 a day; the tenant makes two requests in a row, then pauses past the lease: each pair leases a
        // batch of 5 and spends 1 of it. Were the 4 unused dropped, the daily rule would be spent 3 times as fast.
        await using var sp = await Instance(o =>
        {
            o.Plan("default", (10, TimeSpan.FromSeconds(1), null), (20, TimeSpan.FromDays(1), null));
            o.RateLimiting.LeaseSize = 5;
            o.RateLimiting.LeaseDuration = TimeSpan.FromMilliseconds(100);
        });
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var tenant = NewTenant();
        var admitted = 0;
        TimeSpan retryAfter = default;
        for (var cycle = 0; cycle < 15 && retryAfter == default; cycle++)
        {
            for (var i = 0; i < 2; i++)
            {
                using var lease = await limiter.AcquireAsync(tenant);
                if (!lease.IsAcquired)
                {
                    lease.TryGetMetadata(MetadataName.RetryAfter, out retryAfter);
                    break;
                }

                admitted++;
            }

            await Task.Delay(150); // past the lease: its unused tokens expire
        }

        Assert.Equal(20, admitted);
        Assert.True(retryAfter > TimeSpan.FromHours(1), $"refused for {retryAfter}: the daily rule refuses");
    }

    [Fact]
    public async Task Unused_leased_tokens_of_a_pool_swept_away_are_given_back()
    {
        await using var sp = await Instance(o =>
        {
            o.Plan("default", (10, TimeSpan.FromDays(1), null));
            o.RateLimiting.LeaseSize = 5;
            o.RateLimiting.LeaseDuration = TimeSpan.FromMilliseconds(100);
        });
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        await using var admin = await ConnectionMultiplexer.ConnectAsync(await TcpServer.RedisAsync()); // before: the checks below are quick
        var server = admin.GetServers().First();
        (await limiter.AcquireAsync(NewTenant())).Dispose(); // connected: the next two calls are quick
        var tenant = NewTenant();
        (await limiter.AcquireAsync(tenant)).Dispose();
        (await limiter.AcquireAsync(tenant)).Dispose(); // hot: leases 5, spends 1
        var key = server.Keys(pattern: $"{Prefix}*{tenant}*").Single();
        var left = (double)await admin.GetDatabase().HashGetAsync(key, "1");

        // 10 - 1 - 5 while the lease is held; if the machine was slow enough for the pool to be swept already, the
        // tokens are back (the wait below then ends at once).
        Assert.True(Math.Abs(left - 4) < 0.01 || left > 7.9, $"the bucket held {left} tokens after one spent and five leased");

        // Idle past the sweep interval (10 leases), another tenant's round trip sweeps the pool: repeat until it has.
        await TestSignal.UntilAsync(
            async () =>
            {
                (await limiter.AcquireAsync(NewTenant())).Dispose();
                return (double)await admin.GetDatabase().HashGetAsync(key, "1") > 7.9;
            },
            "the swept pool's 4 unused tokens to be given back");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Unused_leased_tokens_are_given_back_when_the_host_shuts_down(bool disposeAsync)
    {
        // A lease of a minute: the tokens neither expire nor get swept while the test runs; only the shutdown gives them back.
        var sp = await Instance(o =>
        {
            o.Plan("default", (10, TimeSpan.FromDays(1), null));
            o.RateLimiting.LeaseSize = 5;
            o.RateLimiting.LeaseDuration = TimeSpan.FromMinutes(1);
        });
        await using var admin = await ConnectionMultiplexer.ConnectAsync(await TcpServer.RedisAsync());
        var server = admin.GetServers().First();
        var tenant = NewTenant();
        try
        {
            var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
            (await limiter.AcquireAsync(tenant)).Dispose();
            (await limiter.AcquireAsync(tenant)).Dispose(); // hot: leases 5, spends 1
        }
        finally
        {
            if (disposeAsync)
            {
                await sp.DisposeAsync();
            }
            else
            {
                sp.Dispose();
            }
        }

        var key = server.Keys(pattern: $"{Prefix}*{tenant}*").Single();
        var left = (double)await admin.GetDatabase().HashGetAsync(key, "1");
        Assert.True(left > 7.9, $"the bucket held {left} tokens after the shutdown: 2 were spent, 4 leased ones were not given back");
    }

    [Fact]
    public async Task A_shutdown_while_Redis_is_unreachable_does_not_wait_for_the_give_back()
    {
        await using var redis = await PrivateRedisServer.StartAsync();
        var sp = TestHost.Build(o =>
        {
            o.RateLimiting.Store = RateLimiterStore.Redis;
            o.RedisConnectionString = redis.Endpoint + ",connectTimeout=1000,syncTimeout=1000,asyncTimeout=1000";
            o.RateLimiting.RedisKeyPrefix = Prefix;
            o.Plan("default", (10, TimeSpan.FromDays(1), null));
            o.RateLimiting.LeaseSize = 5;
            o.RateLimiting.LeaseDuration = TimeSpan.FromMinutes(1);
        });
        var tenant = NewTenant();
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        Assert.True((await limiter.AcquireAsync(tenant)).IsAcquired);
        Assert.True((await limiter.AcquireAsync(tenant)).IsAcquired); // leases 5
        await redis.PauseAsync(); // the give-back is sent to a server that never answers
        try
        {
            // Bounded by the client's timeout, not by the frozen server: the wait fails only if the dispose hangs.
            await sp.DisposeAsync().AsTask().WaitAsync("the limiter's dispose with Redis frozen");
        }
        finally
        {
            await redis.ResumeAsync();
        }
    }

    [Fact]
    public async Task A_larger_request_after_a_remembered_one_permit_rejection_gets_the_retry_after_of_its_own_permits()
    {
        // 10 per 10 s: one token a second.
        await using var sp = await Instance(o =>
        {
            o.Plan("default", (10, TimeSpan.FromSeconds(10), null));
            o.RateLimiting.LeaseSize = 2;
        });
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var tenant = NewTenant();
        for (var i = 0; i < 30; i++)
        {
            using var lease = await limiter.AcquireAsync(tenant);
            if (!lease.IsAcquired)
            {
                break; // a one-permit rejection, remembered until its Retry-After
            }
        }

        using var one = limiter.AttemptAcquire(tenant);
        Assert.False(one.IsAcquired);
        Assert.True(one.TryGetMetadata(MetadataName.RetryAfter, out var oneRetryAfter), "a one-permit request is answered from memory");
        Assert.InRange(oneRetryAfter, TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(1.1));

        using var five = await limiter.AcquireAsync(tenant, 5);
        Assert.False(five.IsAcquired);
        Assert.True(five.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
        Assert.True(retryAfter >= TimeSpan.FromSeconds(4), $"Retry-After for 5 permits at one token a second: {retryAfter}");
    }
}
