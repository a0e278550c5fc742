using System.Collections.Generic;
using ScaleOps.Tenancy;

namespace ScaleOps.Internal;

/// <summary>One immutable level of the ambient tenant stack.</summary>
internal sealed record TenantFrame(TenantId Tenant, string? UserId, IReadOnlyList<string> Roles, TenantFrame? Parent);
