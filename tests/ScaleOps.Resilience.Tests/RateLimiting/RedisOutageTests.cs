using System;
using System.Linq;
using System.Reflection;
using System.Threading;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Time.Testing;
using Polly.CircuitBreaker;
using ScaleOps.Resilience.CircuitBreakers;
using ScaleOps.Resilience.Internal.RateLimiting;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.Resilience.Tests.RateLimiting;

/// <summary>Each test starts and stops its own redis-server; the shared one is never touched.</summary>
public class RedisOutageTests
{
    private static readonly TenantId Tenant = new("outage-acme");

    private static ServiceProvider Instance(PrivateRedisServer redis, RedisFailureMode mode, TimeProvider? time = null,
        Action<IServiceCollection>? services = null) => TestHost.Build(o =>
    {
        o.RateLimiting.Store = RateLimiterStore.Redis;
        o.RateLimiting.RedisFailureMode = mode;
        o.RedisConnectionString = redis.Endpoint + TestHost.PatientRedis;
        o.Plan("default", (3, TimeSpan.FromMinutes(1), null));
        o.CircuitBreakers[CircuitBreakerNames.Redis].MinimumThroughput = 2;
        o.CircuitBreakers[CircuitBreakerNames.Redis].BreakDuration = TimeSpan.FromSeconds(30);
    }, time, services: services);

