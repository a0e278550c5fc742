using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Partitioning.Migration;

namespace ScaleOps.Partitioning.Internal;

/// <summary>Converts a live table into a partitioned one; every step checks the catalog first, so a rerun resumes.</summary>
internal sealed partial class TableMigrator(
    NpgsqlDataSource dataSource,
    PartitionStore store,
    DdlRunner ddl,
    PartitionMaintenance maintenance,
    DatabaseClock clock) : ITableMigrator
{
    public async Task<TableConversionResult> ConvertAsync(string schema, string source, string target, IProgress<ConversionProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        var final = maintenance.Tables.FirstOrDefault(t => t.Options.Schema == schema && t.Options.Name == source)
            ?? throw new InvalidOperationException($"{schema}.{source} must be declared in {PartitioningDefaults.Section}:Tables (it becomes the partitioned table).");
        var qualifiedSource = SqlIdentifier.Qualify(schema, source);
        var qualifiedTarget = SqlIdentifier.Qualify(schema, target);
        var legacyName = PartitionPeriods.DefaultName(source);
        long rowsBefore = 0;
        var swapped = false;

        var sourceParent = await store.ParentReadAsync(qualifiedSource, cancellationToken).ConfigureAwait(false);
        if (sourceParent is null)
        {
            // Not swapped yet: prepare the source, then swap. A missing or plain twin is the caller's target, not the setting
            // (ResolveAsync named Tables:N:Name, which names the source, and sent the user to the configuration).
            if (await store.ParentReadAsync(qualifiedTarget, cancellationToken).ConfigureAwait(false) is null)
            {
                throw new InvalidOperationException(
                    $"The conversion's target {qualifiedTarget} does not exist or is not a partitioned table: create the partitioned twin of "
                    + $"{qualifiedSource} first (its columns in the same order, PARTITION BY RANGE ({final.QuotedColumn}), a primary key that "
                    + $"includes {final.QuotedColumn}) and pass its name (README: Converting a live table).");
            }

            var staged = new ManagedTable(final.Options, final.SettingPath, actualName: target);
            var resolved = await maintenance.ResolveAsync(staged, cancellationToken).ConfigureAwait(false);
            var sourceColumns = await store.ColumnListAsync(qualifiedSource, cancellationToken).ConfigureAwait(false);
            if (sourceColumns.Count == 0)
            {
                throw new InvalidOperationException($"{qualifiedSource} does not exist.");
            }

            await RefuseReferencedAsync(qualifiedSource, cancellationToken).ConfigureAwait(false);
            await RefuseViewedAsync(qualifiedSource, cancellationToken).ConfigureAwait(false);
            await RefuseTriggersAsync(qualifiedSource, qualifiedTarget, cancellationToken).ConfigureAwait(false);
            await RefuseOwnerAsync(qualifiedSource, qualifiedTarget, cancellationToken).ConfigureAwait(false);
            await RefuseGrantorsAsync(qualifiedSource, qualifiedTarget, cancellationToken).ConfigureAwait(false);
            await RefuseTakenDefaultNameAsync(schema, legacyName, qualifiedSource, cancellationToken).ConfigureAwait(false);

            if (!sourceColumns.SequenceEqual(resolved.Columns, StringComparer.Ordinal))
            {
                throw new InvalidOperationException(
                    $"{qualifiedTarget} must have the same columns in the same order as {qualifiedSource} ({string.Join(", ", sourceColumns)}).");
            }

            var nullable = await RefuseNullKeysAsync(final, qualifiedSource, cancellationToken).ConfigureAwait(false);
            await RefuseUnplaceableKeysAsync(final, resolved.KeyType, qualifiedSource, cancellationToken).ConfigureAwait(false);
            await RefuseFarFutureKeysAsync(final, resolved.KeyType, qualifiedSource, cancellationToken).ConfigureAwait(false);
            await RefuseAncientKeysAsync(final, resolved.KeyType, qualifiedSource, cancellationToken).ConfigureAwait(false);
            var built = new List<string>();
            try
            {
                await EnsureIndexesAsync(schema, source, qualifiedTarget, built, cancellationToken).ConfigureAwait(false);
                progress?.Report(new ConversionProgress("indexes", 0, 0));

                var cut = await EnsureRangeCheckAsync(final, resolved.KeyType, qualifiedSource, source, cancellationToken).ConfigureAwait(false);
                progress?.Report(new ConversionProgress("check", 0, 0));

                await CreateAheadAsync(staged, resolved, cut, cancellationToken).ConfigureAwait(false);
                rowsBefore = await store.CountAsync(qualifiedSource, cancellationToken).ConfigureAwait(false);
                progress?.Report(new ConversionProgress("partitions ahead", 0, 0));

                await ddl.RunAsync("swap", (connection, transaction) => SwapAsync(connection, transaction, schema, source, target, legacyName, cancellationToken),
                    cancellationToken).ConfigureAwait(false);
            }
            catch (Exception error) when (error is not OutOfMemoryException)
            {
                // Not swapped: nothing of the conversion may stay on the live table (a range CHECK refuses every row from its cut on).
                await UndoPreparationAsync(final, qualifiedSource, source, nullable, built, error).ConfigureAwait(false);
                throw;
            }

            swapped = true;
            progress?.Report(new ConversionProgress("swap", 0, 0));
        }
        else if (await store.ParentReadAsync(qualifiedTarget, cancellationToken).ConfigureAwait(false) is not null)
        {
            throw new InvalidOperationException($"Both {qualifiedSource} and {qualifiedTarget} are partitioned; nothing to convert.");
        }
        else
        {
            // A resumed run (swapped by an older version that did not check): the old table is the default partition now.
            await RefuseReferencedAsync(SqlIdentifier.Qualify(schema, legacyName), cancellationToken).ConfigureAwait(false);
            rowsBefore = await store.CountAsync(qualifiedSource, cancellationToken).ConfigureAwait(false);
        }

        var moved = await SplitAsync(final, progress, cancellationToken).ConfigureAwait(false);
        // Not compared with rowsBefore: the application may delete rows meanwhile (a lower count failed a conversion that
        // had lost nothing). Each move verifies its own rows in its transaction, and the old table is dropped only empty.
        var rowsAfter = await store.CountAsync(qualifiedSource, cancellationToken).ConfigureAwait(false);
        return new TableConversionResult(rowsBefore, rowsAfter, moved, swapped);
    }

    /// <summary>
    /// Builds on the source, CONCURRENTLY, every index of the target it lacks, so ATTACH finds them instead of building them
    /// under lock. Each is named <c>{source}_sx{n}</c> unless another object of the schema has that name (then
    /// <c>_sx{n}_2</c>, <c>_3</c>...): with IF NOT EXISTS, a user's index of that name on another table was taken for the
    /// one built, the swap failed ("Sequence contains no matching element") and the undo dropped the user's index.
    /// </summary>
    private async Task EnsureIndexesAsync(string schema, string source, string qualifiedTarget, List<string> built, CancellationToken cancellationToken)
    {
        var qualifiedSource = SqlIdentifier.Qualify(schema, source);
        var existing = await IndexesAsync(qualifiedSource, cancellationToken).ConfigureAwait(false);
        var wanted = await IndexesAsync(qualifiedTarget, cancellationToken).ConfigureAwait(false);
        var taken = (await store.RelationNamesAsync(schema, PartitionPeriods.Cut(source, PartitionPeriods.SharedPrefixBytes), cancellationToken)
            .ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal);
        var n = 0;
        foreach (var index in wanted)
        {
            n++;
            var shape = Shape(index.Definition);
            if (existing.Any(e => e.Valid && Shape(e.Definition) == shape))
            {
                continue;
            }

            var name = BuildName(source, n, existing, taken);
            if (existing.Any(e => e.Name == name && !e.Valid))
            {
                // Left invalid by an interrupted build of this conversion: built again.
                await ExecAsync($"DROP INDEX CONCURRENTLY IF EXISTS {SqlIdentifier.Qualify(schema, name)}", cancellationToken)
                    .ConfigureAwait(false);
            }

            var unique = shape.StartsWith("UNIQUE ", StringComparison.Ordinal);
            taken.Add(name);
            built.Add(name);
            try
            {
                await ExecAsync(
                    $"CREATE {(unique ? "UNIQUE " : "")}INDEX CONCURRENTLY {SqlIdentifier.Quote(name)} ON {qualifiedSource} USING {shape[(unique ? 7 : 0)..]}",
                    cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException error) when (error.SqlState is PostgresErrorCodes.DuplicateTable or PostgresErrorCodes.DuplicateObject)
            {
                built.Remove(name); // created by someone else since it was found free: not the conversion's to drop
                throw new InvalidOperationException(
                    $"{SqlIdentifier.Qualify(schema, name)} was created by someone else while the conversion of {qualifiedSource} was about to build "
                    + "an index of that name; convert again (another name is taken).", error);
            }
        }
    }

    /// <summary>
    /// <c>{source}_sx{n}</c>, or <c>_sx{n}_2</c>, <c>_3</c>... when the name is held by another object than an index of
    /// the source that an interrupted build left invalid.
    /// </summary>
    private static string BuildName(string source, int n, List<Index> existing, HashSet<string> taken)
    {
        var suffix = "_sx" + n.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var name = PartitionPeriods.Fit(source, suffix);
        for (var k = 2; taken.Contains(name) && !existing.Any(e => e.Name == name && !e.Valid); k++)
        {
            name = PartitionPeriods.Fit(source, suffix + "_" + k.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return name;
    }

    /// <summary>The part of an index definition after <c>USING</c>, prefixed with <c>UNIQUE</c> when unique.</summary>
    private static string Shape(string definition)
    {
        var at = definition.IndexOf(" USING ", StringComparison.Ordinal);
        return (definition.StartsWith("CREATE UNIQUE", StringComparison.Ordinal) ? "UNIQUE " : "") + definition[(at + 7)..];
    }

    internal sealed record Index(string Name, string Definition, bool Valid, string? ConstraintType, string? ConstraintName);

    private async Task<List<Index>> IndexesAsync(string qualified, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Sql.IndexDefinitions);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualified });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await ReadIndexesAsync(reader, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<List<Index>> ReadIndexesAsync(NpgsqlDataReader reader, CancellationToken cancellationToken)
    {
        var list = new List<Index>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(new Index(reader.GetString(0), reader.GetString(1), reader.GetBoolean(2),
                reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
        }

        return list;
    }

    /// <summary>
    /// ATTACH needs the partition's index behind a parent's PRIMARY KEY or UNIQUE constraint to back the same kind of
    /// constraint. Turns the matching (concurrently built) index into that constraint, dropping a conflicting primary key
    /// first. Runs inside the swap transaction: no scan, the index and NOT NULL already exist.
    /// </summary>
    private static List<string> ConstraintStatements(string qualifiedSource, List<Index> existing, List<Index> wantedIndexes)
    {
        var statements = new List<string>();
        foreach (var wanted in wantedIndexes.Where(i => i.ConstraintType is not null))
        {
            var shape = Shape(wanted.Definition);
            var match = existing.First(e => e.Valid && Shape(e.Definition) == shape);
            if (match.ConstraintType == wanted.ConstraintType)
            {
                continue;
            }

            if (wanted.ConstraintType == "p" && existing.FirstOrDefault(e => e.ConstraintType == "p") is { } oldKey)
            {
                statements.Add($"ALTER TABLE {qualifiedSource} DROP CONSTRAINT {SqlIdentifier.Quote(oldKey.ConstraintName!)}");
            }

            statements.Add($"ALTER TABLE {qualifiedSource} ADD CONSTRAINT {SqlIdentifier.Quote(match.Name)} "
                + (wanted.ConstraintType == "p" ? "PRIMARY KEY" : "UNIQUE") + $" USING INDEX {SqlIdentifier.Quote(match.Name)}");
        }

        return statements;
    }

    private async Task ExecAsync(string sql, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(sql);
        command.CommandTimeout = 0;
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
