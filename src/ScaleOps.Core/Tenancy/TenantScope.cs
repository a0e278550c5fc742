using System;
using System.Collections.Generic;
using ScaleOps.Internal;

namespace ScaleOps.Tenancy;

/// <summary>
/// An active tenant scope; disposing it restores the scope that was active when it began. Disposing twice is harmless.
/// Disposing an outer scope while an inner one is still active ends both.
/// </summary>
public sealed class TenantScope : IDisposable
{
    private readonly TenantFrame _frame;

    internal TenantScope(TenantFrame frame) => _frame = frame;

    /// <summary>The tenant of this scope.</summary>
    public TenantId Tenant => _frame.Tenant;

    /// <summary>The user id of this scope, if any.</summary>
    public string? UserId => _frame.UserId;

    /// <summary>The roles of this scope.</summary>
    public IReadOnlyList<string> Roles => _frame.Roles;

    /// <inheritdoc />
    /// <remarks>
    /// Unwinds the calling flow only, every time (a flow where the scope is no longer active is left alone). No "disposed"
    /// flag: a dispose from another flow (a task that was handed the scope) must not stop the owning flow's own dispose,
    /// or that flow would stay in this tenant.
    /// </remarks>
    public void Dispose() => AsyncLocalTenantContext.End(_frame);
}
