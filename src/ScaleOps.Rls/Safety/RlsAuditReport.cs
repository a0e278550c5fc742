using System.Collections.Generic;

namespace ScaleOps.Rls.Safety;

/// <summary>The findings of <see cref="RlsSchemaAuditor.AuditAsync"/>.</summary>
public sealed class RlsAuditReport
{
    internal RlsAuditReport(IReadOnlyList<string> unprotectedTables, IReadOnlyList<string> leakingViews)
    {
        UnprotectedTables = unprotectedTables;
        LeakingViews = leakingViews;
    }

    /// <summary>Tables with a tenant column but RLS disabled, not forced, or without any policy, each with the reason.</summary>
    public IReadOnlyList<string> UnprotectedTables { get; }

    /// <summary>Views that read an RLS table with their owner's rights (not <c>security_invoker</c>), and materialized views of one (directly or through views).</summary>
    public IReadOnlyList<string> LeakingViews { get; }

    /// <summary>Whether nothing was found.</summary>
    public bool IsClean => UnprotectedTables.Count == 0 && LeakingViews.Count == 0;
}
