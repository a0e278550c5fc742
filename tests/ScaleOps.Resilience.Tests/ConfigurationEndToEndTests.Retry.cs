using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using ScaleOps.Resilience.CircuitBreakers;
using ScaleOps.Resilience.Internal.RateLimiting;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.Resilience.Tests;

public partial class ConfigurationEndToEndTests
{
    /// <summary>
    /// <c>CircuitBreakers:{name}:Retry</c> from configuration keys retries real transient failures (a stopped Redis
    /// server): <c>MaxRetryAttempts</c> attempts after the first, delays from <c>BaseDelay</c> doubling up to
    /// <c>MaxDelay</c> without jitter, every call when <c>RetryNonIdempotent</c>; each retry counted and logged (6003).
    /// </summary>
    [Fact]
    public async Task A_retry_from_configuration_keys_retries_a_stopped_redis_by_its_settings_and_logs_each_retry()
    {
        const string R = "ScaleOps:Resilience:CircuitBreakers:redis:";
        await using var redis = await PrivateRedisServer.StartAsync();
        await using var connection = await ConnectionMultiplexer.ConnectAsync(RedisConnection.Configure(redis.Endpoint));
        var db = connection.GetDatabase();
        await db.StringSetAsync("retry:cfg", "before");
        using var host = Host(
            new()
            {
                [R + "MinimumThroughput"] = "1000", // about the retry, not the breaker opening
                [R + "Retry:MaxRetryAttempts"] = "3",
                [R + "Retry:BaseDelay"] = "00:00:00.002",
                [R + "Retry:MaxDelay"] = "00:00:00.003",
                [R + "Retry:UseJitter"] = "false",
                [R + "Retry:RetryNonIdempotent"] = "true",
            },
            s => s.AddFakeLogging());
        await host.StartAsync();
        using var retries = new MetricCollector<long>(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "ScaleOps",
            "scaleops.resilience.retry.attempts");
        await redis.StopAsync();

        var attempts = 0;
        var pipeline = host.Services.GetRequiredService<CircuitBreakerRegistry>().GetPipeline(CircuitBreakerNames.Redis); // not declared idempotent
        var error = await Assert.ThrowsAnyAsync<Exception>(() => pipeline.ExecuteAsync(async _ =>
        {
            Interlocked.Increment(ref attempts);
            await db.StringSetAsync("retry:cfg", "after");
        }).AsTask().WaitAsync("the retries to give up"));

        Assert.True(TransientFailures.IsTransient(error), error.ToString());
        Assert.Equal(4, attempts); // the first and MaxRetryAttempts = 3 more (the default, none for redis, would be 1)
        Assert.Equal(3, retries.GetMeasurementSnapshot().Where(m => Equals(m.Tags["pipeline"], "redis")).Sum(m => m.Value));
        var logged = host.Services.GetFakeLogCollector().GetSnapshot().Where(r => r.Id.Id == 6003).ToList();
        Assert.Equal(
            ["Pipeline redis: transient failure, retry 1 in 00:00:00.0020000", "Pipeline redis: transient failure, retry 2 in 00:00:00.0030000",
             "Pipeline redis: transient failure, retry 3 in 00:00:00.0030000"],
            logged.Select(r => r.Message));
        Assert.All(logged, r => Assert.Equal(LogLevel.Warning, r.Level));
        Assert.All(logged, r => Assert.True(TransientFailures.IsTransient(r.Exception!)));
        await host.StopAsync();
    }
}
