using System;
using System.Linq;
using System.Threading;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.Resilience.Tests.RateLimiting;

/// <summary>
/// Leased tokens at shutdown: a batch still in flight when the limiter is disposed, and a host-owned multiplexer the
/// container disposes before the limiter. Each test runs its own redis-server (CLIENT PAUSE must not stall the shared one).
/// </summary>
public class RedisLeaseShutdownTests
{
    private const string Prefix = "test:shutdown:";

    /// <summary>10 a day, leases of 5 that never expire or get swept while a test runs: only a shutdown gives them back.</summary>
    private static void Leased(ResilienceOptions o, string redis)
    {
        o.RateLimiting.Store = RateLimiterStore.Redis;
        o.RedisConnectionString = redis + TestHost.PatientRedis;
        o.RateLimiting.RedisKeyPrefix = Prefix;
        o.Plan("default", (10, TimeSpan.FromDays(1), null));
        o.RateLimiting.LeaseSize = 5;
        o.RateLimiting.LeaseDuration = TimeSpan.FromMinutes(1);
    }

    private static TenantId NewTenant() => new($"shutdown-{Guid.NewGuid():N}");

    private static async Task<double> TokensLeftAsync(IConnectionMultiplexer admin, TenantId tenant) =>
        (double)await admin.GetDatabase().HashGetAsync($"{Prefix}{{{tenant}}}:default", "1");

    private static async Task<long> BlockedClientsAsync(IConnectionMultiplexer admin)
    {
        var info = await admin.GetServers().Single().InfoAsync("clients");
        return long.Parse(info.SelectMany(g => g).Single(p => p.Key == "blocked_clients").Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public async Task A_batch_in_flight_when_the_limiter_is_disposed_gives_its_leased_tokens_back_when_it_arrives(bool disposeAsync, bool afterDispose)
    {
        await using var redis = await PrivateRedisServer.StartAsync();
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint + ",allowAdmin=true");
        await using var sp = TestHost.Build(o => Leased(o, redis.Endpoint));
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var tenant = NewTenant();
        using (var cold = await limiter.AcquireAsync(tenant))
        {
            Assert.True(cold.IsAcquired); // one token, no lease: 9 left
        }

        // The server holds every write (EVALSHA included) until UNPAUSE: the tenant's next request, hot now, leases a
        // batch of 5 whose script call waits in the server while the limiter is disposed.
        await admin.GetDatabase().ExecuteAsync("CLIENT", "PAUSE", "60000", "WRITE");
        Task<RateLimitLease> batch;
        Task disposing;
        try
        {
            batch = limiter.AcquireAsync(tenant).AsTask();
            await TestSignal.UntilAsync(async () => await BlockedClientsAsync(admin) == 1, "the batch's script call held by the paused server");
            disposing = disposeAsync ? limiter.DisposeAsync().AsTask() : Task.Run(limiter.Dispose);
            if (afterDispose)
            {
                await disposing.WaitAsync("the limiter's dispose (bounded although the batch never arrives)");
            }
        }
        finally
        {
            await admin.GetDatabase().ExecuteAsync("CLIENT", "UNPAUSE");
        }

        await disposing.WaitAsync("the limiter's dispose");
        using (var lease = await batch.WaitAsync("the batch's answer"))
        {
            Assert.True(lease.IsAcquired); // asked before the dispose: Redis granted it
        }

        // Two requests admitted; the batch's 4 other tokens must be back in the bucket, not held by a disposed limiter.
        var left = await TokensLeftAsync(admin, tenant);
        Assert.True(left > 7.9, $"the bucket held {left} tokens: 2 were spent, and the in-flight batch's 4 unspent tokens were not given back");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_host_owned_multiplexer_disposed_before_the_limiter_fails_no_dispose_and_the_lost_give_back_is_logged_once(bool disposeAsync)
    {
        var redis = await TcpServer.RedisAsync();
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis);
        var sp = TestHost.Build(
            o => Leased(o, redis),
            services: s =>
            {
                s.AddFakeLogging();
                // The application's own multiplexer, built by a factory: the container owns and disposes it. It is
                // resolved on the limiter's first call, after the limiter was built, so it is disposed before the limiter.
                s.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(redis + TestHost.PatientRedis));
            });
        var logs = sp.GetRequiredService<FakeLogCollector>();
        var tenants = new[] { NewTenant(), NewTenant() };
        try
        {
            var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
            foreach (var tenant in tenants)
            {
                (await limiter.AcquireAsync(tenant)).Dispose();
                (await limiter.AcquireAsync(tenant)).Dispose(); // hot: leases 5, spends 1
            }
        }
        finally
        {
            var disposing = disposeAsync ? sp.DisposeAsync().AsTask() : Task.Run(sp.Dispose);
            await disposing.WaitAsync("the container's dispose, the host's multiplexer first"); // throws if the dispose does
        }

        // Without a host to stop first there is no moment before the multiplexer goes: the tokens are lost, and said so.
        foreach (var tenant in tenants)
        {
            Assert.InRange(await TokensLeftAsync(admin, tenant), 3.9, 4.1);
        }

        var warnings = logs.GetSnapshot().Where(r => r.Level >= LogLevel.Warning).ToList();
        var warning = Assert.Single(warnings);
        Assert.Equal(6102, warning.Id.Id);
        Assert.IsType<ObjectDisposedException>(warning.Exception); // the host's multiplexer, gone before the limiter
        Assert.Contains("8 leased tokens of 2 tenants", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stopping_host_gives_leased_tokens_back_before_the_container_disposes_its_multiplexer()
    {
        var redis = await TcpServer.RedisAsync();
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(redis + TestHost.PatientRedis));
        builder.Services.AddScaleOps(o =>
        {
            o.ConnectionString = "Host=127.0.0.1";
            o.ApplyMigrationsOnStart = false;
        }).AddResilience(o => Leased(o, redis));
        var tenant = NewTenant();
        using (var host = builder.Build())
        {
            await host.StartAsync();
            var limiter = host.Services.GetRequiredService<PartitionedRateLimiter<TenantId>>();
            (await limiter.AcquireAsync(tenant)).Dispose();
            (await limiter.AcquireAsync(tenant)).Dispose(); // hot: leases 5, spends 1
            Assert.InRange(await TokensLeftAsync(admin, tenant), 3.9, 4.1);
            await host.StopAsync();

            var left = await TokensLeftAsync(admin, tenant);
            Assert.True(left > 7.9, $"the bucket held {left} tokens after the host stopped: 2 were spent, 4 leased ones were not given back");

            // Still usable (a late caller is decided, not refused), but it leases no more: one request takes one token.
            using (var late = await limiter.AcquireAsync(tenant))
            {
                Assert.True(late.IsAcquired);
            }

            Assert.InRange(await TokensLeftAsync(admin, tenant), 6.9, 7.1);
        }

        Assert.InRange(await TokensLeftAsync(admin, tenant), 6.9, 7.1); // nothing was left to lose when the container disposed
    }

    /// <summary>A generic host with the Redis limiter in leased mode, logging to a collector.</summary>
    private static IHost LeasingHost(string redis)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddFakeLogging();
        builder.Services.AddScaleOps(o =>
        {
            o.ConnectionString = "Host=127.0.0.1";
            o.ApplyMigrationsOnStart = false;
        }).AddResilience(o => Leased(o, redis));
        return builder.Build();
    }

