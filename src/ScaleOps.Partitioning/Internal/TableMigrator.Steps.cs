using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Partitioning.Lifecycle;
using ScaleOps.Partitioning.Migration;

namespace ScaleOps.Partitioning.Internal;

internal sealed partial class TableMigrator
{
    /// <summary>
    /// Adds <c>CHECK (col IS NOT NULL AND col &lt; cut)</c> NOT VALID (a lock for milliseconds), validates it online (reads and
    /// writes go on), then SET NOT NULL (no scan: the valid CHECK proves it). Returns the cut.
    /// </summary>
    /// <remarks>
    /// The live table refuses every row at or after the cut until the swap, and the swap waits for the validation scan
    /// (minutes on a big table). The cut is therefore the start of the period after next (counted from both now and the
    /// newest row): at least one whole period lies between the CHECK and the first row it would refuse. A cut was once
    /// the next period's start, and a conversion that crossed that boundary made every INSERT of the new period fail
    /// until the swap. A CHECK left by an interrupted run whose cut is less than a whole period ahead (or already passed:
    /// its rows fail right now) is replaced by one with a new cut, in one short transaction.
    /// </remarks>
    private async Task<DateTime> EnsureRangeCheckAsync(ManagedTable final, string keyType, string qualifiedSource, string source,
        CancellationToken cancellationToken)
    {
        var name = PartitionPeriods.Fit(source, "_scaleops_range");
        var constraint = SqlIdentifier.Quote(name);
        // Read in a UTC, ISO-DateStyle session (the DDL runner sets both) so the bound prints as '2026-11-01 00:00:00+00'.
        var existing = await ddl.RunAsync("read range check", async (connection, transaction) =>
        {
            await using var read = new NpgsqlCommand(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2", connection, transaction);
            read.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualifiedSource });
            read.Parameters.Add(new NpgsqlParameter<string> { TypedValue = name });
            return await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
        }, cancellationToken).ConfigureAwait(false);
        DateTime cut;
        if (existing is null)
        {
            cut = await NewCutAsync(final, keyType, qualifiedSource, cancellationToken).ConfigureAwait(false);
            await ddl.RunAsync("add range check", $"ALTER TABLE {qualifiedSource} ADD CONSTRAINT {constraint} CHECK ({final.QuotedColumn} IS NOT NULL AND "
                + $"{final.QuotedColumn} < '{PartitionPeriods.Literal(cut, keyType)}') NOT VALID", cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var literal = existing[(existing.LastIndexOf("< '", StringComparison.Ordinal) + 3)..];
            literal = literal[..literal.IndexOf('\'', StringComparison.Ordinal)];
            cut = PartitionPeriods.ParseLiteral(literal, $"the bound of {name} on {qualifiedSource}");
            var safe = PartitionPeriods.Add(final.Interval, PartitionPeriods.Floor(final.Interval, clock.GetUtcNow().UtcDateTime), 2);
            // A cut past the one a row within the periods made ahead gives (left by a run that followed a far-future row
            // since deleted) would leave the old table the default partition until then: replaced as well.
            if (cut < safe || cut > PartitionPeriods.Add(final.Interval, AheadBound(final), 1))
            {
                cut = await NewCutAsync(final, keyType, qualifiedSource, cancellationToken).ConfigureAwait(false);
                await ddl.RunAsync("replace range check", $"ALTER TABLE {qualifiedSource} DROP CONSTRAINT {constraint};\n"
                    + $"ALTER TABLE {qualifiedSource} ADD CONSTRAINT {constraint} CHECK ({final.QuotedColumn} IS NOT NULL AND "
                    + $"{final.QuotedColumn} < '{PartitionPeriods.Literal(cut, keyType)}') NOT VALID", cancellationToken).ConfigureAwait(false);
            }
        }

        // VALIDATE takes SHARE UPDATE EXCLUSIVE: it scans while readers and writers go on. lock_timeout still guards the wait.
        try
        {
            await ddl.RunAsync("validate range check", $"ALTER TABLE {qualifiedSource} VALIDATE CONSTRAINT {constraint}", cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException error) when (error.SqlState == PostgresErrorCodes.CheckViolation)
        {
            // A NULL key or a row past the cut written before the CHECK came (the caller drops the CHECK).
            throw await RangeViolationAsync(final, keyType, qualifiedSource, cut, error, cancellationToken).ConfigureAwait(false);
        }

        await ddl.RunAsync("set not null", $"ALTER TABLE {qualifiedSource} ALTER COLUMN {final.QuotedColumn} SET NOT NULL", cancellationToken).ConfigureAwait(false);
        return cut;
    }

    /// <summary>
    /// The start of the period after next, counted from the later of now and the newest row (refused from
    /// <see cref="AheadBound"/> on, so at most one period past it).
    /// </summary>
    private async Task<DateTime> NewCutAsync(ManagedTable final, string keyType, string qualifiedSource, CancellationToken cancellationToken)
    {
        var newest = await ScalarAsync<object?>(
            keyType == "timestamp with time zone"
                ? $"SELECT max({final.QuotedColumn}) FROM {qualifiedSource}"
                : $"SELECT max({final.QuotedColumn})::timestamp FROM {qualifiedSource}", cancellationToken).ConfigureAwait(false);
        var now = clock.GetUtcNow().UtcDateTime;
        var latest = newest is DateTime d && DateTime.SpecifyKind(d, DateTimeKind.Utc) > now ? DateTime.SpecifyKind(d, DateTimeKind.Utc) : now;
        if (latest >= AheadBound(final))
        {
            // Written since the up-front refusal: refused the same way (the caller removes what the run added).
            await RefuseFarFutureKeysAsync(final, keyType, qualifiedSource, cancellationToken).ConfigureAwait(false);
        }

        return PartitionPeriods.Add(final.Interval, PartitionPeriods.Floor(final.Interval, latest), 2);
    }

    /// <summary>
    /// Creates the staged table's partitions from the cut through <c>Premake</c> periods past now. A staged partition
    /// below the cut (left by an interrupted run whose CHECK has since been replaced) is dropped: the staged table gets
    /// no rows before the swap, and the swap's ATTACH of the old table as default would otherwise scan it under lock.
    /// </summary>
    private async Task CreateAheadAsync(ManagedTable staged, PartitionMaintenance.Resolved resolved, DateTime cut, CancellationToken cancellationToken)
    {
        var partitions = await store.PartitionListAsync(staged.Qualified, cancellationToken).ConfigureAwait(false);
        foreach (var stale in partitions.Where(p => !p.IsDefault && p.From < cut))
        {
            if (await store.CountAsync(staged.QualifyPartition(stale.Name), cancellationToken).ConfigureAwait(false) != 0)
            {
                throw new InvalidOperationException(
                    $"{stale.Name} of {staged.Qualified} holds rows below {PartitionPeriods.Literal(cut, resolved.KeyType)}, where the old table becomes the default partition; empty it first.");
            }

            await ddl.RunAsync($"drop staged {stale.Name}", $"DROP TABLE {staged.QualifyPartition(stale.Name)}", cancellationToken).ConfigureAwait(false);
        }

        partitions = [.. partitions.Where(p => p.IsDefault || !(p.From < cut))];
        // Named around what the schema holds already: a user's table under a period's name is not the conversion's.
        var names = await FreeNames.ReadAsync(store, staged, partitions, cancellationToken).ConfigureAwait(false);
        var last = PartitionPeriods.Add(staged.Interval, PartitionPeriods.Floor(staged.Interval, clock.GetUtcNow().UtcDateTime), staged.Options.Premake);
        for (var start = cut; start <= last || start == cut; start = PartitionPeriods.Add(staged.Interval, start, 1))
        {
            var end = PartitionPeriods.Add(staged.Interval, start, 1);
            if (!staged.Covers(partitions, start, end))
            {
                await maintenance.ExecuteAsync(resolved,
                    new PartitionAction(staged.Qualified, PartitionActionKind.Create, names.Next(start), start, end), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Moves the old rows, one period per transaction, out of the default partition; then drops the empty default.</summary>
    private async Task<int> SplitAsync(ManagedTable final, IProgress<ConversionProgress>? progress, CancellationToken cancellationToken)
    {
        var resolved = await maintenance.ResolveAsync(final, cancellationToken).ConfigureAwait(false);
        // Only closed periods move: live writes of the current period keep landing in the old table (the default
        // partition) and would race the move. The current period follows once it has closed (run the conversion again).
        var current = PartitionPeriods.Floor(final.Interval, clock.GetUtcNow().UtcDateTime);
        var plan = (await maintenance.PlanAsync(resolved, cancellationToken).ConfigureAwait(false))
            .Where(a => a.Kind == PartitionActionKind.MoveFromDefault && a.To <= current).ToList();
        // A closed period the old table held without a row (the one between the current period and the cut when nobody
        // wrote in it, or a month with no data) gets an empty partition the same way, so no gap opens when the default
        // goes. Walks back from the last closed period to the first one a partition already covers (an earlier run's).
        var before = await store.PartitionListAsync(final.Qualified, cancellationToken).ConfigureAwait(false);
        var ranged = before.Where(p => !p.IsDefault).ToList();
        var names = await FreeNames.ReadAsync(store, final, before, cancellationToken).ConfigureAwait(false);
        names.Take(plan.Select(a => a.Partition));
        // Without a default partition (dropped by an earlier run) there is nothing to fill from.
        var lowest = !before.Any(p => p.IsDefault) ? current : plan.Select(a => a.From)
            .Concat(ranged.Where(p => p.From is not null).Select(p => p.From!.Value))
            .Append(PartitionPeriods.Add(final.Interval, current, -2)).Min();
        for (var start = PartitionPeriods.Add(final.Interval, current, -1); start >= lowest; start = PartitionPeriods.Add(final.Interval, start, -1))
        {
            var end = PartitionPeriods.Add(final.Interval, start, 1);
            if (final.Covers(ranged, start, end))
            {
                break;
            }

            if (!plan.Any(a => a.From == start))
            {
                plan.Add(new PartitionAction(final.Qualified, PartitionActionKind.MoveFromDefault, names.Next(start), start, end, 0));
            }
        }

        plan = [.. plan.OrderBy(a => a.From)];
        var total = plan.Sum(a => a.Rows ?? 0);
        long moved = 0;
        foreach (var action in plan)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await maintenance.ExecuteAsync(resolved, action, cancellationToken).ConfigureAwait(false);
            moved += action.Rows ?? 0;
            progress?.Report(new ConversionProgress("move " + action.Partition, moved, total));
        }

        // Once the old table (the default partition) is empty, it goes: no default partition is the recommended setup.
        var partitions = await store.PartitionListAsync(final.Qualified, cancellationToken).ConfigureAwait(false);
        var defaultPartition = partitions.FirstOrDefault(p => p.IsDefault);
        // While the current period has no partition of its own (it lies before the cut), the old table takes its rows.
        if (defaultPartition is not null
            && final.Covers(partitions, current, PartitionPeriods.Add(final.Interval, current, 1))
            && await store.CountAsync(ManagedTable.QualifyPartition(defaultPartition), cancellationToken).ConfigureAwait(false) == 0
            && await DropEmptyDefaultAsync(final, ManagedTable.QualifyPartition(defaultPartition), cancellationToken).ConfigureAwait(false))
        {
            progress?.Report(new ConversionProgress("drop default", moved, total));
        }

        return plan.Count;
    }

    /// <summary>
    /// Detaches and drops the default partition if it is still empty once detached. The count before is read without a
    /// lock: a row written to the default after it (a late row of a closed period) would be dropped with the table. The
    /// DETACH holds ACCESS EXCLUSIVE on the default until the commit, so a count after it, in the same transaction, sees
    /// every committed row and none can come; when it finds any, the transaction rolls back and the default stays (the
    /// next conversion run moves the row out).
    /// </summary>
    private async Task<bool> DropEmptyDefaultAsync(ManagedTable final, string qualifiedDefault, CancellationToken cancellationToken)
    {
        var refilled = false;
        try
        {
            await ddl.RunAsync("drop empty default", async (connection, transaction) =>
            {
                await using (var detach = new NpgsqlCommand($"ALTER TABLE {final.Qualified} DETACH PARTITION {qualifiedDefault}", connection, transaction))
                {
                    await detach.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                await using (var count = new NpgsqlCommand($"SELECT count(*) FROM {qualifiedDefault}", connection, transaction))
                {
                    var rows = (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
                    if (rows != 0)
                    {
                        refilled = true;
                        throw new InvalidOperationException($"{qualifiedDefault} received {rows} rows after it was found empty; it is kept.");
                    }
                }

                await using var drop = new NpgsqlCommand($"DROP TABLE {qualifiedDefault}", connection, transaction);
                return await drop.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (InvalidOperationException) when (refilled)
        {
            return false; // rolled back: still attached, rows and all
        }
    }

    /// <summary>
    /// Refuses a table that another table's FOREIGN KEY references. The conversion makes it the default partition and
    /// then moves its rows out with DELETE ... INSERT: a DELETE fires the referencing side's ON DELETE action, so with
    /// CASCADE the referencing rows were deleted, and with NO ACTION or RESTRICT the conversion failed halfway, its rows
    /// stuck in the default partition.
    /// </summary>
    /// <exception cref="InvalidOperationException">Naming every referencing constraint and table, and what to do.</exception>
    private async Task RefuseReferencedAsync(string qualifiedTable, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT c.conname::text, c.conrelid::regclass::text, c.confdeltype::text FROM pg_catalog.pg_constraint c "
            + "WHERE c.contype = 'f' AND c.confrelid = to_regclass($1) ORDER BY 2, 1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualifiedTable });
        var references = new System.Collections.Generic.List<string>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var onDelete = reader.GetString(2) switch
                {
                    "c" => "CASCADE",
                    "r" => "RESTRICT",
                    "n" => "SET NULL",
                    "d" => "SET DEFAULT",
                    _ => "NO ACTION",
                };
                references.Add($"{SqlIdentifier.Quote(reader.GetString(0))} on {reader.GetString(1)} (ON DELETE {onDelete})");
            }
        }

        if (references.Count > 0)
        {
            throw new InvalidOperationException(
                $"{qualifiedTable} is referenced by foreign key {string.Join(", ", references)}; it is not converted. The conversion moves "
                + "its rows with DELETE and INSERT, which would fire the ON DELETE action of the referencing rows (delete them, or fail halfway). "
                + "Drop these constraints first and recreate them referencing the partitioned table (its primary key or unique key includes "
                + "the partition column) once the conversion has dropped the old table: while it is the default partition, moving rows they "
                + "reference out of it is refused.");
        }
    }

    /// <summary>
    /// Refuses a table that a view or materialized view reads. A view names its tables by oid: after the swap it read
    /// the old table, the default partition, which the split empties (the view showed fewer rows with every moved
    /// period), and the drop of the emptied old table failed on the dependency (2BP01).
    /// </summary>
    /// <exception cref="InvalidOperationException">Naming every such view, and what to do.</exception>
    private async Task RefuseViewedAsync(string qualifiedTable, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT DISTINCT r.ev_class::regclass::text, v.relkind::text FROM pg_catalog.pg_depend d "
            + "JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid JOIN pg_catalog.pg_class v ON v.oid = r.ev_class "
            + "WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass "
            + "AND d.refobjid = to_regclass($1) AND r.ev_class <> d.refobjid ORDER BY 1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualifiedTable });
        var views = new System.Collections.Generic.List<string>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                views.Add((reader.GetString(1) == "m" ? "materialized view " : "view ") + reader.GetString(0));
            }
        }

        if (views.Count > 0)
        {
            throw new InvalidOperationException(
                $"{qualifiedTable} is read by {string.Join(", ", views)}; it is not converted. A view keeps reading the table it was made on, "
                + "which becomes the default partition and is emptied period by period, and it would stop the emptied table's drop. "
                + "Drop these views first and create them again once the conversion has swapped the tables.");
        }
    }

    private async Task<T> ScalarAsync<T>(string sql, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(sql);
        var value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return value is DBNull or null ? default! : (T)value;
    }

}
