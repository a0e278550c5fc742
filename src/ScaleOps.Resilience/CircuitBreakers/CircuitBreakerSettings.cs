using System;

namespace ScaleOps.Resilience.CircuitBreakers;

/// <summary>One named pipeline, bound from <c>ScaleOps:Resilience:CircuitBreakers:{name}</c>: its circuit breaker and optional retry.</summary>
public sealed class CircuitBreakerSettings
{
    /// <summary>The share of failed calls in <see cref="SamplingDuration"/> that opens the breaker.</summary>
    /// <value>Default 0.5. Greater than 0, at most 1.</value>
    public double FailureRatio { get; set; } = 0.5;

    /// <summary>The fewest calls in <see cref="SamplingDuration"/> before the ratio counts.</summary>
    /// <value>Default 5. At least 2.</value>
    public int MinimumThroughput { get; set; } = 5;

    /// <summary>The window in which failures are counted.</summary>
    /// <value>Default 10 seconds. At least 500 ms.</value>
    public TimeSpan SamplingDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long the breaker stays open before it lets a trial call through.</summary>
    /// <value>Default 5 seconds. At least 500 ms.</value>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Whether the service cannot work while this breaker is open: health is then Unhealthy, else Degraded.</summary>
    /// <value>Default <see langword="false"/> (<see langword="true"/> for the <c>postgres</c> breaker).</value>
    public bool Critical { get; set; }

    /// <summary>The pipeline's retry, or <see langword="null"/> for none.</summary>
    /// <value>Default <see langword="null"/>: no retry. See <see cref="RetrySettings"/>.</value>
    public RetrySettings? Retry { get; set; }
}
