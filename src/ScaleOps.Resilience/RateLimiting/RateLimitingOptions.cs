using System;
using System.Collections.Generic;

namespace ScaleOps.Resilience.RateLimiting;

/// <summary>Per-tenant rate limits by plan, bound from <c>ScaleOps:Resilience:RateLimiting</c>.</summary>
public sealed class RateLimitingOptions
{
    /// <summary>The plans (tiers) and their stacked limits, for example <c>free</c>: 10 per second and 1,000 per day.</summary>
    /// <value>Default empty: a tenant rate limiter then fails every call with <see cref="UnknownPlanException"/>. Plan names are case-sensitive (a tenant's plan must match
    /// exactly); two names differing only by case fail the start, since configuration keys cannot tell them apart.</value>
    public Dictionary<string, List<RateLimitRule>> Plans { get; } = new(StringComparer.Ordinal);

    /// <summary>Where the buckets live.</summary>
    /// <value>Default <see cref="RateLimiterStore.Local"/>. <see cref="RateLimiterStore.Redis"/> needs a Redis connection string.</value>
    public RateLimiterStore Store { get; set; } = RateLimiterStore.Local;

    /// <summary>What the Redis limiter decides while Redis is unreachable or its breaker is open.</summary>
    /// <value>Default <see cref="RedisFailureMode.Local"/>.</value>
    public RedisFailureMode RedisFailureMode { get; set; } = RedisFailureMode.Local;

    /// <summary>
    /// Leased mode of the Redis limiter: a tenant that is busy on this instance takes up to this many tokens from Redis
    /// in one round trip and spends them locally. Leasing never admits more than the limit; with N instances up to
    /// <c>N × (LeaseSize - 1)</c> tokens may be held unused at a time, and those left when their lease ends are given
    /// back to the bucket (capped at its size).
    /// </summary>
    /// <value>Default 1 (off: one round trip per decision). From 1 to 10,000, and at most the smallest burst of a plan (it is capped there).</value>
    public int LeaseSize { get; set; } = 1;

    /// <summary>How long locally leased tokens stay usable; unused ones are then given back to the bucket.</summary>
    /// <value>Default 1 second. From 1 ms to 1 minute.</value>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long the limiter keeps a tenant's plan before it asks the <see cref="ITenantPlanResolver"/> again.</summary>
    /// <value>Default 1 minute. From zero (ask on every request) to 1 day.</value>
    public TimeSpan PlanCacheDuration { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The prefix of the limiter's Redis keys; the tenant part of a key is a hash tag (Redis Cluster friendly).</summary>
    /// <value>Default <c>scaleops:rl:</c>. Not empty, and without <c>{</c> or <c>}</c> (the tenant is the hash tag).</value>
    public string RedisKeyPrefix { get; set; } = "scaleops:rl:";
}
