using System.Collections.Generic;
using System.Diagnostics.Metrics;
using Polly.CircuitBreaker;
using ScaleOps.Diagnostics;
using ScaleOps.Resilience.CircuitBreakers;

namespace ScaleOps.Resilience.Internal;

/// <summary>The package's instruments on the shared <c>ScaleOps</c> meter.</summary>
internal sealed class ResilienceMetrics
{
    private readonly Meter _meter;
    private readonly Counter<long> _transitions;
    private readonly Counter<long> _decisions;
    private readonly Counter<long> _quotaRejections;
    private readonly Counter<long> _retries;

    public ResilienceMetrics(ScaleOpsMetrics metrics)
    {
        _meter = metrics.Meter;
        _transitions = _meter.CreateCounter<long>("scaleops.resilience.circuit_breaker.transitions", "{transition}",
            "Circuit breaker state changes, by breaker and new state.");
        _decisions = _meter.CreateCounter<long>("scaleops.resilience.rate_limit.decisions", "{decision}",
            "Rate limiter decisions, by plan, result (admitted, rejected) and source (local, redis, lease, fallback, fail_open, fail_closed).");
        _quotaRejections = _meter.CreateCounter<long>("scaleops.resilience.quota.rejections", "{rejection}",
            "Quota reservations refused because the limit would be exceeded, by resource.");
        _retries = _meter.CreateCounter<long>("scaleops.resilience.retry.attempts", "{retry}",
            "Retries after a transient failure, by pipeline and the failure's exception type.");
    }

    /// <summary>Registers the breaker state gauge: 0 closed, 1 half-open, 2 open, 3 isolated.</summary>
    public void ObserveBreakers(CircuitBreakerRegistry registry) =>
        _meter.CreateObservableGauge("scaleops.resilience.circuit_breaker.state", () => Observe(registry), "{state}",
            "Circuit breaker state by breaker: 0 closed, 1 half-open, 2 open, 3 isolated.");

    public void BreakerTransition(string name, CircuitState state) =>
        _transitions.Add(1, new KeyValuePair<string, object?>("breaker", name), new KeyValuePair<string, object?>("state", StateName(state)));

    public void Decision(string plan, bool admitted, string source) =>
        _decisions.Add(1, new KeyValuePair<string, object?>("plan", plan),
            new KeyValuePair<string, object?>("result", admitted ? "admitted" : "rejected"),
            new KeyValuePair<string, object?>("source", source));

    public void Retry(string pipeline, System.Exception? failure) =>
        _retries.Add(1, new KeyValuePair<string, object?>("pipeline", pipeline),
            new KeyValuePair<string, object?>("error.type", failure?.GetType().FullName ?? "result"));

    public void QuotaRejected(string resource) => _quotaRejections.Add(1, new KeyValuePair<string, object?>("resource", resource));

    private static IEnumerable<Measurement<int>> Observe(CircuitBreakerRegistry registry)
    {
        foreach (var status in registry.GetStatuses())
        {
            var value = status.State switch
            {
                CircuitState.Closed => 0,
                CircuitState.HalfOpen => 1,
                CircuitState.Open => 2,
                _ => 3,
            };
            yield return new Measurement<int>(value, new KeyValuePair<string, object?>("breaker", status.Name));
        }
    }

    private static string StateName(CircuitState state) => state switch
    {
        CircuitState.Closed => "closed",
        CircuitState.HalfOpen => "half_open",
        CircuitState.Open => "open",
        _ => "isolated",
    };
}
