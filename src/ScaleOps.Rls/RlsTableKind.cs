namespace ScaleOps.Rls;

/// <summary>Who may see and write the rows of a protected table.</summary>
public enum RlsTableKind
{
    /// <summary>Rows of the current tenant: read and write.</summary>
    Tenant = 0,

    /// <summary>
    /// Rows of the current tenant owned by the current user (<see cref="RlsTable.UserColumn"/>): read and write. Without a
    /// tenant column (<see cref="RlsTable.TenantColumn"/> <see langword="null"/>) the rows of the user id in every tenant.
    /// </summary>
    UserOwned = 1,

    /// <summary>
    /// Rows every authenticated user (a user id is set) may read, within the current tenant when the table has a
    /// tenant column; without one, every row, whatever the user's tenant. Writes need one of <see cref="RlsTable.ExtraRoles"/> (or the bypass scope).
    /// </summary>
    AuthenticatedRead = 2,

    /// <summary>
    /// Rows only a user holding <see cref="RlsTable.Role"/> (an auditor, say) may see and write, within the tenant; without a
    /// tenant column (<see cref="RlsTable.TenantColumn"/> <see langword="null"/>), every row, for the role's holders in any tenant.
    /// </summary>
    RoleOnly = 3,
}