    [Theory]
    [InlineData(RedisFailureMode.FailOpen)]
    [InlineData(RedisFailureMode.FailClosed)]
    [InlineData(RedisFailureMode.Local)]
    public async Task When_redis_stops_the_configured_failure_mode_decides_and_the_breaker_opens(RedisFailureMode mode)
    {
        await using var redis = await PrivateRedisServer.StartAsync();
        await using var sp = Instance(redis, mode, services: s => s.AddFakeLogging());
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var breakers = sp.GetRequiredService<CircuitBreakerRegistry>();
        using (var before = await limiter.AcquireAsync(Tenant))
        {
            Assert.True(before.IsAcquired);
            Assert.True(before.TryGetMetadata(RateLimitMetadata.Remaining, out var remaining));
            Assert.Equal(2, remaining); // decided by Redis
        }

        await redis.StopAsync();

        var admitted = 0;
        for (var i = 0; i < 6; i++)
        {
            using var lease = await limiter.AcquireAsync(Tenant).AsTask().WaitAsync("a decision while Redis is down");
            admitted += lease.IsAcquired ? 1 : 0;
            if (mode == RedisFailureMode.FailClosed)
            {
                Assert.True(lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
                Assert.Equal(TimeSpan.FromSeconds(30), retryAfter);
            }
        }

        Assert.Equal(mode switch { RedisFailureMode.FailOpen => 6, RedisFailureMode.FailClosed => 0, _ => 3 }, admitted);
        Assert.Equal(CircuitState.Open, breakers.GetState(CircuitBreakerNames.Redis));

        var health = await sp.GetRequiredService<CircuitBreakerHealthCheck>().CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Degraded, health.Status);
        Assert.Contains("redis (Open)", health.Description, StringComparison.Ordinal);

        // The Redis call that failed is logged (6101, a warning naming the tenant and the mode, with the failure); the
        // decisions made while the breaker is open do not call Redis and are not logged again.
        var logged = sp.GetFakeLogCollector().GetSnapshot().Where(r => r.Id.Id == 6101).ToList();
        var failed = Assert.Single(logged);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, failed.Level);
        Assert.Equal($"Redis rate limiter unavailable for tenant outage-acme; deciding {mode}", failed.Message);
        Assert.True(TransientFailures.IsTransient(failed.Exception!), failed.Exception!.ToString());
    }

    [Theory]
    [InlineData(RedisFailureMode.FailOpen)]
    [InlineData(RedisFailureMode.FailClosed)]
    [InlineData(RedisFailureMode.Local)]
    public async Task A_limiter_whose_first_connect_fails_applies_the_failure_mode_and_connects_once_redis_is_up(RedisFailureMode mode)
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        await using var redis = await PrivateRedisServer.StartAsync();
        await redis.StopAsync(); // down before the limiter ever connects
        await using var sp = TestHost.Build(o =>
        {
            o.RateLimiting.Store = RateLimiterStore.Redis;
            o.RateLimiting.RedisFailureMode = mode;
            o.RedisConnectionString = redis.Endpoint + ",abortConnect=true"; // a host's string: the connect itself throws
            o.Plan("default", (3, TimeSpan.FromMinutes(1), null));
            o.CircuitBreakers[CircuitBreakerNames.Redis].MinimumThroughput = 2;
            o.CircuitBreakers[CircuitBreakerNames.Redis].BreakDuration = TimeSpan.FromSeconds(30);
        }, time);
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var breakers = sp.GetRequiredService<CircuitBreakerRegistry>();

        for (var i = 0; i < 2; i++)
        {
            using var lease = await limiter.AcquireAsync(Tenant).AsTask().WaitAsync("a decision while Redis has never been reached");
            Assert.Equal(mode != RedisFailureMode.FailClosed, lease.IsAcquired);
            if (mode == RedisFailureMode.FailClosed)
            {
                Assert.True(lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
                Assert.Equal(TimeSpan.FromSeconds(30), retryAfter);
            }
        }

        Assert.Equal(CircuitState.Open, breakers.GetState(CircuitBreakerNames.Redis)); // the failed connects counted

        await redis.RestartAsync();
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint);
        var key = $"scaleops:rl:{{{Tenant}}}:default";
        await TestSignal.UntilAsync(async () =>
        {
            time.Advance(TimeSpan.FromSeconds(31)); // past the break: the next call is the trial, which connects
            using var lease = await limiter.AcquireAsync(Tenant);
            return lease.IsAcquired && await admin.GetDatabase().KeyExistsAsync(key);
        }, "a decision made in Redis after it came up");
        Assert.Equal(CircuitState.Closed, breakers.GetState(CircuitBreakerNames.Redis));
    }

    [Fact]
    public async Task The_limiter_never_retries_its_redis_call_even_when_the_redis_pipeline_retries_every_call()
    {
        await using var redis = await PrivateRedisServer.StartAsync();
        await using var sp = TestHost.Build(o =>
        {
            o.RateLimiting.Store = RateLimiterStore.Redis;
            o.RateLimiting.RedisFailureMode = RedisFailureMode.FailClosed;
            o.RedisConnectionString = redis.Endpoint;
            o.Plan("default", (3, TimeSpan.FromMinutes(1), null));
            o.CircuitBreakers[CircuitBreakerNames.Redis].MinimumThroughput = 100;
            o.CircuitBreakers[CircuitBreakerNames.Redis].Retry = new RetrySettings { MaxRetryAttempts = 5, RetryNonIdempotent = true };
        });
        using var retries = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long>(
            sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "ScaleOps", "scaleops.resilience.retry.attempts");
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        (await limiter.AcquireAsync(Tenant)).Dispose();
        await redis.StopAsync();

        using var lease = await limiter.AcquireAsync(Tenant).AsTask().WaitAsync("a decision while Redis is down");

        Assert.False(lease.IsAcquired); // fail-closed at the first failure: a retry would take tokens twice
        Assert.Empty(retries.GetMeasurementSnapshot());
        await sp.GetRequiredService<CircuitBreakerRegistry>().GetPipeline(CircuitBreakerNames.Redis).ExecuteAsync(async ct =>
        {
            if (retries.GetMeasurementSnapshot().Count == 0)
            {
                throw new TimeoutException("the pipeline itself does retry");
            }

            await Task.CompletedTask;
        }).AsTask().WaitAsync("the retrying pipeline");
        Assert.Single(retries.GetMeasurementSnapshot());
    }

    /// <summary>One decision with Redis up, then Redis stopped and three failed decisions: the breaker is open.</summary>
    private static async Task OpenTheBreakerAsync(PrivateRedisServer redis, PartitionedRateLimiter<TenantId> limiter, CircuitBreakerRegistry breakers)
    {
        (await limiter.AcquireAsync(Tenant)).Dispose();
        await redis.StopAsync();
        for (var i = 0; i < 3; i++)
        {
            (await limiter.AcquireAsync(Tenant)).Dispose();
        }

        Assert.Equal(CircuitState.Open, breakers.GetState(CircuitBreakerNames.Redis));
    }

    [Fact]
    public async Task After_redis_returns_the_half_open_breaker_lets_a_trial_through_and_redis_decides_again()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        await using var redis = await PrivateRedisServer.StartAsync();
        await using var sp = Instance(redis, RedisFailureMode.FailClosed, time);
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var breakers = sp.GetRequiredService<CircuitBreakerRegistry>();
        await OpenTheBreakerAsync(redis, limiter, breakers);
        using (var whileOpen = limiter.AttemptAcquire(Tenant))
        {
            Assert.False(whileOpen.IsAcquired); // decided without I/O while the breaker is open
            Assert.True(whileOpen.TryGetMetadata(MetadataName.RetryAfter, out _));
        }

        await redis.RestartAsync(); // a fresh, empty server on the same port (the script must be loaded again)
        await TestSignal.UntilAsync(async () =>
        {
            time.Advance(TimeSpan.FromSeconds(31)); // past the break: the breaker half-opens and lets one trial call through
            using var lease = await limiter.AcquireAsync(Tenant);
            return lease.IsAcquired && lease.TryGetMetadata(RateLimitMetadata.Remaining, out _);
        }, "a Redis decision after the server came back");
        Assert.Equal(CircuitState.Closed, breakers.GetState(CircuitBreakerNames.Redis));
    }

    [Fact]
    public async Task A_fail_open_limiter_asked_as_the_middleware_asks_tries_redis_again_once_the_break_is_over()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        await using var redis = await PrivateRedisServer.StartAsync();
        await using var sp = Instance(redis, RedisFailureMode.FailOpen, time);
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var breakers = sp.GetRequiredService<CircuitBreakerRegistry>();
        await OpenTheBreakerAsync(redis, limiter, breakers);
        await redis.RestartAsync(); // empty: the tenant's bucket starts full (3 a minute)
        var connection = sp.GetRequiredService<RedisConnection>();
        await TestSignal.UntilAsync(async () =>
        {
            try
            {
                await (await connection.GetDatabaseAsync()).PingAsync();
                return true;
            }
            catch (RedisException)
            {
                return false;
            }
        }, "the limiter's connection to reach the restarted server");
        time.Advance(TimeSpan.FromSeconds(31)); // past the break; nothing has called through the breaker since it opened

        var admitted = 0;
        for (var i = 0; i < 10; i++)
        {
            // ASP.NET Core's RateLimitingMiddleware: AttemptAcquire, and AcquireAsync only when that did not acquire.
            var lease = limiter.AttemptAcquire(Tenant);
            if (!lease.IsAcquired)
            {
                lease.Dispose();
                lease = await limiter.AcquireAsync(Tenant).AsTask().WaitAsync("a decision after the break");
            }

            admitted += lease.IsAcquired ? 1 : 0;
            lease.Dispose();
        }

        Assert.Equal(CircuitState.Closed, breakers.GetState(CircuitBreakerNames.Redis)); // the first request was the trial
        Assert.InRange(admitted, 1, 3); // Redis decides again: the plan's limit, not fail-open
    }

    [Fact]
    public async Task The_local_fallback_state_of_idle_tenants_is_dropped_once_redis_decides_again()
    {
        var time = new FakeTimeProvider();
        await using var redis = await PrivateRedisServer.StartAsync();
        await using var sp = TestHost.Build(o =>
        {
            o.RateLimiting.Store = RateLimiterStore.Redis;
            o.RateLimiting.RedisFailureMode = RedisFailureMode.Local;
            o.RedisConnectionString = redis.Endpoint + TestHost.PatientRedis;
            o.Plan("default", (3, TimeSpan.FromHours(1), null)); // a token per 20 min: the fallback buckets are not full when Redis returns
            o.CircuitBreakers[CircuitBreakerNames.Redis].MinimumThroughput = 2;
            o.CircuitBreakers[CircuitBreakerNames.Redis].BreakDuration = TimeSpan.FromSeconds(30);
        }, time);
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var breakers = sp.GetRequiredService<CircuitBreakerRegistry>();
        var fallback = (LocalTenantRateLimiter)typeof(RedisTenantRateLimiter)
            .GetField("_fallback", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(limiter)!;
        var hot = new TenantId($"hot-{Guid.NewGuid():N}");
        (await limiter.AcquireAsync(hot)).Dispose();

        await redis.StopAsync();
        for (var i = 0; i < 50; i++)
        {
            (await limiter.AcquireAsync(new TenantId($"idle-{i}")).AsTask().WaitAsync("a fallback decision")).Dispose();
        }

        Assert.Equal(50, fallback.TenantCount);
        await redis.RestartAsync();
        var connection = sp.GetRequiredService<RedisConnection>();
        await TestSignal.UntilAsync(
            async () =>
            {
                try
                {
                    await (await connection.GetDatabaseAsync()).PingAsync();
                    return true;
                }
                catch (RedisException)
                {
                    return false;
                }
            },
            "the limiter's connection to reach the restarted server");
        time.Advance(TimeSpan.FromSeconds(31)); // past the break: the next call is the trial
        using (var trial = await limiter.AcquireAsync(hot))
        {
            Assert.True(trial.TryGetMetadata(RateLimitMetadata.Remaining, out _));
        }

        Assert.Equal(CircuitState.Closed, breakers.GetState(CircuitBreakerNames.Redis));

        // An hour later every fallback bucket is full again; Redis decides the next request, and the sweep drops them.
        time.Advance(TimeSpan.FromHours(1));
        (await limiter.AcquireAsync(hot)).Dispose();
        Assert.Equal(0, fallback.TenantCount);
    }
}
