namespace ScaleOps.Rls;

/// <summary>The PostgreSQL settings that carry the tenant context, set transaction-locally before each unit of work.</summary>
public static class RlsSettings
{
    /// <summary>The tenant id; empty (never unset) outside tenant work.</summary>
    public const string TenantId = "app.tenant_id";

    /// <summary>The user id; empty when the scope has no user.</summary>
    public const string UserId = "app.user_id";

    /// <summary>The roles, as a PostgreSQL <c>text[]</c> literal; empty when the scope has none.</summary>
    public const string Roles = "app.roles";
}
