using System;
using System.Collections.Generic;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning.Internal;

/// <summary>The catalog reads of partition maintenance (the DDL goes through <see cref="DdlRunner"/>).</summary>
internal sealed partial class PartitionStore(NpgsqlDataSource dataSource)
{
    public sealed record Parent(string Strategy, int KeyCount, string? KeyColumn, string? KeyType);

    public async Task<Parent?> ParentReadAsync(string qualified, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Sql.ParentRead);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualified });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        return new Parent(reader.GetString(0), reader.GetInt32(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3));
    }

    /// <summary>The table's columns in order; with <paramref name="writableOnly"/>, without its generated columns.</summary>
    public async Task<List<string>> ColumnListAsync(string qualified, CancellationToken cancellationToken, bool writableOnly = false)
    {
        await using var command = dataSource.CreateCommand(Sql.ColumnList);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualified });
        command.Parameters.Add(new NpgsqlParameter<bool> { TypedValue = writableOnly });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var columns = new List<string>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            columns.Add(reader.GetString(0));
        }

        return columns;
    }

    public async Task<List<PartitionInfo>> PartitionListAsync(string qualified, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        // The bounds are read as text: UTC and ISO dates, so they print as '2026-11-01 00:00:00+00' whatever the
        // database's DateStyle ('SQL, DMY' once printed 01/11/2026, read back as 11 January).
        await using (var utc = new NpgsqlCommand(PartitionPeriods.IsoSessionSql, connection, transaction))
        {
            await utc.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using var command = new NpgsqlCommand(Sql.PartitionList, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualified });
        var list = new List<PartitionInfo>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var (from, to, isDefault) = Bounds(reader.GetString(2), reader.GetString(1));
            list.Add(new PartitionInfo(reader.GetString(0), reader.GetString(1), from, to, isDefault, reader.GetInt64(3), reader.GetInt64(4)));
        }

        return list;
    }

    /// <summary>
    /// The names of the relations and types in <paramref name="schema"/> that begin with <paramref name="prefix"/>: names a
    /// new partition (or its index) cannot take. A table that <see cref="RetentionMode.Detach"/> left under a partition's
    /// name once made the later partition of that period fail its CREATE (42P07) at every run.
    /// </summary>
    public async Task<List<string>> RelationNamesAsync(string schema, string prefix, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Sql.RelationNames);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = schema });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = prefix });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var names = new List<string>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    /// <summary>
    /// The rows of a table, all of them: with <c>row_security = off</c> for the statement, a count that row-level
    /// security would filter fails instead of returning the rows this role may see (an "empty" default partition is dropped).
    /// </summary>
    public async Task<long> CountAsync(string qualifiedTable, CancellationToken cancellationToken)
    {
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT pg_catalog.set_config('row_security', 'off', true)"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT count(*) FROM {qualifiedTable}"));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return reader.GetInt64(0);
    }

    /// <summary>
    /// The rows of a table with <paramref name="quotedColumn"/> in [<paramref name="fromLiteral"/>,
    /// <paramref name="toLiteral"/>), read with <c>row_security = off</c> like <see cref="CountAsync"/>.
    /// </summary>
    public async Task<long> CountRangeAsync(string qualifiedTable, string quotedColumn, string fromLiteral, string toLiteral, CancellationToken cancellationToken)
    {
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT pg_catalog.set_config('row_security', 'off', true)"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand(
            $"SELECT count(*) FROM {qualifiedTable} WHERE {quotedColumn} >= '{fromLiteral}' AND {quotedColumn} < '{toLiteral}'"));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return reader.GetInt64(0);
    }

    /// <summary>
    /// Rows of the default partition grouped by the period they belong to (UTC period starts), and the count of rows no
    /// period can hold (<see cref="PartitionPeriods.Placeable"/>: <c>infinity</c>, <c>-infinity</c>, a date BC, a year past
    /// 9999). Those are not grouped: read as periods, <c>infinity</c> and <c>-infinity</c> came back as DateTime.MaxValue
    /// and MinValue (the next period of MaxValue failed the table's planning; MinValue planned a move into an empty
    /// partition of year 1) and a date BC failed the read. Read with <c>row_security = off</c>, like
    /// <see cref="CountAsync"/>: where row-level security would filter them, this fails (42501) instead of finding none
    /// (the default looked empty and its rows were never moved, with no failure reported).
    /// </summary>
    public async Task<(List<(DateTime Start, long Rows)> Periods, long Unplaceable)> DefaultRowsByPeriodAsync(
        ManagedTable table, string qualifiedDefault, string keyType, CancellationToken cancellationToken)
    {
        var unit = table.Interval switch
        {
            PartitionInterval.Day => "day",
            PartitionInterval.Week => "week",
            PartitionInterval.Month => "month",
            PartitionInterval.Quarter => "quarter",
            _ => "year",
        };
        var key = keyType == "timestamp with time zone" ? $"({table.QuotedColumn} AT TIME ZONE 'UTC')" : $"{table.QuotedColumn}::timestamp";
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT pg_catalog.set_config('row_security', 'off', true)"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand(
            $"SELECT CASE WHEN {PartitionPeriods.PlaceableSql(table.QuotedColumn, keyType)} THEN date_trunc('{unit}', {key}) END AS period, count(*) "
            + $"FROM {qualifiedDefault} WHERE {table.QuotedColumn} IS NOT NULL GROUP BY 1 ORDER BY 1 NULLS LAST"));
        var list = new List<(DateTime, long)>();
        long unplaceable = 0;
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (reader.IsDBNull(0))
            {
                unplaceable = reader.GetInt64(1);
                continue;
            }

            list.Add((DateTime.SpecifyKind(reader.GetDateTime(0), DateTimeKind.Utc), reader.GetInt64(1)));
        }

        return (list, unplaceable);
    }

    /// <summary>
    /// <c>ALTER ROLE {role} IN DATABASE {current} SET plan_cache_mode = {mode}</c>; <paramref name="mode"/> is validated
    /// at start-up to one of PostgreSQL's three values (SET takes no parameters), the names are quoted.
    /// </summary>
    public async Task SetPlanCacheModeAsync(string? role, string mode, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var roleSql = string.IsNullOrEmpty(role) ? "CURRENT_USER" : SqlIdentifier.Quote(role);
        await using var command = new NpgsqlCommand(
            $"ALTER ROLE {roleSql} IN DATABASE {SqlIdentifier.Quote(connection.Database)} SET plan_cache_mode = '{mode}'", connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A partition bound as <c>pg_get_expr</c> prints it in a UTC, ISO session. <c>'-infinity'</c> as the lower bound
    /// and <c>'infinity'</c> as the upper one are read like MINVALUE and MAXVALUE (null: no end); the other way round,
    /// as the ends of <see cref="DateTime"/>. They failed the read (FormatException), and with it the table's planning.
    /// </summary>
    internal static (DateTime? From, DateTime? To, bool IsDefault) Bounds(string bound, string partition)
    {
        var isDefault = string.Equals(bound, "DEFAULT", StringComparison.Ordinal);
        var match = BoundRegex().Match(bound);
        return isDefault || !match.Success
            ? (null, null, isDefault)
            : (ParseBound(match.Groups["from"].Value, partition, lower: true), ParseBound(match.Groups["to"].Value, partition, lower: false), false);
    }

    private static DateTime? ParseBound(string literal, string partition, bool lower) => literal switch
    {
        "MINVALUE" or "MAXVALUE" => null,
        "'-infinity'" => lower ? null : DateTime.SpecifyKind(DateTime.MinValue, DateTimeKind.Utc),
        "'infinity'" => lower ? DateTime.SpecifyKind(DateTime.MaxValue, DateTimeKind.Utc) : null,
        _ => PartitionPeriods.ParseLiteral(literal.Trim('\''), $"the bound of partition {partition}"),
    };

    /// <summary>The lower bound of a range bound as <c>pg_get_expr</c> prints it (<c>MINVALUE</c>, <c>'-infinity'</c>, <c>'2026-11-01 ...'</c>), or null.</summary>
    internal static string? LowerBoundText(string bound) => BoundRegex().Match(bound) is { Success: true } match ? match.Groups["from"].Value : null;

    /// <summary>The bound of one partition as <c>pg_get_expr</c> prints it (<c>FOR VALUES FROM (...) TO (...)</c>), or null when it is none.</summary>
    public async Task<string?> PartitionBoundAsync(string qualifiedPartition, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT pg_catalog.pg_get_expr(c.relpartbound, c.oid) FROM pg_catalog.pg_class c WHERE c.oid = to_regclass($1)");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualifiedPartition });
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
    }

    [GeneratedRegex(@"^FOR VALUES FROM \((?<from>[^)]*)\) TO \((?<to>[^)]*)\)$")]
    private static partial Regex BoundRegex();
}
