using System;

namespace ScaleOps.Resilience.CircuitBreakers;

/// <summary>
/// The optional retry of one named pipeline, bound from <c>ScaleOps:Resilience:CircuitBreakers:{name}:Retry</c>:
/// exponential backoff with jitter, transient failures only (<see cref="TransientFailures.IsTransient(System.Exception, System.Threading.CancellationToken)"/>), outside the
/// breaker so that every attempt counts against it and an open breaker ends the retries at once.
/// </summary>
/// <remarks>
/// A retry repeats the work, so by default it applies only to calls made through
/// <see cref="CircuitBreakerRegistry.GetPipeline(string, bool)"/> with <c>idempotent: true</c>; set
/// <see cref="RetryNonIdempotent"/> to retry every call of the pipeline.
/// </remarks>
public sealed class RetrySettings
{
    /// <summary>The most retries after the first attempt.</summary>
    /// <value>Default 3. From 1 to 100.</value>
    public int MaxRetryAttempts { get; set; } = 3;

    /// <summary>The delay before the first retry; each further retry doubles it (before jitter).</summary>
    /// <value>Default 200 ms. From 1 ms to 1 minute.</value>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest delay between two attempts.</summary>
    /// <value>Default 5 seconds. At least <see cref="BaseDelay"/>, at most 10 minutes.</value>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Whether delays are jittered (Polly's decorrelated jitter: the median of retry n's delay is about
    /// <c>BaseDelay × 2^(n-1)</c>, spread so that many clients failing together do not retry together).
    /// </summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool UseJitter { get; set; } = true;

    /// <summary>
    /// Whether every call of the pipeline is retried, idempotent or not. Only for a pipeline whose work is all safe to
    /// repeat: a failure after the server applied a write (a lost reply) would apply it twice.
    /// </summary>
    /// <value>Default <see langword="false"/>: only calls declared idempotent are retried.</value>
    public bool RetryNonIdempotent { get; set; }
}
