using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ScaleOps.Resilience.CircuitBreakers;

/// <summary>
/// A health check over every breaker: Healthy when all are closed, Unhealthy when a critical breaker (PostgreSQL by
/// default) is open or isolated, Degraded when only others are (Redis down, say). Register it with
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
            return Task.FromResult(HealthCheckResult.Healthy("All circuit breakers are closed.", data));
        }

        var description = "Open circuit breakers: " + string.Join(", ", broken.Select(s => $"{s.Name} ({s.State})")) + ".";
        return Task.FromResult(broken.Any(s => s.Critical)
            ? new HealthCheckResult(context?.Registration?.FailureStatus ?? HealthStatus.Unhealthy, description, data: data)
            : HealthCheckResult.Degraded(description, data: data));
    }
}
