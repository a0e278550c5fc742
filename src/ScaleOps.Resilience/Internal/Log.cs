using System;
using Microsoft.Extensions.Logging;

namespace ScaleOps.Resilience.Internal;

/// <summary>Source-generated log messages of ScaleOps.Resilience.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = ResilienceEventIds.BreakerOpened, Level = LogLevel.Warning,
        Message = "Circuit breaker {Breaker} opened for {BreakDuration} (manual: {IsManual})")]
    public static partial void BreakerOpened(ILogger logger, string breaker, TimeSpan breakDuration, bool isManual, Exception? exception);

    [LoggerMessage(EventId = ResilienceEventIds.BreakerClosed, Level = LogLevel.Information,
        Message = "Circuit breaker {Breaker} closed (manual: {IsManual})")]
    public static partial void BreakerClosed(ILogger logger, string breaker, bool isManual);

    [LoggerMessage(EventId = ResilienceEventIds.Retrying, Level = LogLevel.Warning,
        Message = "Pipeline {Pipeline}: transient failure, retry {Retry} in {Delay}")]
    public static partial void Retrying(ILogger logger, string pipeline, int retry, TimeSpan delay, Exception? exception);

    [LoggerMessage(EventId = ResilienceEventIds.RedisLimiterFailed, Level = LogLevel.Warning,
        Message = "Redis rate limiter unavailable for tenant {Tenant}; deciding {FailureMode}")]
    public static partial void RedisLimiterFailed(ILogger logger, string tenant, string failureMode, Exception? exception);

    [LoggerMessage(EventId = ResilienceEventIds.LeasedTokensLost, Level = LogLevel.Warning,
        Message = "Redis rate limiter: {Tokens} leased tokens of {Tenants} tenants could not be given back to Redis; those buckets stay short of them until they refill")]
    public static partial void LeasedTokensLost(ILogger logger, int tokens, int tenants, Exception? exception);

    [LoggerMessage(EventId = ResilienceEventIds.LeasedTokensGiveBackUnfinished, Level = LogLevel.Warning,
        Message = "Redis rate limiter stopping: not every leased token was given back to Redis within {Wait}; the give-backs still running finish in the background, and a failure is logged")]
    public static partial void LeasedTokensGiveBackUnfinished(ILogger logger, TimeSpan wait);

    [LoggerMessage(EventId = ResilienceEventIds.QuotaExceeded, Level = LogLevel.Information,
        Message = "Quota {Resource} exceeded for tenant {Tenant}: usage {Usage} + {Amount} > limit {Limit}")]
    public static partial void QuotaExceeded(ILogger logger, string tenant, string resource, long usage, long amount, long limit);
}
