using System.Collections.Generic;

namespace ScaleOps.Rls;

/// <summary>What <see cref="RlsPolicyManager.ApplyAsync(System.Threading.CancellationToken)"/> changed.</summary>
public sealed class RlsPolicyReport
{
    internal RlsPolicyReport(IReadOnlyList<string> changes) => Changes = changes;

    /// <summary>
    /// One sentence per change, for example <c>public.documents: enabled row level security</c> or
    /// <c>public.documents: created policy scaleops_tenant</c>. Empty when everything was already in place.
    /// </summary>
    public IReadOnlyList<string> Changes { get; }

    /// <summary>Whether anything changed.</summary>
    public bool Changed => Changes.Count > 0;
}
