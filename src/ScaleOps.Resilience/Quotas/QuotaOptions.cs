using System;
using System.Collections.Generic;

namespace ScaleOps.Resilience.Quotas;

/// <summary>Per-tenant quotas, bound from <c>ScaleOps:Resilience:Quotas</c>.</summary>
public sealed class QuotaOptions
{
    /// <summary>The countable resources and how each is counted, for example <c>documents</c>: None, <c>exports</c>: Month.</summary>
    /// <value>
    /// Default empty. Resource names are case-sensitive, 1 to 100 characters; two names differing only by case fail the
    /// start, since configuration keys cannot tell them apart.
    /// </value>
    public Dictionary<string, QuotaPeriod> Resources { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Limits per plan and resource (<c>Plans:free:documents = 100</c>), used by the default <see cref="IQuotaLimitSource"/>.
    /// A resource a plan does not list is unlimited on that plan.
    /// </summary>
    /// <value>
    /// Default empty. Every limit is at least 1 and names a resource in <see cref="Resources"/>. Plan names are
    /// case-sensitive; two differing only by case fail the start.
    /// </value>
    public Dictionary<string, Dictionary<string, long>> Plans { get; } = new(StringComparer.Ordinal);
}
