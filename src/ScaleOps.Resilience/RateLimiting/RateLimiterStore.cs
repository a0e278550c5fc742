namespace ScaleOps.Resilience.RateLimiting;

/// <summary>Where the rate limiter keeps its buckets.</summary>
public enum RateLimiterStore
{
    /// <summary>In this process: each instance admits the full limit on its own.</summary>
    Local,

    /// <summary>In Redis: every instance shares one bucket per tenant, so together they admit the plan's limit.</summary>
    Redis,
}
