using System;
using Microsoft.Extensions.Logging;

namespace ScaleOps.Caching.Internal;

/// <summary>Source-generated log messages of the cache.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = CachingEventIds.RedisUnavailable, Level = LogLevel.Warning,
        Message = "Redis is unavailable ({Reason}); the cache works from memory only for {BreakerSeconds} s before probing again")]
    public static partial void RedisUnavailable(ILogger logger, string reason, double breakerSeconds);

    [LoggerMessage(EventId = CachingEventIds.RedisRestored, Level = LogLevel.Information,
        Message = "Redis is back; in-memory entries were cleared ({Trigger}) so nothing invalidated meanwhile is served")]
    public static partial void RedisRestored(ILogger logger, string trigger);

    [LoggerMessage(EventId = CachingEventIds.FactoryFailedServingStale, Level = LogLevel.Warning,
        Message = "The factory of cache key {Key} (tenant {Tenant}) failed; serving the last good value (fail-safe)")]
    public static partial void FactoryFailedServingStale(ILogger logger, Exception exception, string key, string tenant);

    [LoggerMessage(EventId = CachingEventIds.FactoryTimedOutServingStale, Level = LogLevel.Information,
        Message = "The factory of cache key {Key} (tenant {Tenant}) is slower than {TimeoutMs} ms; serving the last good value while it completes")]
    public static partial void FactoryTimedOutServingStale(ILogger logger, string key, string tenant, double timeoutMs);

    [LoggerMessage(EventId = CachingEventIds.UnreadablePayload, Level = LogLevel.Warning,
        Message = "The Redis value of cache key {Key} (tenant {Tenant}) cannot be read as {Type}; treating it as a miss")]
    public static partial void UnreadablePayload(ILogger logger, Exception? exception, string key, string tenant, string type);

    [LoggerMessage(EventId = CachingEventIds.InvalidBackplaneMessage, Level = LogLevel.Debug,
        Message = "Ignored a malformed backplane message")]
    public static partial void InvalidBackplaneMessage(ILogger logger);

    [LoggerMessage(EventId = CachingEventIds.InvalidationsReplayed, Level = LogLevel.Information,
        Message = "Replayed {Count} invalidations made while Redis was unavailable")]
    public static partial void InvalidationsReplayed(ILogger logger, int count);

    [LoggerMessage(EventId = CachingEventIds.BackgroundRefreshFailed, Level = LogLevel.Warning,
        Message = "A timed-out factory of cache key {Key} (tenant {Tenant}) failed later; the stale value stays")]
    public static partial void BackgroundRefreshFailed(ILogger logger, Exception exception, string key, string tenant);

    [LoggerMessage(EventId = CachingEventIds.RedisErrorReply, Level = LogLevel.Warning,
        Message = "Redis refused a command on cache key {Key} (tenant {Tenant}); that call goes on without Redis (an error about one key, not an outage)")]
    public static partial void RedisErrorReply(ILogger logger, Exception exception, string key, string tenant);

    [LoggerMessage(EventId = CachingEventIds.SweepFailed, Level = LogLevel.Error, Message = "The cache maintenance loop failed")]
    public static partial void SweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = CachingEventIds.EvictionPolicyMayDropTagIndexes, Level = LogLevel.Warning,
        Message = "Redis at {Endpoint} may evict keys under memory pressure (maxmemory-policy {Policy}), a tag's index among them: "
        + "a RemoveByTagAsync after that misses the values the index listed until they expire. Give the cache's Redis noeviction "
        + "where tag removals must be complete (key removals and tenant invalidations are complete under any policy)")]
    public static partial void EvictionPolicyMayDropTagIndexes(ILogger logger, string endpoint, string policy);

    [LoggerMessage(EventId = CachingEventIds.BehindSenderRepeated, Level = LogLevel.Information,
        Message = "Instance {Sender} removed or wrote a cache entry of tenant {Tenant} under generation {SenderGeneration}, older than "
        + "this instance's {Generation} (it missed a tenant invalidation, or the generation key was evicted or deleted): "
        + "the key or tag is removed again under the newer generation and published, which brings the sender up to date")]
    public static partial void BehindSenderRepeated(ILogger logger, string sender, long senderGeneration, long generation, string tenant);

    [LoggerMessage(EventId = CachingEventIds.BehindSenderRepeatFailed, Level = LogLevel.Warning,
        Message = "The removal repeated for an instance behind on tenant {Tenant}'s generation failed; the value may stay in Redis until it expires")]
    public static partial void BehindSenderRepeatFailed(ILogger logger, Exception exception, string tenant);

    [LoggerMessage(EventId = CachingEventIds.EagerRefreshFailed, Level = LogLevel.Warning,
        Message = "The eager refresh of cache key {Key} (tenant {Tenant}) failed; the current value stays, and no refresh of the key starts for {ThrottleSeconds} s (FailSafeThrottle)")]
    public static partial void EagerRefreshFailed(ILogger logger, Exception exception, string key, string tenant, double throttleSeconds);

    [LoggerMessage(EventId = CachingEventIds.ClockOffRedis, Level = LogLevel.Warning,
        Message = "Redis' clock is {OffsetMs} ms ahead of this host's (negative: behind); the cache judges freshness on Redis' clock, but other clocks of this host are off by as much: check its time synchronisation (NTP)")]
    public static partial void ClockOffRedis(ILogger logger, long offsetMs);
}
