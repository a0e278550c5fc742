namespace ScaleOps.Resilience.RateLimiting;

/// <summary>What the Redis rate limiter decides while Redis is unreachable (or its circuit breaker is open).</summary>
public enum RedisFailureMode
{
    /// <summary>Admit every request (availability first; the limit is not enforced during the outage).</summary>
    FailOpen,

    /// <summary>Reject every request (protection first), with <c>Retry-After</c> set to the breaker's break duration.</summary>
    FailClosed,

    /// <summary>Decide with this instance's local limiter: each instance then admits up to the full plan limit.</summary>
    Local,
}
