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
    /// <param name="userId">An optional user id; no NUL character or unpaired surrogate (it is sent to PostgreSQL as text).</param>
    /// <param name="roles">Optional roles; none null, none with a NUL character or an unpaired surrogate.</param>
    /// <returns>The scope.</returns>
    /// <exception cref="System.ArgumentException">The tenant is <c>default(TenantId)</c>, or the user id or a role is invalid; the message names it.</exception>
    TenantScope BeginScope(TenantId tenant, string? userId = null, IReadOnlyList<string>? roles = null);
}
