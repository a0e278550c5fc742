using System.Collections.Generic;

namespace ScaleOps.Rls;

/// <summary>
/// A table protected by row-level security, declared in code (<see cref="RlsOptions.Tables"/>). The package enables
/// and forces RLS on it and creates its policies, in the fail-closed form
/// <c>tenant_id = nullif(current_setting('app.tenant_id', true), '')::type</c>, which the planner turns into an index
/// condition and which matches no row when no tenant is set. For a uuid or integer column the cast is wrapped so that a
/// tenant id not in the type's canonical text form (<c>007</c>, an upper-case uuid) raises an error instead of sharing
/// the rows of its canonical spelling.
/// </summary>
public sealed class RlsTable
{
    /// <summary>Declares a table.</summary>
    /// <param name="schema">The schema, for example <c>public</c>.</param>
    /// <param name="name">The table name.</param>
    /// <param name="kind">Who may see its rows.</param>
    public RlsTable(string schema, string name, RlsTableKind kind = RlsTableKind.Tenant)
    {
        Schema = schema;
        Name = name;
        Kind = kind;
    }

    /// <summary>The schema.</summary>
    public string Schema { get; }

    /// <summary>The table name.</summary>
    public string Name { get; }

    /// <summary>Who may see its rows.</summary>
    public RlsTableKind Kind { get; }

    /// <summary>The tenant column.</summary>
    /// <value>
    /// Default <c>tenant_id</c>. <see langword="null"/> (not for <see cref="RlsTableKind.Tenant"/>) for a table shared by all
    /// tenants: the kind's condition alone decides, in every tenant. A <see cref="RlsTableKind.UserOwned"/> row is then
    /// the user id's in every tenant (alice of one tenant reads and writes alice's rows written under another: use it only
    /// when user ids are unique across tenants); an <see cref="RlsTableKind.AuthenticatedRead"/> row is read by any
    /// tenant's user; a <see cref="RlsTableKind.RoleOnly"/> row by the role's holders in any tenant.
    /// </value>
    public string? TenantColumn { get; init; } = "tenant_id";

    /// <summary>The owner column of a <see cref="RlsTableKind.UserOwned"/> table, compared with the user id.</summary>
    /// <value>Default <c>user_id</c>.</value>
    public string UserColumn { get; init; } = "user_id";

    /// <summary>The role a <see cref="RlsTableKind.RoleOnly"/> table requires (one of the scope's roles).</summary>
    /// <value>Default <see langword="null"/>; required for <see cref="RlsTableKind.RoleOnly"/>. Letters, digits, <c>_ . : -</c>.</value>
    public string? Role { get; init; }

    /// <summary>Roles that may also read and write every row of the tenant (an administrator, say).</summary>
    /// <value>Default empty. Letters, digits, <c>_ . : -</c>.</value>
    public IReadOnlyList<string> ExtraRoles { get; init; } = [];

    /// <inheritdoc />
    public override string ToString() => $"{Schema}.{Name} ({Kind})";
}
