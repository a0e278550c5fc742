using System;
using System.Threading.RateLimiting;

namespace ScaleOps.Resilience.RateLimiting;

/// <summary>
/// Metadata on every lease of the tenant rate limiter, for the <c>RateLimit-*</c> response headers. A rejected lease
/// also carries <see cref="MetadataName.RetryAfter"/> (<c>Retry-After</c>). The values describe the plan's most
/// constraining rule (the one with the fewest tokens left).
/// </summary>
public static class RateLimitMetadata
{
    /// <summary>The rule's limit (<c>RateLimit-Limit</c>): its bucket size.</summary>
    public static MetadataName<long> Limit { get; } = MetadataName.Create<long>("RATELIMIT_LIMIT");

    /// <summary>The requests still admitted now (<c>RateLimit-Remaining</c>).</summary>
    public static MetadataName<long> Remaining { get; } = MetadataName.Create<long>("RATELIMIT_REMAINING");

    /// <summary>The time until the rule's bucket is full again (<c>RateLimit-Reset</c>, in seconds, rounded up).</summary>
    public static MetadataName<TimeSpan> Reset { get; } = MetadataName.Create<TimeSpan>("RATELIMIT_RESET");

    /// <summary>The policy, for the <c>RateLimit-Policy</c> header: for example <c>100;w=1, 10000;w=86400</c>.</summary>
    public static MetadataName<string> Policy { get; } = MetadataName.Create<string>("RATELIMIT_POLICY");

    /// <summary>The tenant's plan name.</summary>
    public static MetadataName<string> Plan { get; } = MetadataName.Create<string>("RATELIMIT_PLAN");
}
