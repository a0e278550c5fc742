using System;
using System.Linq;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Polly.CircuitBreaker;
using ScaleOps.Resilience.CircuitBreakers;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Resilience.Tests.RateLimiting;

/// <summary>
/// README, Headers: with FailOpen/FailClosed while Redis is down there is no decision, so no RateLimit-* metadata (only
/// Retry-After when fail-closed); Local mode decides locally and carries it. Each test runs its own redis-server.
/// </summary>
public class RedisOutageMetadataTests
{
    [Theory]
    [InlineData(RedisFailureMode.FailOpen)]
    [InlineData(RedisFailureMode.FailClosed)]
    [InlineData(RedisFailureMode.Local)]
    public async Task While_redis_is_down_only_the_local_failure_mode_carries_ratelimit_metadata(RedisFailureMode mode)
    {
        await using var redis = await PrivateRedisServer.StartAsync();
        await using var sp = TestHost.Build(o =>
        {
            o.RateLimiting.Store = RateLimiterStore.Redis;
            o.RateLimiting.RedisFailureMode = mode;
            o.RedisConnectionString = redis.Endpoint + TestHost.PatientRedis;
            o.Plan("default", (5, TimeSpan.FromMinutes(1), null), (100, TimeSpan.FromDays(1), null));
            o.CircuitBreakers[CircuitBreakerNames.Redis].MinimumThroughput = 2;
            o.CircuitBreakers[CircuitBreakerNames.Redis].BreakDuration = TimeSpan.FromSeconds(30);
        });
        using var decisions = new MetricCollector<long>(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "ScaleOps",
            "scaleops.resilience.rate_limit.decisions");
        var limiter = sp.GetRequiredService<PartitionedRateLimiter<TenantId>>();
        var tenant = new TenantId("outage-metadata");
        (await limiter.AcquireAsync(tenant)).Dispose();
        await redis.StopAsync();

        using var failed = await limiter.AcquireAsync(tenant).AsTask().WaitAsync("a decision whose Redis call fails");
        for (var i = 0; i < 2; i++)
        {
            (await limiter.AcquireAsync(tenant)).Dispose();
        }

        Assert.Equal(CircuitState.Open, sp.GetRequiredService<CircuitBreakerRegistry>().GetState(CircuitBreakerNames.Redis));
        using var whileBroken = limiter.AttemptAcquire(tenant); // no I/O: the failure mode answers while the breaker is broken

        // The decisions metric names the failure mode as the source of every decision made without Redis.
        var sources = decisions.GetMeasurementSnapshot().Select(m => ((string?)m.Tags["source"], (string?)m.Tags["result"])).ToArray();
        Assert.Equal(("redis", "admitted"), sources[0]);
        var expected = mode switch
        {
            RedisFailureMode.FailOpen => ("fail_open", "admitted"),
            RedisFailureMode.FailClosed => ("fail_closed", "rejected"),
            _ => ("fallback", "admitted"),
        };
        Assert.All(sources.Skip(1), s => Assert.Equal(expected, s));
        Assert.Equal(5, sources.Length);

        foreach (var lease in new[] { failed, whileBroken })
        {
            var names = lease.MetadataNames.Order(StringComparer.Ordinal).ToArray();
            switch (mode)
            {
                case RedisFailureMode.FailOpen:
                    Assert.True(lease.IsAcquired);
                    Assert.Empty(names);
                    break;
                case RedisFailureMode.FailClosed:
                    Assert.False(lease.IsAcquired);
                    Assert.Equal([MetadataName.RetryAfter.Name], names);
                    Assert.False(lease.TryGetMetadata(RateLimitMetadata.Remaining, out _));
                    break;
                default:
                    Assert.True(lease.IsAcquired);
                    Assert.True(lease.TryGetMetadata(RateLimitMetadata.Limit, out var limit));
                    Assert.Equal(5, limit);
                    Assert.True(lease.TryGetMetadata(RateLimitMetadata.Remaining, out var remaining));
                    Assert.InRange(remaining, 0, 4);
                    Assert.True(lease.TryGetMetadata(RateLimitMetadata.Policy, out var policy));
                    Assert.Equal("5;w=60, 100;w=86400", policy);
                    Assert.True(lease.TryGetMetadata(RateLimitMetadata.Plan, out var plan));
                    Assert.Equal("default", plan);
                    Assert.True(lease.TryGetMetadata(RateLimitMetadata.Reset, out _));
                    break;
            }
        }
    }
}
