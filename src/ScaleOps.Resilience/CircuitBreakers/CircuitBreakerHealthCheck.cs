using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ScaleOps.Resilience.CircuitBreakers;

/// <summary>
/// A health check over every breaker: Healthy when none is broken, Unhealthy when a critical breaker (PostgreSQL by
/// default) is broken, Degraded when only others are (Redis down, say). Broken means isolated, or open within its break
/// duration (<see cref="CircuitBreakerStatus.IsBroken"/>): once the break is over the next call may close the breaker,
/// so an instance taken out of traffic for an open breaker is not kept out for good. Register it with
/// <c>services.AddHealthChecks().AddCheck&lt;CircuitBreakerHealthCheck&gt;("circuit-breakers")</c>.
/// </summary>
/// <param name="registry">The breakers.</param>
public sealed class CircuitBreakerHealthCheck(CircuitBreakerRegistry registry) : IHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var statuses = registry.GetStatuses();
        var data = statuses.ToDictionary(s => s.Name, s => (object)s.State.ToString());
        var broken = statuses.Where(s => s.IsBroken).ToList();
        if (broken.Count == 0)
        {
            return Task.FromResult(HealthCheckResult.Healthy("No circuit breaker refuses calls.", data));
        }

        var description = "Open circuit breakers: " + string.Join(", ", broken.Select(s => $"{s.Name} ({s.State})")) + ".";
        return Task.FromResult(broken.Any(s => s.Critical)
            ? new HealthCheckResult(context?.Registration?.FailureStatus ?? HealthStatus.Unhealthy, description, data: data)
            : HealthCheckResult.Degraded(description, data: data));
    }
}
