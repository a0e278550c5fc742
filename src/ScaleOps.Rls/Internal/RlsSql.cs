using System.IO;
using System.Reflection;
using System.Text;

namespace ScaleOps.Rls.Internal;

/// <summary>The package's SQL statements, loaded once from the embedded <c>Sql/Queries/*.sql</c> files.</summary>
internal static class RlsSql
{
    public static readonly string RoleCheck = Load("Queries.RoleCheck.sql");
    public static readonly string TableState = Load("Queries.TableState.sql");
    public static readonly string Partitions = Load("Queries.Partitions.sql");
    public static readonly string InheritanceChildren = Load("Queries.InheritanceChildren.sql");
    public static readonly string ScaleOpsPolicies = Load("Queries.ScaleOpsPolicies.sql");
    public static readonly string LeakingViews = Load("Queries.LeakingViews.sql");
    public static readonly string DefinerFunctions = Load("Queries.DefinerFunctions.sql");
    public static readonly string AuditTables = Load("Queries.AuditTables.sql");
    public static readonly string RlsTablesInSchema = Load("Queries.RlsTablesInSchema.sql");
    public static readonly string ReplicaHealth = Load("Queries.ReplicaHealth.sql");
    public static readonly string PrimaryWalPosition = Load("Queries.PrimaryWalPosition.sql");

    /// <summary>
    /// The tenant context procedure's migrations in order (0001 created it, 0002 made its body one expression), for the
    /// shards, which are not migrated by the core's migrator: the procedure is replaced, so running all is idempotent.
    /// </summary>
    public static readonly string TenantContextMigrations =
        Load("Migrations.0001_tenant_context.sql") + "\n" + Load("Migrations.0002_tenant_context_one_expression.sql");

    public const string MigrationPrefix = "ScaleOps.Rls.Sql.Migrations.";

    private static string Load(string name)
    {
        var resource = "ScaleOps.Rls.Sql." + name;
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource)
            ?? throw new FileNotFoundException($"Embedded SQL resource {resource} is missing from ScaleOps.Rls.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}
