using System;
using Polly.CircuitBreaker;

namespace ScaleOps.Resilience.CircuitBreakers;

/// <summary>A breaker's state, as listed by <see cref="CircuitBreakerRegistry.GetStatuses"/>.</summary>
/// <param name="Name">The breaker name.</param>
/// <param name="State">Closed, Open, HalfOpen or Isolated (opened by an operator).</param>
/// <param name="Critical">Whether health is Unhealthy (rather than Degraded) while it is open.</param>
/// <param name="ChangedAt">When the state last changed, or <see langword="null"/> if it never did.</param>
public sealed record CircuitBreakerStatus(string Name, CircuitState State, bool Critical, DateTimeOffset? ChangedAt)
{
    /// <summary>
    /// Whether calls are refused now: Isolated, or Open within its break duration. A breaker listed by the registry
    /// whose break is over is still Open (Polly.Core half-opens it at the next call) but not broken: that call is let
    /// through as the trial.
    /// </summary>
    /// <value>Set by <see cref="CircuitBreakerRegistry.GetStatuses"/>; by default (a status built elsewhere) Open or Isolated.</value>
    public bool IsBroken { get; init; } = State is CircuitState.Open or CircuitState.Isolated;
}
