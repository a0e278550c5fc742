using System;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;

namespace ScaleOps.Partitioning.Internal;

internal sealed partial class TableMigrator
{
    /// <summary>What holds a name in a schema ($1 schema, $2 name): the kind of relation, <c>type</c>, or NULL when it is free.</summary>
    private const string NameHolderSql =
        "SELECT coalesce((SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'i' THEN 'index' "
        + "WHEN 'I' THEN 'partitioned index' WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' "
        + "WHEN 'f' THEN 'foreign table' ELSE 'relation' END FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        + "WHERE n.nspname = $1 AND c.relname = $2), (SELECT 'type' FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
        + "WHERE n.nspname = $1 AND t.typname = $2))";

    /// <summary>
    /// Refuses, before anything is built on the live table, a conversion whose swap would rename the live table to a name
    /// another object of the schema holds (<c>{source}_default</c>, the default partition's): the swap failed with
    /// PostgreSQL's bare 42P07 once the indexes and the range CHECK had been built and validated. The conversion makes
    /// that name only in the swap's transaction, so before the swap an object under it is never its own.
    /// </summary>
    /// <exception cref="InvalidOperationException">Naming the object and its kind.</exception>
    private async Task RefuseTakenDefaultNameAsync(string schema, string legacyName, string qualifiedSource, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(NameHolderSql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = schema });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = legacyName });
        if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is string kind)
        {
            throw new InvalidOperationException(
                $"A {kind} {SqlIdentifier.Qualify(schema, legacyName)} already exists; {qualifiedSource} is not converted (nothing was changed). "
                + $"The conversion renames {qualifiedSource} to that name, where it becomes the partitioned table's default partition until its "
                + "rows have moved out. Rename or drop that object and convert again.");
        }
    }
}
