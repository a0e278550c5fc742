using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.FeatureManagement;
using ScaleOps.Tenancy;

namespace ScaleOps.Resilience.CircuitBreakers;

/// <summary>
/// A Microsoft.FeatureManagement filter (alias <c>ScaleOps.Degradation</c>) that turns a feature off while its circuit
/// breaker is broken (isolated, or open within its break duration: see <see cref="CircuitBreakerRegistry.IsBroken"/>)
/// and for listed tenants (the ambient tenant). Once the break is over the feature is on again, so that its next call
/// through the breaker is the half-open trial; a breaker nothing calls would otherwise keep the feature off for good. Turn a feature off for everyone the usual
/// FeatureManagement way (<c>"FeatureManagement": { "Search": false }</c>). Example:
/// <code>
/// "FeatureManagement": { "Search": { "EnabledFor": [ { "Name": "ScaleOps.Degradation",
///     "Parameters": { "Breaker": "redis", "DisabledTenants": [ "acme" ] } } ] } }
/// </code>
/// Registered by <c>AddResilience</c>; the host calls <c>services.AddFeatureManagement()</c>.
/// </summary>
[FilterAlias(Alias)]
public sealed class DegradationFeatureFilter : IFeatureFilter
{
    /// <summary>The filter's alias in FeatureManagement configuration.</summary>
    public const string Alias = "ScaleOps.Degradation";

    private readonly CircuitBreakerRegistry _breakers;
    private readonly ITenantContext _tenants;

    /// <summary>Creates the filter.</summary>
    /// <param name="breakers">The breakers.</param>
    /// <param name="tenants">The ambient tenant.</param>
    public DegradationFeatureFilter(CircuitBreakerRegistry breakers, ITenantContext tenants)
    {
        _breakers = breakers;
        _tenants = tenants;
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The <c>Breaker</c> parameter names no configured breaker.</exception>
    public Task<bool> EvaluateAsync(FeatureFilterEvaluationContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var breaker = context.Parameters?["Breaker"];
        if (!string.IsNullOrEmpty(breaker) && _breakers.IsBroken(breaker))
        {
            return Task.FromResult(false);
        }

        var disabled = context.Parameters?.GetSection("DisabledTenants").GetChildren().Select(c => c.Value) ?? [];
        var tenant = _tenants.Tenant;
        var off = tenant is { } t && disabled.Contains(t.ToString(), StringComparer.Ordinal);
        return Task.FromResult(!off);
    }
}
