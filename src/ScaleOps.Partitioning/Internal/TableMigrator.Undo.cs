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
    /// Refuses, before anything is built on the live table, rows whose partition key is NULL: a partitioned table keeps
    /// them in a default partition only, and the conversion drops the old table (the default) once its periods have moved
    /// out. Their validation failed with PostgreSQL's bare 23514 and left the range CHECK on the live table. Returns whether
    /// the column is nullable (SET NOT NULL is undone on a failure when it was).
    /// </summary>
    /// <exception cref="InvalidOperationException">Naming the table, the column and how many rows have a NULL key.</exception>
    private async Task<bool> RefuseNullKeysAsync(ManagedTable final, string qualifiedSource, CancellationToken cancellationToken)
    {
        await using var nullable = dataSource.CreateCommand(
            "SELECT NOT attnotnull FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped");
        nullable.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualifiedSource });
        nullable.Parameters.Add(new NpgsqlParameter<string> { TypedValue = final.Options.Column });
        if (await nullable.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not true)
        {
            return false;
        }

        // A scan (the validation scans as well); stops at the first NULL when there is one, then counts them.
        var rows = await ScalarAsync<long>(
            $"SELECT CASE WHEN EXISTS (SELECT 1 FROM {qualifiedSource} WHERE {final.QuotedColumn} IS NULL) "
            + $"THEN (SELECT count(*) FROM {qualifiedSource} WHERE {final.QuotedColumn} IS NULL) ELSE 0 END", cancellationToken).ConfigureAwait(false);
        if (rows > 0)
        {
            throw new InvalidOperationException(
                $"{qualifiedSource} has {rows} rows whose {final.QuotedColumn} is NULL; it is not converted (nothing was changed). A partitioned "
                + "table holds a NULL partition key only in a default partition, and the conversion drops the old table, the default, once its "
                + "periods have moved out. Give these rows a value (or delete them), make the column NOT NULL if it must stay so, and convert again.");
        }

        return true;
    }

    /// <summary>
    /// Refuses rows whose key no period can hold (<see cref="PartitionPeriods.Placeable"/>: <c>infinity</c>,
    /// <c>-infinity</c>, a date BC, a year past 9999): they could only stay in the old table, the default partition, which
    /// the conversion drops. <c>infinity</c> failed the conversion with an ArgumentOutOfRangeException while computing its
    /// cut, and <c>-infinity</c> let it swap, then failed every split, the old table stuck as the default. Two range
    /// conditions, so an index on the column answers without a scan.
    /// </summary>
    private async Task RefuseUnplaceableKeysAsync(ManagedTable final, string keyType, string qualifiedSource, CancellationToken cancellationToken)
    {
        var column = final.QuotedColumn;
        var rows = await ScalarAsync<long>(
            $"SELECT count(*) FROM {qualifiedSource} WHERE {column} < '{PartitionPeriods.Literal(PartitionPeriods.Placeable.From, keyType)}' "
            + $"OR {column} >= '{PartitionPeriods.Literal(PartitionPeriods.Placeable.To, keyType)}'", cancellationToken).ConfigureAwait(false);
        if (rows > 0)
        {
            throw new InvalidOperationException(
                $"{qualifiedSource} has {rows} rows whose {column} is {PartitionPeriods.PlaceableText}; it is not converted (nothing was "
                + "changed). No partition of a period can hold them: they would stay in the old table, the default partition, which the "
                + "conversion drops once its periods have moved out. Correct or delete these rows and convert again.");
        }
    }

    /// <summary>
    /// The end of the last period maintenance keeps ahead (<c>Premake</c> periods past the current one): without a
    /// default partition the partitioned table takes no row from there on.
    /// </summary>
    private DateTime AheadBound(ManagedTable final) =>
        PartitionPeriods.Add(final.Interval, PartitionPeriods.Floor(final.Interval, clock.GetUtcNow().UtcDateTime), final.Options.Premake + 1);

    /// <summary>
    /// Refuses rows at or after <see cref="AheadBound"/>. The cut follows the newest row: one row in year 2999 put it
    /// there, so the conversion made a partition for 2999 and none ahead, the old table stayed the default partition
    /// holding every period until then, and the health report counted missing partitions for centuries. A range
    /// condition, so an index on the column answers without a scan.
    /// </summary>
    private async Task RefuseFarFutureKeysAsync(ManagedTable final, string keyType, string qualifiedSource, CancellationToken cancellationToken)
    {
        var bound = PartitionPeriods.Literal(AheadBound(final), keyType);
        var rows = await ScalarAsync<long>($"SELECT count(*) FROM {qualifiedSource} WHERE {final.QuotedColumn} >= '{bound}'", cancellationToken)
            .ConfigureAwait(false);
        if (rows > 0)
        {
            throw new InvalidOperationException(
                $"{qualifiedSource} has {rows} rows whose {final.QuotedColumn} is at or after {bound}, the end of the last period made ahead "
                + $"({final.SettingPath}:Premake = {final.Options.Premake} {final.Interval} periods past the current one); it is not converted "
                + "(nothing was changed). The partitioned table has no partition for them, and the conversion's cut follows the newest row: the "
                + "old table would stay the default partition, holding every period until then, with no partition made ahead. Correct or "
                + "delete these rows (or raise Premake) and convert again.");
        }
    }

    /// <summary>
    /// Refuses rows in periods before <see cref="ManagedTable.OldestPeriod"/> (<c>MaxPastPeriods</c> before the current
    /// one): the conversion makes a partition for every period from the oldest row's on, rows or not, and one row in 1970
    /// made 682 monthly partitions (12,320 for year 1000), nearly all empty, each adding to the planning of every query.
    /// A range condition, so an index on the column answers without a scan.
    /// </summary>
    private async Task RefuseAncientKeysAsync(ManagedTable final, string keyType, string qualifiedSource, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var bound = PartitionPeriods.Literal(final.OldestPeriod(now), keyType);
        await using var command = dataSource.CreateCommand(
            $"SELECT count(*), min({final.QuotedColumn}) FROM {qualifiedSource} WHERE {final.QuotedColumn} < '{bound}'");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var rows = reader.GetInt64(0);
        if (rows == 0)
        {
            return;
        }

        var oldest = DateTime.SpecifyKind(reader.GetDateTime(1), DateTimeKind.Utc);
        var needed = PartitionPeriods.Count(final.Interval, PartitionPeriods.Floor(final.Interval, oldest), PartitionPeriods.Floor(final.Interval, now));
        throw new InvalidOperationException(
            $"{qualifiedSource} has {rows} rows whose {final.QuotedColumn} is before {bound}, more than {final.MaxPastPeriodsText}, the oldest "
            + $"{PartitionPeriods.Literal(oldest, keyType)}; it is not converted (nothing was changed). The conversion makes a partition for every "
            + $"period from the oldest row's on, rows or not: {needed} partitions before the current one here, each adding to the planning of "
            + $"every query on the table. Correct or delete these rows, or raise {final.SettingPath}:MaxPastPeriods to at least {needed}, "
            + "and convert again.");
    }

    /// <summary>
    /// After a failure before the swap committed: drops the range CHECK (it would refuse every row from its cut on, and a
    /// NULL key), the NOT NULL this conversion set, and the indexes it built, so the live table is as it was. Skipped when
    /// the table is partitioned after all (the swap committed and only its answer was lost).
    /// </summary>
    private async Task UndoPreparationAsync(ManagedTable final, string qualifiedSource, string source, bool nullable, List<string> built, Exception error)
    {
        try
        {
            if (await store.ParentReadAsync(qualifiedSource, CancellationToken.None).ConfigureAwait(false) is not null)
            {
                return;
            }

            var constraint = SqlIdentifier.Quote(PartitionPeriods.Fit(source, "_scaleops_range"));
            await ddl.RunAsync("undo range check", $"ALTER TABLE {qualifiedSource} DROP CONSTRAINT IF EXISTS {constraint}"
                + (nullable ? $";\nALTER TABLE {qualifiedSource} ALTER COLUMN {final.QuotedColumn} DROP NOT NULL" : ""), CancellationToken.None).ConfigureAwait(false);
            foreach (var index in built)
            {
                await ExecAsync($"DROP INDEX CONCURRENTLY IF EXISTS {SqlIdentifier.Qualify(final.Options.Schema, index)}", CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception undo) when (undo is NpgsqlException or InvalidOperationException or TimeoutException)
        {
            throw new InvalidOperationException(
                $"The conversion of {qualifiedSource} failed ({error.Message}) and removing what it had added to the table failed too ({undo.Message}): "
                + $"drop the CHECK constraint {PartitionPeriods.Fit(source, "_scaleops_range")} (it refuses rows from its cut on), or convert again.", error);
        }
    }

    /// <summary>The validation of the range CHECK failed: names the rows that broke it.</summary>
    private async Task<InvalidOperationException> RangeViolationAsync(ManagedTable final, string keyType, string qualifiedSource, DateTime cut,
        PostgresException error, CancellationToken cancellationToken)
    {
        var literal = PartitionPeriods.Literal(cut, keyType);
        await using var command = dataSource.CreateCommand(
            $"SELECT count(*) FILTER (WHERE {final.QuotedColumn} IS NULL), count(*) FILTER (WHERE {final.QuotedColumn} >= CAST($1 AS {keyType})) FROM {qualifiedSource}");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = literal });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return new InvalidOperationException(
            $"{qualifiedSource} has {reader.GetInt64(0)} rows whose {final.QuotedColumn} is NULL and {reader.GetInt64(1)} rows at or after {literal}, "
            + "the cut of the conversion's range CHECK (written before the CHECK was added); it is not converted and the CHECK is removed. "
            + "Give the NULL rows a value, then convert again (a new cut is taken past the newest row).", error);
    }
}