    private static int[] WarningIds(IHost host) =>
        [.. host.Services.GetFakeLogCollector().GetSnapshot().Where(r => r.Level >= LogLevel.Warning).Select(r => r.Id.Id)];

    [Fact]
    public async Task A_stop_whose_time_is_already_up_logs_the_give_back_unfinished_and_the_give_back_still_finishes()
    {
        var redis = await TcpServer.RedisAsync();
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis);
        var tenant = NewTenant();
        using var host = LeasingHost(redis);
        await host.StartAsync();
        var limiter = host.Services.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        (await limiter.AcquireAsync(tenant)).Dispose();
        (await limiter.AcquireAsync(tenant)).Dispose(); // hot: leases 5, spends 1
        Assert.InRange(await TokensLeftAsync(admin, tenant), 3.9, 4.1);

        // The host's stop token is cancelled already (its shutdown timeout spent by the services stopped before): the
        // stop sends the give-back but cannot wait for it.
        await host.StopAsync(new CancellationToken(canceled: true));
        var unfinished = Assert.Single(host.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Id == 6103);
        Assert.Equal(LogLevel.Warning, unfinished.Level);

        // It finishes in the background: the 4 unspent tokens are back, and nothing is reported lost.
        await TestSignal.UntilAsync(async () => await TokensLeftAsync(admin, tenant) > 7.9, "the 4 leased tokens to be given back after the stop");
        await host.Services.GetRequiredService<PartitionedRateLimiter<TenantId>>().DisposeAsync(); // a dispose after the stop has nothing left to give back
        Assert.Equal([6103], WarningIds(host));
    }

    [Fact]
    public async Task A_stop_while_Redis_does_not_answer_logs_the_give_back_unfinished_after_1_s_and_its_later_failure_as_lost()
    {
        await using var redis = await PrivateRedisServer.StartAsync(persistent: true);
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint + ",abortConnect=false");
        var tenant = NewTenant();
        using var host = LeasingHost(redis.Endpoint);
        await host.StartAsync();
        var limiter = host.Services.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        (await limiter.AcquireAsync(tenant)).Dispose();
        (await limiter.AcquireAsync(tenant)).Dispose(); // hot: leases 5, spends 1
        Assert.InRange(await TokensLeftAsync(admin, tenant), 3.9, 4.1);

        // Frozen (SIGSTOP): the give-back is sent and never answered; the client would wait 10 s, the stop waits 1 s.
        await redis.PauseAsync();
        await host.StopAsync().WaitAsync("the host's stop, bounded although Redis never answers");
        Assert.Equal([6103], WarningIds(host));

        // The server dies with the give-back unanswered: the give-back fails, and it says so itself (the stop is over).
        await redis.StopAsync();
        await TestSignal.UntilAsync(() => Task.FromResult(WarningIds(host).Contains(6102)), "the failed give-back to be logged as lost");
        var lost = Assert.Single(host.Services.GetFakeLogCollector().GetSnapshot(), r => r.Id.Id == 6102);
        Assert.Contains("4 leased tokens of 1 tenants", lost.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<RedisException>(lost.Exception);

        // Back with its data: the bucket is short of the 4 tokens for the rest of the window, as the warning says.
        await redis.RestartAsync();
        await TestSignal.UntilAsync(() => Task.FromResult(admin.IsConnected), "the admin connection to reach the restarted server");
        Assert.InRange(await TokensLeftAsync(admin, tenant), 3.9, 4.1);
    }
}
