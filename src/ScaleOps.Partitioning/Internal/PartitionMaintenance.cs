using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Diagnostics;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning.Internal;

/// <summary>Plans and runs partition maintenance for every configured table, as the one leader across hosts.</summary>
internal sealed partial class PartitionMaintenance(
    NpgsqlDataSource dataSource,
    PartitionStore store,
    DdlRunner ddl,
    PartitionArchiver archiver,
    PartitionRemover remover,
    GrantSync grants,
    RowSecuritySync rowSecurity,
    PartitioningMetrics metrics,
    IOptions<PartitioningOptions> options,
    IOptions<ScaleOpsOptions> scaleOpsOptions,
    DatabaseClock clock,
    ILogger<PartitionMaintenance> logger) : IPartitionMaintenance
{
    private IReadOnlyList<ManagedTable>? _tables;

    internal IReadOnlyList<ManagedTable> Tables =>
        _tables ??= [.. ManagedTable.From(options.Value, scaleOpsOptions.Value.Schema)];

    /// <summary>
    /// Plans every table, then runs the steps in rounds over all tables: creates first (inserts fail without the
    /// current and next partitions), then the partitions' row-level security and grants are brought in step with their
    /// parent's (<see cref="RowSecuritySync"/>, <see cref="GrantSync"/>: one read each per table, statements only where
    /// they differ), then moves out of default
    /// partitions, then archive and retention. A table that
    /// cannot be checked or planned, and a step that fails, are logged, counted and reported in
    /// <see cref="MaintenanceResult.Failures"/>; the run goes on with the others (a partition whose archive failed is not
    /// removed). Only cancellation and the loss of the maintenance lock end the run early.
    /// </summary>
    public async Task<MaintenanceResult> RunMaintenanceAsync(bool dryRun = false, CancellationToken cancellationToken = default)
    {
        await using var leader = await AdvisoryLock.TryAcquireAsync(dataSource, PartitioningDefaults.MaintenanceLock, cancellationToken)
            .ConfigureAwait(false);
        if (leader is null)
        {
            Log.NotLeader(logger);
            return new MaintenanceResult(Ran: false, dryRun, []);
        }

        using var activity = ScaleOpsDiagnostics.ActivitySource.StartActivity("ScaleOps.Partitioning.Maintenance");
        activity?.SetTag("scaleops.partitioning.dry_run", dryRun);
        var started = Stopwatch.GetTimestamp();
        var failures = new List<MaintenanceFailure>();
        var planned = new List<(Resolved Resolved, PartitionAction Action)>();
        var resolvedTables = new List<Resolved>();
        foreach (var table in Tables)
        {
            try
            {
                var resolved = await ResolveAsync(table, cancellationToken).ConfigureAwait(false);
                foreach (var action in await PlanAsync(resolved, cancellationToken, unreadable => TableFailed(table, unreadable, failures))
                    .ConfigureAwait(false))
                {
                    planned.Add((resolved, action));
                }

                resolvedTables.Add(resolved);
                if (dryRun)
                {
                    // A run syncs row-level security and grants in its round, reading them there; a dry run reads them now
                    // to list the changes.
                    planned.AddRange((await SyncRowSecurityAsync(resolved, dryRun, cancellationToken).ConfigureAwait(false)).Select(a => (resolved, a)));
                    planned.AddRange((await SyncGrantsAsync(resolved, dryRun, cancellationToken).ConfigureAwait(false)).Select(a => (resolved, a)));
                }
            }
            catch (TableNotPartitionedYetException ex)
            {
                Log.TableNotPartitionedYet(logger, ex.Message); // declared for a conversion that has not run yet
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                TableFailed(table, ex, failures);
            }
        }

        var done = new List<PartitionAction>();
        var kept = new HashSet<(string Table, string Partition)>();
        var ordered = planned.OrderBy(p => Round(p.Action.Kind)).ToList();
        // OrderBy is stable: within a round, tables and steps keep their configured and planned order.
        var grantsSynced = dryRun;
        foreach (var (resolved, action) in ordered)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!grantsSynced && Round(action.Kind) > Round(PartitionActionKind.SyncGrants))
            {
                await SyncAllGrantsAsync(resolvedTables, leader, done, failures, cancellationToken).ConfigureAwait(false);
                grantsSynced = true;
            }

            if (dryRun)
            {
                done.Add(action);
                Log.DryRunStep(logger, done.Count, ordered.Count, action.Kind.ToString(), action.Partition, action.Table, action.Rows);
                continue;
            }

            if (kept.Contains((action.Table, action.Partition)))
            {
                continue; // its archive failed: the partition stays
            }

            if (!await leader.IsHeldAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new InvalidOperationException("Lost the partition maintenance lock (its connection died); stopping this run.");
            }

            using var step = ScaleOpsDiagnostics.ActivitySource.StartActivity("ScaleOps.Partitioning.Step");
            step?.SetTag("scaleops.partitioning.table", action.Table);
            step?.SetTag("scaleops.partitioning.partition", action.Partition);
            step?.SetTag("scaleops.partitioning.step", action.Kind.ToString());
            try
            {
                await ExecuteAsync(resolved, action, cancellationToken).ConfigureAwait(false);
                metrics.ActionDone(action.Kind);
                done.Add(action);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                step?.SetStatus(ActivityStatusCode.Error, ex.Message);
                kept.Add((action.Table, action.Partition));
                failures.Add(new MaintenanceFailure(action.Table, action, ex));
                metrics.MaintenanceFailed(action.Kind);
                Log.MaintenanceStepFailed(logger, ex, action.Kind.ToString(), action.Partition, action.Table);
            }
        }

        if (!grantsSynced)
        {
            await SyncAllGrantsAsync(resolvedTables, leader, done, failures, cancellationToken).ConfigureAwait(false);
        }

        if (!dryRun)
        {
            metrics.MaintenanceRan(Stopwatch.GetElapsedTime(started));
            Log.MaintenanceDone(logger, done.Count, failures.Count, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        activity?.SetTag("scaleops.partitioning.steps", done.Count);
        activity?.SetTag("scaleops.partitioning.failures", failures.Count);
        if (failures.Count > 0)
        {
            activity?.SetStatus(ActivityStatusCode.Error, $"{failures.Count} maintenance failures");
        }

        return new MaintenanceResult(Ran: true, dryRun, done) { Failures = failures };
    }

    private void TableFailed(ManagedTable table, Exception ex, List<MaintenanceFailure> failures)
    {
        failures.Add(new MaintenanceFailure(table.Qualified, null, ex));
        metrics.MaintenanceFailed(null);
        Log.MaintenanceTableFailed(logger, ex, table.Qualified);
    }

    private static int Round(PartitionActionKind kind) => kind switch
    {
        PartitionActionKind.Create => 0,
        PartitionActionKind.SyncRowSecurity or PartitionActionKind.SyncGrants => 1,
        PartitionActionKind.MoveFromDefault => 2,
        _ => 3,
    };

    /// <summary>
    /// A table checked against the catalog: its key type, columns, and the columns a row is written to (without
    /// GENERATED ... STORED ones, which a move recomputes).
    /// </summary>
    internal sealed record Resolved(ManagedTable Table, string KeyType, IReadOnlyList<string> Columns, IReadOnlyList<string> WritableColumns);

    /// <summary>Checks the table at start-up: partitioned by range on one time column, the one configured.</summary>
    internal async Task<Resolved> ResolveAsync(ManagedTable table, CancellationToken cancellationToken)
    {
        var parent = await store.ParentReadAsync(table.Qualified, cancellationToken).ConfigureAwait(false);
        if (parent is null)
        {
            if (table.Qualified == SqlIdentifier.Qualify(table.Options.Schema, table.Options.Name)
                && (await store.ColumnListAsync(table.Qualified, cancellationToken).ConfigureAwait(false)).Count > 0)
            {
                throw new TableNotPartitionedYetException(
                    $"{table.SettingPath}:Name: {table.Qualified} is a plain table, not partitioned yet; maintenance skips it until it is converted: "
                    + $"create its partitioned twin and call ITableMigrator.ConvertAsync(\"{table.Options.Schema}\", \"{table.Options.Name}\", \"<twin>\") "
                    + "(README: Converting a live table).");
            }

            throw new InvalidOperationException(
                $"{table.SettingPath}:Name: {table.Qualified} does not exist or is not a partitioned table; create it with PARTITION BY RANGE ({table.QuotedColumn}).");
        }

        if (parent.Strategy != "r" || parent.KeyCount != 1)
        {
            throw new InvalidOperationException(
                $"{table.SettingPath}:Name: {table.Qualified} must be partitioned BY RANGE on one column; it is not.");
        }

        if (!string.Equals(parent.KeyColumn, table.Options.Column, StringComparison.Ordinal))
        {
            throw new InvalidOperationException(
                $"{table.SettingPath}:Column is '{table.Options.Column}', but {table.Qualified} is partitioned by '{parent.KeyColumn}'.");
        }

        if (parent.KeyType is null || !ManagedTable.IsTimeType(parent.KeyType))
        {
            throw new InvalidOperationException(
                $"{table.SettingPath}:Column '{table.Options.Column}' is of type {parent.KeyType}, not a time column "
                + "(timestamptz, timestamp or date): time partitioning and retention would be meaningless and could drop current data.");
        }

        var columns = await store.ColumnListAsync(table.Qualified, cancellationToken).ConfigureAwait(false);
        var writable = await store.ColumnListAsync(table.Qualified, cancellationToken, writableOnly: true).ConfigureAwait(false);
        return new Resolved(table, parent.KeyType, columns, writable);
    }

    /// <summary>The steps for one table: moves out of the default partition, missing partitions, then retention (run in rounds, see above).</summary>
    /// <param name="resolved">The table.</param>
    /// <param name="cancellationToken">Cancels the reads.</param>
    /// <param name="defaultUnreadable">
    /// When given, a default partition whose rows row-level security would filter (42501), or that holds rows no period
    /// can hold (<see cref="PartitionPeriods.Placeable"/>), is reported to it and the rest is planned (those rows are not
    /// moved; partitions are still created); without it, that error is thrown.
    /// </param>
    internal async Task<List<PartitionAction>> PlanAsync(Resolved resolved, CancellationToken cancellationToken, Action<Exception>? defaultUnreadable = null)
    {
        var table = resolved.Table;
        var now = clock.GetUtcNow().UtcDateTime;
        var partitions = await store.PartitionListAsync(table.Qualified, cancellationToken).ConfigureAwait(false);
        var plan = new List<PartitionAction>();

        // Only closed periods move out of a default partition. The current one is still written to: moving it needs an
        // exclusion CHECK on the default, which either refuses its INSERTs (committed first) or holds ACCESS EXCLUSIVE
        // on the default through the validation scan (added in the move's transaction). It waits in the default until
        // it closes, as during a conversion. A period with rows in the default cannot be attached before they move.
        var current = PartitionPeriods.Floor(table.Interval, now);
        var defaultPartition = partitions.FirstOrDefault(p => p.IsDefault);
        var heldByDefault = new HashSet<DateTime>();
        // A new partition takes a name no relation or type of the schema has, nor any of its template indexes (FreeNames).
        var names = await FreeNames.ReadAsync(store, table, partitions, cancellationToken).ConfigureAwait(false);
        string FreeName(DateTime start, ref int index) => names.Next(start, ref index);

        DateTime? firstAhead = null;
        if (defaultPartition is not null)
        {
            var qualifiedDefault = ManagedTable.QualifyPartition(defaultPartition);
            List<(DateTime Start, long Rows)> stray;
            try
            {
                (stray, var unplaceable) = await store.DefaultRowsByPeriodAsync(table, qualifiedDefault, resolved.KeyType, cancellationToken).ConfigureAwait(false);
                if (unplaceable > 0)
                {
                    // No partition of a period can take them: said at every run (like a default that cannot be read), not
                    // planned as a move into year 1 or a period past DateTime's end.
                    var error = new InvalidOperationException(
                        $"{table.SettingPath}: {unplaceable} rows of {qualifiedDefault} have a {table.QuotedColumn} {PartitionPeriods.PlaceableText}, "
                        + $"which no partition of a period can hold; they stay in the default partition of {table.Qualified}. Correct or delete them.");
                    if (defaultUnreadable is null)
                    {
                        throw error;
                    }

                    defaultUnreadable(error);
                }
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege && defaultUnreadable is not null)
            {
                // Through a filter the default looked empty: its rows were never moved and nothing said so.
                defaultUnreadable(new InvalidOperationException(
                    $"{table.SettingPath}: the rows of {table.Qualified}'s default partition {qualifiedDefault} cannot be read unfiltered "
                    + $"(row-level security applies to the maintenance role: {ex.MessageText}); none is moved. Run maintenance as a BYPASSRLS role.", ex));
                stray = [];
            }

            // Periods older than MaxPastPeriods get no partition: their rows stay in the default and are reported.
            var oldest = table.OldestPeriod(now);
            if (stray.Any(s => s.Start < oldest))
            {
                var error = await TooOldAsync(resolved, qualifiedDefault, stray.Where(s => s.Start < oldest).ToList(), oldest, cancellationToken).ConfigureAwait(false);
                if (defaultUnreadable is null)
                {
                    throw error;
                }

                defaultUnreadable(error);
                stray = [.. stray.Where(s => s.Start >= oldest)];
            }

            foreach (var (start, rows) in stray)
            {
                var end = PartitionPeriods.Add(table.Interval, start, 1);
                heldByDefault.Add(start);
                if (end > now)
                {
                    continue;
                }

                // A period that partitions of another width cover in part (pg_partman's weekly ones and its default, for a
                // table now declared monthly): its rows move into partitions for the uncovered parts, named as the creates
                // name them. One partition for the whole period overlapped the others, and its move failed at every run.
                var gaps = ManagedTable.Gaps(partitions, start, end);
                var index = 0;
                if (gaps is [var whole] && whole == (start, end))
                {
                    plan.Add(new PartitionAction(table.Qualified, PartitionActionKind.MoveFromDefault, FreeName(start, ref index), start, end, rows));
                    continue;
                }

                foreach (var (gapFrom, gapTo) in gaps)
                {
                    var inGap = await store.CountRangeAsync(qualifiedDefault, table.QuotedColumn, PartitionPeriods.Literal(gapFrom, resolved.KeyType),
                        PartitionPeriods.Literal(gapTo, resolved.KeyType), cancellationToken).ConfigureAwait(false);
                    var name = FreeName(start, ref index);
                    if (inGap > 0)
                    {
                        plan.Add(new PartitionAction(table.Qualified, PartitionActionKind.MoveFromDefault, name, gapFrom, gapTo, inGap));
                    }
                }
            }

            // A converted table's default (the old table) holds every period before its first partition ahead: attaching
            // one of them would scan the whole old table under ACCESS EXCLUSIVE. They stay in it until they close.
            firstAhead = partitions.Where(p => !p.IsDefault && p.From is { } f && f >= current).Select(p => p.From).Min();
        }

        var hasRanges = partitions.Any(p => !p.IsDefault);
        var first = hasRanges ? 0 : -table.Options.Premake;
        for (var k = first; k <= table.Options.Premake; k++)
        {
            var start = PartitionPeriods.Add(table.Interval, current, k);
            var end = PartitionPeriods.Add(table.Interval, start, 1);
            if (heldByDefault.Contains(start) || (start >= current && start < firstAhead))
            {
                continue;
            }

            // A period partly covered (by partitions of another width) gets partitions for the rest of it.
            var index = 0;
            foreach (var (gapFrom, gapTo) in ManagedTable.Gaps(partitions, start, end))
            {
                plan.Add(new PartitionAction(table.Qualified, PartitionActionKind.Create, FreeName(start, ref index), gapFrom, gapTo));
            }
        }

        if (table.RetentionCutoff(now) is { } cutoff)
        {
            // A partition bounded FROM (MINVALUE) is left alone: it has no period to archive or name it by; so is one in
            // another schema than the table's (steps name partitions in the table's schema). The health report keeps
            // counting both past retention, so they are seen.
            foreach (var expired in partitions.Where(p => !p.IsDefault && p.From is not null && p.To is { } to && to <= cutoff && table.InOwnSchema(p))
                .OrderBy(p => p.From))
            {
                if (table.Options.Archive)
                {
                    plan.Add(new PartitionAction(table.Qualified, PartitionActionKind.Archive, expired.Name, expired.From!.Value, expired.To!.Value));
                }

                var kind = table.Options.RetentionMode == RetentionMode.Drop ? PartitionActionKind.Drop : PartitionActionKind.Detach;
                plan.Add(new PartitionAction(table.Qualified, kind, expired.Name, expired.From!.Value, expired.To!.Value));
            }
        }

        return plan;
    }
}

/// <summary>A declared table that is still a plain table: it awaits <see cref="Migration.ITableMigrator.ConvertAsync"/>.</summary>
internal sealed class TableNotPartitionedYetException(string message) : InvalidOperationException(message);
