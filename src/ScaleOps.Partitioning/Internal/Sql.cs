using System.IO;

namespace ScaleOps.Partitioning.Internal;

/// <summary>The embedded SQL statements (Sql/Queries/*.sql), loaded once.</summary>
internal static class Sql
{
    // Read first: the queries below are loaded with it (static fields initialise in order).
    /// <summary>The grants of one relation (<c>Sql/Fragments/RelationGrants.sql</c>), placed as <c>{{relation_grants:alias}}</c>.</summary>
    private static readonly string RelationGrants = Read("Fragments.RelationGrants");

    public static readonly string ParentRead = Load("ParentRead");
    public static readonly string PartitionList = Load("PartitionList");
    public static readonly string ColumnList = Load("ColumnList");
    public static readonly string AuditQuery = Load("AuditQuery");
    public static readonly string IndexDefinitions = Load("IndexDefinitions");
    public static readonly string AuditFind = Load("AuditFind");
    public static readonly string AuditCopy = Load("AuditCopy");
    public static readonly string RowSecurityCopy = Load("RowSecurityCopy");
    public static readonly string AccessRead = Load("AccessRead");
    public static readonly string PartitionGrants = Load("PartitionGrants");
    public static readonly string PartitionRowSecurity = Load("PartitionRowSecurity");
    public static readonly string PartitionBounds = Load("PartitionBounds");
    public static readonly string AuditInsertIdempotent = Load("AuditInsertIdempotent");
    public static readonly string ReferencingKeys = Load("ReferencingKeys");
    public static readonly string RelationNames = Load("RelationNames");

    /// <summary>Replaces the <c>{{schema}}</c> placeholder with the quoted ScaleOps schema.</summary>
    public static string WithSchema(string sql, string quotedSchema) => sql.Replace("{{schema}}", quotedSchema, System.StringComparison.Ordinal);

    private static string Load(string name) =>
        System.Text.RegularExpressions.Regex.Replace(Read($"Queries.{name}"), @"\{\{relation_grants:([a-z]+)\}\}",
            m => RelationGrants.Replace("{{rel}}", m.Groups[1].Value, System.StringComparison.Ordinal).TrimEnd());

    private static string Read(string name)
    {
        using var stream = typeof(Sql).Assembly.GetManifestResourceStream($"ScaleOps.Partitioning.Sql.{name}.sql")
            ?? throw new FileNotFoundException($"Embedded SQL {name}.sql is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
