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

        // The user and roles reach PostgreSQL as text (ScaleOps.Rls sends them with every tenant batch): refuse here, naming
        // them, what PostgreSQL or Npgsql's encoder would refuse later without saying which value it was.
        if (userId is not null && TextProblem(userId) is { } userProblem)
        {
            throw new ArgumentException($"Invalid user id: {userProblem}", nameof(userId));
        }

        string[] copied = roles is null ? [] : [.. roles];
        for (var i = 0; i < copied.Length; i++)
        {
            var problem = copied[i] is null ? $"roles[{i}] is null." : TextProblem(copied[i]) is { } text ? $"roles[{i}]: {text}" : null;
            if (problem is not null)
            {
                throw new ArgumentException($"Invalid role: {problem}", nameof(roles));
            }
        }

        var frame = new TenantFrame(tenant, userId, copied, Current.Value);
        Current.Value = frame;
        return new TenantScope(frame);
    }

    /// <summary>Why PostgreSQL text cannot hold <paramref name="value"/> (a NUL, an unpaired surrogate), or null.</summary>
    private static string? TextProblem(string value)
    {
        if (value.IndexOf('\0', StringComparison.Ordinal) is var nul and >= 0)
        {
            return $"it contains a NUL character at index {nul}, which PostgreSQL text cannot hold.";
        }

        return Utf16.FirstUnpairedSurrogate(value) is var i and >= 0
            ? $"it contains an unpaired surrogate U+{(int)value[i]:X4} at index {i}, which has no UTF-8 form."
            : null;
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
