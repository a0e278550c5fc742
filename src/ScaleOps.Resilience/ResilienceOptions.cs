using System;
using System.Collections.Generic;
using ScaleOps.Resilience.CircuitBreakers;
using ScaleOps.Resilience.Quotas;
using ScaleOps.Resilience.RateLimiting;

namespace ScaleOps.Resilience;

/// <summary>Settings of ScaleOps.Resilience, bound from the configuration section <c>ScaleOps:Resilience</c>.</summary>
public sealed class ResilienceOptions
{
    /// <summary>The Redis connection string (StackExchange.Redis syntax) of the distributed rate limiter.</summary>
    /// <value>
    /// Default <see langword="null"/>: taken from <c>ConnectionStrings:Redis</c>. Needed only when
    /// <see cref="RateLimitingOptions.Store"/> is <see cref="RateLimiterStore.Redis"/> and the host registered no
    /// <c>IConnectionMultiplexer</c>. ScaleOps adds fail-fast defaults (<c>abortConnect=false</c>, 1 s timeouts) unless
    /// the string sets them.
    /// </value>
    public string? RedisConnectionString { get; set; }

    /// <summary>
    /// The plan of tenants whose <see cref="ITenantPlanResolver"/> answers <see langword="null"/> (or of every tenant
    /// when none is registered), for rate limits and quotas.
    /// </summary>
    /// <value>
    /// Default <c>default</c>. Must name a plan in <see cref="RateLimitingOptions.Plans"/> once any is configured, and
    /// one in <see cref="QuotaOptions.Plans"/> once any is configured (checked at start-up).
    /// </value>
    public string DefaultPlan { get; set; } = "default";

    /// <summary>Per-tenant rate limits by plan.</summary>
    public RateLimitingOptions RateLimiting { get; } = new();

    /// <summary>Per-tenant quotas by plan.</summary>
    public QuotaOptions Quotas { get; } = new();

    /// <summary>The named circuit breakers.</summary>
    /// <value>
    /// Default: <c>postgres</c> (critical), <c>redis</c>, <c>blob</c> and <c>http</c> with the defaults of
    /// <see cref="CircuitBreakerSettings"/>. Configuration adds breakers or overrides fields of these. Names are
    /// case-insensitive, as configuration keys are: <c>CircuitBreakers:Redis</c> configures <c>redis</c>.
    /// </value>
    public Dictionary<string, CircuitBreakerSettings> CircuitBreakers { get; } = new(StringComparer.OrdinalIgnoreCase)
    {
        [CircuitBreakerNames.Postgres] = new CircuitBreakerSettings { Critical = true },
        [CircuitBreakerNames.Redis] = new CircuitBreakerSettings(),
        [CircuitBreakerNames.Blob] = new CircuitBreakerSettings(),
        [CircuitBreakerNames.Http] = new CircuitBreakerSettings(),
    };
}
