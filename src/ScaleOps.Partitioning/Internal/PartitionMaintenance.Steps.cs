using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning.Internal;

internal sealed partial class PartitionMaintenance
{
    internal async Task ExecuteAsync(Resolved resolved, PartitionAction action, CancellationToken cancellationToken)
    {
        var table = resolved.Table;
        switch (action.Kind)
        {
            case PartitionActionKind.Create:
                await ddl.RunAsync($"create {action.Partition}", async (connection, transaction) =>
                {
                    await using (var create = new NpgsqlCommand(CreateSql(resolved, action), connection, transaction))
                    {
                        await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }

                    await PartitionAccess.CopyAsync(connection, transaction, table.Qualified, table.QualifyPartition(action.Partition), cancellationToken)
                        .ConfigureAwait(false);
                    return 0;
                }, cancellationToken).ConfigureAwait(false);
                Log.PartitionCreated(logger, table.Qualified, action.Partition);
                break;
            case PartitionActionKind.MoveFromDefault:
                var moved = await MoveAsync(resolved, action, cancellationToken).ConfigureAwait(false);
                Log.DefaultRowsMoved(logger, table.Qualified, moved, action.Partition);
                break;
            case PartitionActionKind.Archive:
                await archiver.ArchiveAsync(table, action.Partition, cancellationToken).ConfigureAwait(false);
                break;
            case PartitionActionKind.Drop:
            case PartitionActionKind.Detach:
                Archive.ArchiveManifest? archived = null;
                if (table.Options.Archive)
                {
                    archived = await archiver.GetManifestAsync(table, action.Partition, cancellationToken).ConfigureAwait(false)
                        ?? throw new InvalidOperationException($"{action.Partition} of {table.Qualified} has no verified archive; not removed.");
                }

                await remover.RemoveAsync(table, action.Partition, action.Kind, archived, null, cancellationToken).ConfigureAwait(false);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(action));
        }
    }

    /// <summary>
    /// A new partition is built as a plain table (indexes on an empty table cost nothing), then attached: ATTACH needs
    /// only SHARE UPDATE EXCLUSIVE on the parent, so readers and writers go on (CREATE ... PARTITION OF would take
    /// ACCESS EXCLUSIVE). All in one transaction, with the parent's row-level security, owner and grants copied
    /// (<see cref="PartitionAccess"/>): a failure leaves nothing behind.
    /// </summary>
    private static string CreateSql(Resolved resolved, PartitionAction action) =>
        CreateTableSql(resolved.Table, action.Partition) + IndexSql(resolved.Table, action.Partition) + AttachSql(resolved, action);

    /// <summary>
    /// The partition as a plain table shaped like the parent; <c>INCLUDING GENERATED</c>, because ATTACH refuses (42804)
    /// a partition whose column is plain where the parent's is GENERATED ... STORED.
    /// </summary>
    internal static string CreateTableSql(ManagedTable table, string partition) =>
        $"CREATE TABLE {table.QualifyPartition(partition)} (LIKE {table.Qualified} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        + "INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS INCLUDING COMPRESSION);\n";

    private static string AttachSql(Resolved resolved, PartitionAction action) =>
        $"ALTER TABLE {resolved.Table.Qualified} ATTACH PARTITION {resolved.Table.QualifyPartition(action.Partition)} FOR VALUES FROM ('"
        + PartitionPeriods.Literal(action.From, resolved.KeyType) + "') TO ('" + PartitionPeriods.Literal(action.To, resolved.KeyType) + "');\n";

    internal static string IndexSql(ManagedTable table, string partition)
    {
        var sql = new StringBuilder();
        foreach (var index in table.Indexes)
        {
            var name = SqlIdentifier.Quote(PartitionPeriods.IndexName(partition, index.Suffix));
            var columns = string.Join(", ", index.Columns.Select(SqlIdentifier.Quote));
            sql.Append("CREATE INDEX ").Append(name).Append(" ON ").Append(table.QualifyPartition(partition))
                .Append(index.Brin ? " USING brin (" : " (").Append(columns).Append(");\n");
        }

        return sql.ToString();
    }

    /// <summary>
    /// Moves one period's rows out of the default partition: new table, DELETE ... RETURNING into it, ATTACH, in one
    /// transaction (either all move or none). ATTACH must prove the default holds no row of the new range; a CHECK that
    /// says so spares it the scan under the default's ACCESS EXCLUSIVE lock. The CHECK is added NOT VALID first, in its
    /// own short transaction (ACCESS EXCLUSIVE for milliseconds, no scan); the move transaction then VALIDATEs it under
    /// SHARE UPDATE EXCLUSIVE, so readers and writers of the default go on during that scan, and the ACCESS EXCLUSIVE
    /// lock is held only from the ATTACH to the commit. Adding it in the move transaction took ACCESS EXCLUSIVE there
    /// and made the validation scan run under it. From the CHECK's commit on, a new row of that period can no longer
    /// land in the default: its INSERT fails until the partition is attached. So only closed periods (a late row is
    /// rare) move: <see cref="PlanAsync"/> leaves a period that is still open in the default until it closes.
    /// </summary>
    private async Task<long> MoveAsync(Resolved resolved, PartitionAction action, CancellationToken cancellationToken)
    {
        var table = resolved.Table;
        var partitions = await store.PartitionListAsync(table.Qualified, cancellationToken).ConfigureAwait(false);
        var defaultPartition = partitions.First(p => p.IsDefault);
        var qualifiedDefault = ManagedTable.QualifyPartition(defaultPartition);
        var exclusion = SqlIdentifier.Quote(PartitionPeriods.Fit(defaultPartition.Name, "_scaleops_excl"));
        var from = PartitionPeriods.Literal(action.From, resolved.KeyType);
        var to = PartitionPeriods.Literal(action.To, resolved.KeyType);

        // A constraint left by an interrupted run (it excludes another period, or this one) is replaced.
        var exclude = $"ALTER TABLE {qualifiedDefault} DROP CONSTRAINT IF EXISTS {exclusion};\n"
            + $"ALTER TABLE {qualifiedDefault} ADD CONSTRAINT {exclusion} CHECK (NOT ({table.QuotedColumn} >= '{from}' AND {table.QuotedColumn} < '{to}')) NOT VALID;";
        await ddl.RunAsync($"exclude {action.Partition} from the default partition", exclude, cancellationToken).ConfigureAwait(false);
        try
        {
            return await ddl.RunAsync($"move default rows into {action.Partition}",
                (c, t) => MoveRowsAsync(c, t, resolved, action, qualifiedDefault, exclusion, cancellationToken), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Do not leave the CHECK behind: it would refuse the period's rows in the default until the next move.
            await DropExclusionAsync(qualifiedDefault, exclusion).ConfigureAwait(false);
            throw;
        }
    }

    private async Task<long> MoveRowsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Resolved resolved, PartitionAction action,
        string qualifiedDefault, string exclusion, CancellationToken cancellationToken)
    {
        var table = resolved.Table;
        // Generated columns are left out: the new partition computes them (INSERT refuses a value for one).
        var columns = string.Join(", ", resolved.WritableColumns.Select(SqlIdentifier.Quote));
        var from = PartitionPeriods.Literal(action.From, resolved.KeyType);
        var to = PartitionPeriods.Literal(action.To, resolved.KeyType);
        var partition = table.QualifyPartition(action.Partition);
        await using (var create = new NpgsqlCommand(CreateTableSql(table, action.Partition) + IndexSql(table, action.Partition), connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        // A foreign key referencing the table sees the move's DELETE: refused (before anything changed) when a row of
        // another table or period references a row of this period, since its ON DELETE action would fire.
        await ReferencingRows.RefuseAsync(connection, transaction, table.Qualified, qualifiedDefault, table.QuotedColumn, from, to, action.Partition,
            cancellationToken).ConfigureAwait(false);

        // Rows move, they are not deleted: the user's triggers on the default (row-level DELETE triggers cloned from the
        // parent, say) must not see a deletion. Switched off in this transaction only and switched back before it ends.
        var triggers = await SuspendTriggersAsync(connection, transaction, qualifiedDefault, cancellationToken).ConfigureAwait(false);

        // Counted on both sides in the move's own statement: the rows that left the default and those that arrived.
        long moved;
        long arrived;
        await using (var command = new NpgsqlCommand(
            $"WITH moved AS (DELETE FROM {qualifiedDefault} WHERE {table.QuotedColumn} >= '{from}' AND {table.QuotedColumn} < '{to}' RETURNING {columns}), "
            + $"arrived AS (INSERT INTO {partition} ({columns}) SELECT {columns} FROM moved RETURNING 1) "
            + "SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM arrived)", connection, transaction))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            moved = reader.GetInt64(0);
            arrived = reader.GetInt64(1);
        }

        await ResumeTriggersAsync(connection, transaction, qualifiedDefault, triggers, cancellationToken).ConfigureAwait(false);

        // In the move's transaction, before the ATTACH locks the default: the new partition (no one else sees it yet)
        // holds every row that left the default; a mismatch (a trigger that swallowed rows, say) rolls the move back.
        // That none of the period is left in the default is what the VALIDATE below proves.
        await using (var verify = new NpgsqlCommand($"SELECT count(*) FROM ONLY {partition}", connection, transaction))
        {
            var held = (long)(await verify.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            if (arrived != moved || held != moved)
            {
                throw new InvalidOperationException(
                    $"Moving {action.Partition} out of {qualifiedDefault}: {moved} rows left the default partition, {arrived} were inserted and "
                    + $"{held} are in {partition}; rolled back, nothing moved.");
            }
        }

        await PartitionAccess.CopyAsync(connection, transaction, table.Qualified, table.QualifyPartition(action.Partition), cancellationToken).ConfigureAwait(false);

        // VALIDATE takes SHARE UPDATE EXCLUSIVE on the default (readers and writers go on) and scans it; the ATTACH
        // then needs no scan, and its ACCESS EXCLUSIVE lock on the default lasts until the commit only.
        // The parent is locked too, from the ATTACH to the commit: a statement through it that had already read its
        // partitions (without the new one) and then waited for the default found the rows neither there nor in a
        // partition it knew of; an UPDATE or DELETE of a moved row changed nothing. Waiting on the parent, it reads the
        // partitions again once the move has committed.
        var attachSql =
            $"ALTER TABLE {qualifiedDefault} VALIDATE CONSTRAINT {exclusion};\n"
            + $"LOCK TABLE ONLY {table.Qualified} IN ACCESS EXCLUSIVE MODE;\n"
            + AttachSql(resolved, action)
            + $"ALTER TABLE {qualifiedDefault} DROP CONSTRAINT {exclusion};\n";
        await using (var attach = new NpgsqlCommand(attachSql, connection, transaction))
        {
            await attach.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        return moved;
    }

    /// <summary>
    /// Disables, in <paramref name="transaction"/>, every enabled user trigger of the default partition (its own and
    /// those cloned from the parent; not the internal ones of foreign keys) and returns each with its mode (O, R, A) so
    /// <see cref="ResumeTriggersAsync"/> restores exactly that: a trigger the user had disabled stays disabled. A table
    /// owner may do this (<c>session_replication_role</c> needs a superuser). The SHARE ROW EXCLUSIVE lock it takes makes
    /// writers of the default wait for the move's commit, so it is taken only when there is a trigger to suspend.
    /// </summary>
    private static async Task<List<(string Name, char Mode)>> SuspendTriggersAsync(NpgsqlConnection connection, NpgsqlTransaction transaction,
        string qualifiedDefault, CancellationToken cancellationToken)
    {
        var triggers = new List<(string Name, char Mode)>();
        await using (var read = new NpgsqlCommand(
            "SELECT tgname::text, tgenabled FROM pg_catalog.pg_trigger WHERE tgrelid = to_regclass($1) AND NOT tgisinternal AND tgenabled <> 'D' ORDER BY 1",
            connection, transaction))
        {
            read.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualifiedDefault });
            await using var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                triggers.Add((reader.GetString(0), reader.GetChar(1)));
            }
        }

        if (triggers.Count > 0)
        {
            var sql = string.Concat(triggers.Select(t => $"ALTER TABLE {qualifiedDefault} DISABLE TRIGGER {SqlIdentifier.Quote(t.Name)};\n"));
            await using var disable = new NpgsqlCommand(sql, connection, transaction);
            await disable.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        return triggers;
    }

    private static async Task ResumeTriggersAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string qualifiedDefault,
        List<(string Name, char Mode)> triggers, CancellationToken cancellationToken)
    {
        if (triggers.Count == 0)
        {
            return;
        }

        var sql = string.Concat(triggers.Select(t => $"ALTER TABLE {qualifiedDefault} ENABLE "
            + (t.Mode switch { 'R' => "REPLICA ", 'A' => "ALWAYS ", _ => "" }) + $"TRIGGER {SqlIdentifier.Quote(t.Name)};\n"));
        await using var enable = new NpgsqlCommand(sql, connection, transaction);
        await enable.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task DropExclusionAsync(string qualifiedDefault, string exclusion)
    {
        try
        {
            await ddl.RunAsync("drop the exclusion from the default partition", $"ALTER TABLE {qualifiedDefault} DROP CONSTRAINT IF EXISTS {exclusion}",
                CancellationToken.None).ConfigureAwait(false);
        }
        catch (NpgsqlException ex)
        {
            // The next move of this table replaces it; the original failure is what the caller reports.
            Log.MaintenanceFailed(logger, ex);
        }
    }

    public async Task<IReadOnlyList<PartitionHealth>> GetHealthAsync(CancellationToken cancellationToken = default)
    {
        var now = clock.GetUtcNow();
        var report = new List<PartitionHealth>();
        foreach (var table in Tables)
        {
            var partitions = await store.PartitionListAsync(table.Qualified, cancellationToken).ConfigureAwait(false);
            var current = PartitionPeriods.Floor(table.Interval, now.UtcDateTime);
            var missing = 0;
            for (var k = 0; k <= table.Options.Premake; k++)
            {
                var start = PartitionPeriods.Add(table.Interval, current, k);
                if (ManagedTable.Gaps(partitions, start, PartitionPeriods.Add(table.Interval, start, 1)).Count > 0)
                {
                    missing++;
                }
            }

            long defaultRows = 0;
            foreach (var d in partitions.Where(p => p.IsDefault))
            {
                defaultRows += await store.CountAsync(ManagedTable.QualifyPartition(d), cancellationToken).ConfigureAwait(false);
            }

            var cutoff = table.RetentionCutoff(now.UtcDateTime);
            var past = cutoff is { } c ? partitions.Count(p => !p.IsDefault && p.To is { } to && to <= c) : 0;
            report.Add(new PartitionHealth(table.Qualified, missing, defaultRows, past, partitions.Sum(p => p.TotalBytes), partitions, now)
            {
                PartitionGrantsNotOnParent = await grants.CountNotOnParentAsync(table, cancellationToken).ConfigureAwait(false),
                PartitionRowSecurityNotAsParent = await rowSecurity.CountDifferingAsync(table, cancellationToken).ConfigureAwait(false),
            });
        }

        metrics.Observe(report);
        return report;
    }
}
