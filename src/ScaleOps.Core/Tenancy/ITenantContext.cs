using System.Collections.Generic;

namespace ScaleOps.Tenancy;

/// <summary>
/// The ambient tenant of the current asynchronous flow. The HTTP request sets it, a job runs inside its job's tenant,
/// and every ScaleOps package reads it from here. Scopes nest: disposing an inner scope restores the outer one.
/// </summary>
public interface ITenantContext
{
    /// <summary>The current tenant, or <see langword="null"/> outside any scope.</summary>
    TenantId? Tenant { get; }

    /// <summary>The current user id, when the scope carries one.</summary>
    string? UserId { get; }

    /// <summary>The current roles; empty when the scope carries none.</summary>
    IReadOnlyList<string> Roles { get; }

    /// <summary>The current tenant.</summary>
    /// <returns>The tenant.</returns>
    /// <exception cref="TenantRequiredException">No tenant scope is active.</exception>
    TenantId RequireTenant();

    /// <summary>Begins a scope in which <paramref name="tenant"/> is the ambient tenant; dispose it to restore the outer scope.</summary>
    /// <param name="tenant">The tenant; <c>default(TenantId)</c> is rejected.</param>
    /// <param name="userId">An optional user id.</param>
    /// <param name="roles">Optional roles.</param>
    /// <returns>The scope.</returns>
    TenantScope BeginScope(TenantId tenant, string? userId = null, IReadOnlyList<string>? roles = null);
}
