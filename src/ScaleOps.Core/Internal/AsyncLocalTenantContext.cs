using System;
using System.Collections.Generic;
using System.Threading;
using ScaleOps.Tenancy;

namespace ScaleOps.Internal;

/// <summary>The <see cref="ITenantContext"/> backed by one process-wide <see cref="AsyncLocal{T}"/>.</summary>
internal sealed class AsyncLocalTenantContext : ITenantContext
{
    private static readonly AsyncLocal<TenantFrame?> Current = new();

    public TenantId? Tenant => Current.Value?.Tenant;

    public string? UserId => Current.Value?.UserId;

    public IReadOnlyList<string> Roles => Current.Value?.Roles ?? [];

    public TenantId RequireTenant() => Current.Value?.Tenant ?? throw new TenantRequiredException();

    public TenantScope BeginScope(TenantId tenant, string? userId = null, IReadOnlyList<string>? roles = null)
    {
        if (tenant.IsDefault)
        {
            throw new ArgumentException("default(TenantId) is not a tenant.", nameof(tenant));
        }

        var frame = new TenantFrame(tenant, userId, roles is null ? [] : [.. roles], Current.Value);
        Current.Value = frame;
        return new TenantScope(frame);
    }

    internal static void End(TenantFrame frame)
    {
        // Unwind to the frame's parent if the frame is on the current chain; a scope disposed from another
        // asynchronous flow (where it is not visible) changes nothing there.
        for (var f = Current.Value; f is not null; f = f.Parent)
        {
            if (ReferenceEquals(f, frame))
            {
                Current.Value = frame.Parent;
                return;
            }
        }
    }
}
