using System;
using System.Text;

namespace ScaleOps.Tenancy;

/// <summary>
/// A tenant as a Redis Cluster hash tag: <c>{tenant}</c> with <c>%</c>, <c>{</c> and <c>}</c> escaped as <c>%25</c>,
/// <c>%7B</c>, <c>%7D</c>, so the tag ends at the tenant's end whatever characters its id holds. Every key built as
/// <c>prefix{tag}rest</c> (a prefix without braces) of one tenant lands in one cluster slot, and two tenants never build
/// the same key. Used by ScaleOps.Caching and ScaleOps.Resilience; use it for keys of your own.
/// </summary>
public static class TenantHashTag
{
    /// <summary>The tenant id escaped for use between the braces of a hash tag (ids without <c>%</c>, <c>{</c>, <c>}</c> unchanged).</summary>
    /// <param name="tenant">The tenant id.</param>
    /// <returns>The escaped id.</returns>
    public static string Escape(string tenant)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        if (tenant.AsSpan().IndexOfAny("%{}") < 0)
        {
            return tenant;
        }

        var builder = new StringBuilder(tenant.Length + 8);
        foreach (var c in tenant)
        {
            _ = c switch
            {
                '%' => builder.Append("%25"),
                '{' => builder.Append("%7B"),
                '}' => builder.Append("%7D"),
                _ => builder.Append(c),
            };
        }

        return builder.ToString();
    }

    /// <summary>The hash tag of a tenant: <c>{</c>, the escaped id, <c>}</c>.</summary>
    /// <param name="tenant">The tenant.</param>
    /// <returns>The tag.</returns>
    public static string Of(TenantId tenant) => string.Concat("{", Escape(tenant.Value), "}");
}
