using System;
using System.Threading;
using System.Threading.RateLimiting;
using System.Threading.Tasks;
using ScaleOps.Tenancy;

namespace ScaleOps.Resilience.RateLimiting;

/// <summary>
/// A plain <see cref="RateLimiter"/> over the tenant limiter for the ambient tenant (<see cref="ITenantContext"/>):
/// for code that takes a <see cref="RateLimiter"/>, such as Polly's rate limiter strategy or an outgoing HTTP handler.
/// Outside a tenant scope it throws <see cref="TenantRequiredException"/>.
/// </summary>
public sealed class AmbientTenantRateLimiter : RateLimiter
{
    private readonly PartitionedRateLimiter<TenantId> _limiter;
    private readonly ITenantContext _tenants;

    /// <summary>Creates the limiter.</summary>
    /// <param name="limiter">The tenant limiter registered by <c>AddResilience</c>.</param>
    /// <param name="tenants">The ambient tenant.</param>
    public AmbientTenantRateLimiter(PartitionedRateLimiter<TenantId> limiter, ITenantContext tenants)
    {
        ArgumentNullException.ThrowIfNull(limiter);
        ArgumentNullException.ThrowIfNull(tenants);
        _limiter = limiter;
        _tenants = tenants;
    }

    /// <inheritdoc />
    public override TimeSpan? IdleDuration => null;

    /// <inheritdoc />
    public override RateLimiterStatistics? GetStatistics() => _tenants.Tenant is { } tenant ? _limiter.GetStatistics(tenant) : null;

    /// <inheritdoc />
    protected override RateLimitLease AttemptAcquireCore(int permitCount) => _limiter.AttemptAcquire(_tenants.RequireTenant(), permitCount);

    /// <inheritdoc />
    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken) =>
        _limiter.AcquireAsync(_tenants.RequireTenant(), permitCount, cancellationToken);
}
