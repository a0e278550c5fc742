using System;
using System.Globalization;
using System.Linq;
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
/// A cancelled <c>AcquireAsync</c>, as with the built-in limiters: either it throws <see cref="OperationCanceledException"/>
/// and spends no permit, or the permits were granted before the cancellation took effect and it returns their lease.
/// Each test runs its own redis-server (CLIENT PAUSE must not stall the shared one).
/// </summary>
public class RedisLimiterCancellationTests
{
    private const string Prefix = "test:cancel:";

    private static ServiceProvider Limiter(string redis, int leaseSize, FakeTimeProvider? time = null) => TestHost.Build(
        o =>
        {
            o.RateLimiting.Store = RateLimiterStore.Redis;
            o.RedisConnectionString = redis + TestHost.PatientRedis;
            o.RateLimiting.RedisKeyPrefix = Prefix;
            o.Plan("default", (100, TimeSpan.FromDays(1), null));
            o.RateLimiting.LeaseSize = leaseSize;
            o.RateLimiting.LeaseDuration = TimeSpan.FromMinutes(1);
        },
        time);

    private static TenantId NewTenant() => new($"cancel-{Guid.NewGuid():N}");

    private static async Task<double> TokensLeftAsync(IConnectionMultiplexer admin, TenantId tenant) =>
        (double)await admin.GetDatabase().HashGetAsync($"{Prefix}{{{tenant}}}:default", "1");

    private static async Task<long> BlockedClientsAsync(IConnectionMultiplexer admin)
    {
        var info = await admin.GetServers().Single().InfoAsync("clients");
        return long.Parse(info.SelectMany(g => g).Single(p => p.Key == "blocked_clients").Value, CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task A_waiter_cancelled_after_the_batch_took_its_permits_but_before_it_got_them_spends_none()
    {
        var time = new FakeTimeProvider(); // the lease never expires while the test runs
        await using var redis = await PrivateRedisServer.StartAsync();
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint + ",allowAdmin=true");
        await using var sp = Limiter(redis.Endpoint, leaseSize: 5, time);
        var limiter = (RedisTenantRateLimiter)sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var tenant = NewTenant();
        (await limiter.AcquireAsync(tenant)).Dispose(); // cold: one token, no lease

        // The waiter is cancelled at the worst moment: its permit was taken from the batch, and it has not got it yet.
        using var cts = new CancellationTokenSource();
        limiter.WaitersAnswering = t =>
        {
            if (t == tenant)
            {
                cts.Cancel();
            }
        };

        // The server holds the batch's script call until UNPAUSE, so the second request finds it in flight and waits.
        await admin.GetDatabase().ExecuteAsync("CLIENT", "PAUSE", "60000", "WRITE");
        Task<RateLimitLease> leader;
        Task<RateLimitLease> waiter;
        try
        {
            leader = limiter.AcquireAsync(tenant).AsTask(); // hot: leases a batch of 5
            waiter = limiter.AcquireAsync(tenant, 1, cts.Token).AsTask();
            Assert.False(waiter.IsCompleted);
        }
        finally
        {
            await admin.GetDatabase().ExecuteAsync("CLIENT", "UNPAUSE");
        }

        using (var lease = await leader.WaitAsync("the batch leader's answer"))
        {
            Assert.True(lease.IsAcquired);
        }

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiter.WaitAsync("the cancelled waiter's answer"));

        // The batch's 4 other tokens are all still leased here: the cancelled waiter spent none of them.
        using (var rest = limiter.AttemptAcquire(tenant, 4))
        {
            Assert.True(rest.IsAcquired, "the pool held fewer than 4 tokens: the cancelled waiter spent one");
        }

        Assert.InRange(await TokensLeftAsync(admin, tenant), 93.9, 94.1); // 1 + 5 taken from Redis, none given back yet
    }

    [Fact]
    public async Task A_request_cancelled_before_its_round_trip_spends_nothing_and_one_cancelled_during_it_gets_what_Redis_decided()
    {
        await using var redis = await PrivateRedisServer.StartAsync();
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint + ",allowAdmin=true");
        await using var sp = Limiter(redis.Endpoint, leaseSize: 1);
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var tenant = NewTenant();
        (await limiter.AcquireAsync(tenant)).Dispose();
        Assert.InRange(await TokensLeftAsync(admin, tenant), 98.9, 99.1);

        // Cancelled before the script call: nothing is asked of Redis, nothing is spent.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => limiter.AcquireAsync(tenant, 1, new CancellationToken(canceled: true)).AsTask());
        Assert.InRange(await TokensLeftAsync(admin, tenant), 98.9, 99.1);

        // Cancelled while the script call is in the server: Redis decides (the token cannot recall the command), and the
        // caller gets that decision, a lease for the permit spent, as a built-in limiter returns a lease it granted
        // before the cancellation took effect; never an OperationCanceledException for a permit that was spent.
        using var cts = new CancellationTokenSource();
        await admin.GetDatabase().ExecuteAsync("CLIENT", "PAUSE", "60000", "WRITE");
        Task<RateLimitLease> acquiring;
        try
        {
            acquiring = limiter.AcquireAsync(tenant, 1, cts.Token).AsTask();
            await TestSignal.UntilAsync(async () => await BlockedClientsAsync(admin) == 1, "the script call held by the paused server");
            await cts.CancelAsync();
        }
        finally
        {
            await admin.GetDatabase().ExecuteAsync("CLIENT", "UNPAUSE");
        }

        using (var lease = await acquiring.WaitAsync("the cancelled request's answer"))
        {
            Assert.True(lease.IsAcquired);
        }

        Assert.InRange(await TokensLeftAsync(admin, tenant), 97.9, 98.1);
    }
}
