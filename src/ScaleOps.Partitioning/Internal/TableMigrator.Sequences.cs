using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using NpgsqlTypes;
using ScaleOps.Data;

namespace ScaleOps.Partitioning.Internal;

internal sealed partial class TableMigrator
{
    private sealed record SequencedColumn(string Column, uint? TargetSequence, uint? SourceSequence, string? SourceSchema, string? SourceName, bool Shared);

    /// <summary>
    /// In the swap transaction, before the renames: makes the partitioned table's identity and serial columns go on from
    /// the old table's ids. A sequence of the target's own (its identity, or a serial it owns) is advanced past the
    /// source's highest value and past everything the source's sequence issued: it started at 1, and after the swap the
    /// table reissued the ids of existing rows. A sequence the source owns and the target's default also uses (a twin
    /// made with <c>LIKE ... INCLUDING DEFAULTS</c>) becomes owned by the target's column: owned by the old table, which
    /// becomes the default partition, it made the drop of the emptied default fail (2BP01). The swap has locked the
    /// source before (<see cref="SwapAsync"/>), so no id is issued meanwhile and its index on the column still exists.
    /// </summary>
    private static void AlignSequences(List<SequencedColumn> columns, string qualifiedSource, string qualifiedTarget, List<NpgsqlBatchCommand> commands)
    {
        foreach (var column in columns)
        {
            if (column.TargetSequence is { } target && target != column.SourceSequence)
            {
                // The source's own sequence bounds its ids (it would reissue any above it itself); only a column without
                // one is read, for its highest value (an index scan when the column is indexed, as an id is).
                var highest = column.SourceSequence is null
                    ? $"(SELECT max({SqlIdentifier.Quote(column.Column)})::bigint FROM {qualifiedSource}), "
                    : "";
                commands.Add(new NpgsqlBatchCommand(
                    "SELECT pg_catalog.setval($1::regclass, x.v) FROM (SELECT GREATEST("
                    + highest
                    + "pg_catalog.pg_sequence_last_value($2::regclass), pg_catalog.pg_sequence_last_value($1::regclass)) AS v) x "
                    + "WHERE x.v IS NOT NULL AND (SELECT s.seqincrement FROM pg_catalog.pg_sequence s WHERE s.seqrelid = $1::regclass) > 0")
                {
                    Parameters =
                    {
                        new NpgsqlParameter { Value = target, NpgsqlDbType = NpgsqlDbType.Oid },
                        new NpgsqlParameter { Value = (object?)column.SourceSequence ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Oid },
                    },
                });
            }
            else if (column.TargetSequence is null && column.Shared && column.SourceName is not null)
            {
                commands.Add(new NpgsqlBatchCommand(
                    $"ALTER SEQUENCE {SqlIdentifier.Qualify(column.SourceSchema!, column.SourceName)} OWNED BY {qualifiedTarget}.{SqlIdentifier.Quote(column.Column)}"));
            }
        }
    }

    private static async Task<List<SequencedColumn>> ReadSequencedColumnsAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var columns = new List<SequencedColumn>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            columns.Add(new SequencedColumn(reader.GetString(0),
                reader.IsDBNull(1) ? null : reader.GetFieldValue<uint>(1), reader.IsDBNull(2) ? null : reader.GetFieldValue<uint>(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetBoolean(5)));
        }

        return columns;
    }

    /// <summary>
    /// Per column of the source ($1) that the target ($2) also has: the sequence the target's column owns (identity or
    /// serial), the one the source's owns (with its schema and name), and whether the target's default uses the latter.
    /// </summary>
    private const string SequencedColumnsSql = """
        SELECT a.attname::text, ts.oid, ss.oid, sn.nspname::text, ss.relname::text,
               ss.oid IS NOT NULL AND EXISTS (
                   SELECT 1 FROM pg_catalog.pg_attrdef ad
                   JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid = ad.oid
                        AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = ss.oid
                   WHERE ad.adrelid = ta.attrelid AND ad.adnum = ta.attnum)
        FROM pg_catalog.pg_attribute a
        JOIN pg_catalog.pg_attribute ta ON ta.attrelid = to_regclass($2) AND ta.attname = a.attname AND NOT ta.attisdropped
        LEFT JOIN pg_catalog.pg_class ts ON ts.oid = to_regclass(pg_catalog.pg_get_serial_sequence($2, ta.attname))
        LEFT JOIN pg_catalog.pg_class ss ON ss.oid = to_regclass(pg_catalog.pg_get_serial_sequence($1, a.attname))
        LEFT JOIN pg_catalog.pg_namespace sn ON sn.oid = ss.relnamespace
        WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """;
}
