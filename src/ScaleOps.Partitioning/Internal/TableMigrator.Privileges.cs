using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;

namespace ScaleOps.Partitioning.Internal;

internal sealed partial class TableMigrator
{
    /// <summary>
    /// Refuses, before anything changes, an old table whose owner differs from the twin's when the migrating role cannot
    /// hand the partitioned table to that owner (it must be a member of the owner role, and the owner must be allowed to
    /// create in the schema).
    /// </summary>
    /// <exception cref="InvalidOperationException">Naming both owners.</exception>
    private async Task RefuseOwnerAsync(string qualifiedSource, string qualifiedTarget, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT so.rolname::text, tr.rolname::text, current_user::text FROM pg_catalog.pg_class s JOIN pg_catalog.pg_roles so ON so.oid = s.relowner, "
            + "pg_catalog.pg_class t JOIN pg_catalog.pg_roles tr ON tr.oid = t.relowner "
            + "WHERE s.oid = to_regclass($1) AND t.oid = to_regclass($2) AND s.relowner <> t.relowner AND NOT (pg_has_role(current_user, s.relowner, 'MEMBER') "
            + "AND ((SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) OR has_schema_privilege(s.relowner, s.relnamespace, 'CREATE')))");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualifiedSource });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualifiedTarget });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException(
                $"{qualifiedSource} is owned by {SqlIdentifier.Quote(reader.GetString(0))} and {qualifiedTarget} by {SqlIdentifier.Quote(reader.GetString(1))}, "
                + $"and {SqlIdentifier.Quote(reader.GetString(2))} cannot give the partitioned table the old table's owner (it must be a member of that role, "
                + "which must have CREATE on the schema); it is not converted. Create the twin as the old table's owner, or convert as a role that can.");
        }
    }

    /// <summary>
    /// Refuses, before anything changes, an old table with a grant that the migrating role cannot make as its grantor
    /// (a role other than the owner, which granted with its grant option): made by the migrating role, it would be
    /// recorded as the owner's, and the grantor's REVOKE would no longer remove it. The migrating role must be allowed to
    /// SET ROLE to the grantor (be a member of it), which must have USAGE on the schema and not be a superuser.
    /// </summary>
    /// <exception cref="InvalidOperationException">Naming each such grant and its grantor.</exception>
    private async Task RefuseGrantorsAsync(string qualifiedSource, string qualifiedTarget, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection) { BatchCommands = { PartitionAccess.AccessRead(qualifiedSource, qualifiedTarget) } };
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var access = await GrantPlan.ReadAsync(reader, qualifiedTarget, cancellationToken).ConfigureAwait(false);
        var left = GrantPlan.Append(access, qualifiedTarget, access.Owner, []);
        if (left.Count > 0)
        {
            throw GrantorsRefused(qualifiedSource, access.CurrentUser, left);
        }
    }

    private static InvalidOperationException GrantorsRefused(string qualifiedSource, string currentUser, IEnumerable<GrantPlan.Grant> left) =>
        new($"{qualifiedSource} has grant {string.Join(", ", left)}, which {SqlIdentifier.Quote(currentUser)} cannot make as its grantor "
            + "(it must be a member of that role, which must have USAGE on the schema and not be a superuser); it is not converted. Made by the "
            + "migrating role, the grant would be recorded as the owner's and its grantor's REVOKE would no longer remove it. Convert as a "
            + "role that is a member of each grantor, or have each such grant revoked and made again by the owner first.");

    /// <summary>
    /// The table and column comments of the source ($1) that the target ($2) does not have, as COMMENT statements
    /// (PostgreSQL's own <c>quote_literal</c> makes the text a literal; COMMENT takes no parameter).
    /// </summary>
    private const string CommentsSql =
        "SELECT NULL::text, pg_catalog.quote_literal(d.description) FROM pg_catalog.pg_description d WHERE d.classoid = 'pg_catalog.pg_class'::regclass "
        + "AND d.objoid = to_regclass($1) AND d.objsubid = 0 AND obj_description(to_regclass($2), 'pg_class') IS NULL "
        + "UNION ALL SELECT a.attname::text, pg_catalog.quote_literal(d.description) FROM pg_catalog.pg_description d JOIN pg_catalog.pg_attribute a "
        + "ON a.attrelid = d.objoid AND a.attnum = d.objsubid WHERE d.classoid = 'pg_catalog.pg_class'::regclass AND d.objoid = to_regclass($1) "
        + "AND d.objsubid > 0 AND NOT a.attisdropped AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute t JOIN pg_catalog.pg_description td "
        + "ON td.objoid = t.attrelid AND td.objsubid = t.attnum AND td.classoid = 'pg_catalog.pg_class'::regclass "
        + "WHERE t.attrelid = to_regclass($2) AND t.attname = a.attname)";

    private static async Task CarryCommentsAsync(NpgsqlDataReader reader, string qualifiedTarget, List<string> statements, CancellationToken cancellationToken)
    {
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            statements.Add(reader.IsDBNull(0)
                ? $"COMMENT ON TABLE {qualifiedTarget} IS {reader.GetString(1)}"
                : $"COMMENT ON COLUMN {qualifiedTarget}.{SqlIdentifier.Quote(reader.GetString(0))} IS {reader.GetString(1)}");
        }
    }
}
