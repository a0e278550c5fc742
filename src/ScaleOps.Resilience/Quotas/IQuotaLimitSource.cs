using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Tenancy;

namespace ScaleOps.Resilience.Quotas;

/// <summary>
/// Where quota limits come from. The default reads <see cref="QuotaOptions.Plans"/> for the tenant's plan (from the
/// <c>ITenantPlanResolver</c>); register your own to load limits from your store (per-tenant overrides, say).
/// Asked on every reservation and usage read, not cached, so a change applies to the next reservation; a source that
/// reads a database should cache, with an invalidation that reaches every instance.
/// </summary>
public interface IQuotaLimitSource
{
    /// <summary>The limit of <paramref name="resource"/> for <paramref name="tenant"/>.</summary>
    /// <param name="tenant">The tenant.</param>
    /// <param name="resource">A resource declared in <see cref="QuotaOptions.Resources"/>.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>
    /// The limit (at least 1), or <see langword="null"/> when unlimited. A limit below 1 makes the quota call throw
    /// <see cref="System.InvalidOperationException"/> naming this source, the tenant, the resource and the value.
    /// </returns>
    ValueTask<long?> GetLimitAsync(TenantId tenant, string resource, CancellationToken cancellationToken);
}
