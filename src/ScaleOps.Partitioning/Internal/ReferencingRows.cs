using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;

namespace ScaleOps.Partitioning.Internal;

/// <summary>
/// Keeps a move out of a default partition from touching another table's rows. The move is DELETE ... INSERT, and a
/// FOREIGN KEY that references the partitioned table (PostgreSQL clones it onto every partition, the default included)
/// sees a deletion: ON DELETE CASCADE deleted the referencing rows, SET NULL and SET DEFAULT rewrote them, NO ACTION and
/// RESTRICT failed the move. None of that can be switched off by the table's owner (the foreign key's triggers are
/// internal; disabling them or <c>session_replication_role</c> needs a superuser), a DETACH of the default is refused
/// while rows reference it, and deferring does not help (the deferred check looks for the key in the default only).
/// So the move goes ahead only when no row of another table (or of another period) references a row it moves: then
/// the foreign key's action finds nothing to do. Otherwise it is refused, naming each constraint.
/// </summary>
internal static class ReferencingRows
{
    /// <summary>
    /// In the move's transaction, before its DELETE: when a foreign key references the default partition, locks the
    /// period's rows <c>FOR UPDATE</c> (a referencing INSERT takes FOR KEY SHARE on its referenced row, so from here on
    /// none can start referencing them until the move commits; one that held it first is waited for and then seen by
    /// the count), then counts the referencing rows of each constraint. Rows of the partitioned table that are moved
    /// themselves (a self-reference within the period) do not count: they leave the default in the same statement.
    /// </summary>
    /// <exception cref="InvalidOperationException">Some rows reference rows of the period; names each constraint, its table and action.</exception>
    public static async Task RefuseAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string qualifiedParent, string qualifiedDefault,
        string quotedColumn, string from, string to, string partition, CancellationToken cancellationToken)
    {
        var keys = new List<(string Name, string Table, string OnDelete, bool Self, string[] Columns, string[] Referenced)>();
        await using (var read = new NpgsqlCommand(Sql.ReferencingKeys, connection, transaction))
        {
            read.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualifiedDefault });
            read.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualifiedParent });
            await using var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                keys.Add((reader.GetString(0), SqlIdentifier.Qualify(reader.GetString(1), reader.GetString(2)), OnDelete(reader.GetString(3)),
                    reader.GetBoolean(4), reader.GetFieldValue<string[]>(5), reader.GetFieldValue<string[]>(6)));
            }
        }

        if (keys.Count == 0)
        {
            return;
        }

        var period = $"{{0}}.{quotedColumn} >= '{from}' AND {{0}}.{quotedColumn} < '{to}'";
        await using (var lockRows = new NpgsqlCommand(
            $"SELECT count(*) FROM (SELECT 1 FROM ONLY {qualifiedDefault} d WHERE {string.Format(null, period, "d")} FOR UPDATE) l", connection, transaction))
        {
            await lockRows.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        }

        var refused = new List<string>();
        foreach (var key in keys)
        {
            var join = string.Join(" AND ", key.Columns.Zip(key.Referenced, (c, r) => $"d.{SqlIdentifier.Quote(r)} = f.{SqlIdentifier.Quote(c)}"));
            var sql = $"SELECT count(*) FROM {key.Table} f WHERE EXISTS (SELECT 1 FROM ONLY {qualifiedDefault} d WHERE {join} AND {string.Format(null, period, "d")})";
            if (key.Self)
            {
                sql += $" AND NOT (f.tableoid = to_regclass($1) AND {string.Format(null, period, "f")})";
            }

            await using var count = new NpgsqlCommand(sql, connection, transaction);
            if (key.Self)
            {
                count.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualifiedDefault });
            }

            var rows = (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            if (rows > 0)
            {
                refused.Add($"foreign key {SqlIdentifier.Quote(key.Name)} of {key.Table} (ON DELETE {key.OnDelete}): {rows} rows reference rows of that period");
            }
        }

        if (refused.Count > 0)
        {
            throw new InvalidOperationException(
                $"Moving {partition} out of {qualifiedDefault} is refused: {string.Join("; ", refused)}. The move deletes "
                + "the period's rows from the default partition and inserts them into the new partition, and the DELETE would fire the foreign key's ON DELETE "
                + "action (CASCADE deletes the referencing rows, SET NULL / SET DEFAULT rewrites them, NO ACTION / RESTRICT fails). Nothing was "
                + "moved or changed. To move them: drop the constraint, run maintenance, then add it back (NOT VALID, then VALIDATE CONSTRAINT).");
        }
    }

    private static string OnDelete(string code) => code switch
    {
        "c" => "CASCADE",
        "r" => "RESTRICT",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        _ => "NO ACTION",
    };
}
