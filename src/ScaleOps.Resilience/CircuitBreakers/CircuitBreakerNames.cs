namespace ScaleOps.Resilience.CircuitBreakers;

/// <summary>The breakers configured by default, one per dependency of a ScaleOps service.</summary>
public static class CircuitBreakerNames
{
    /// <summary>PostgreSQL (critical: health is Unhealthy while it is open).</summary>
    public const string Postgres = "postgres";

    /// <summary>Redis (the distributed rate limiter uses it; health is Degraded while it is open).</summary>
    public const string Redis = "redis";

    /// <summary>Blob storage.</summary>
    public const string Blob = "blob";

    /// <summary>Outgoing HTTP.</summary>
    public const string Http = "http";
}
