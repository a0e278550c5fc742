using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Npgsql;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning.Internal;

/// <summary>
/// Keeps the row-level security of a table's partitions (those in its own schema) in step with the parent's. PostgreSQL
/// checks a statement that names a partition against the partition's own <c>ENABLE</c>/<c>FORCE ROW LEVEL SECURITY</c>
/// and policies, not the parent's, and does not recurse either: a policy added to the parent after its partitions
/// existed (or <c>ENABLE</c>, <c>FORCE</c>, a changed <c>USING</c>) filtered queries through the parent only, and a
/// tenant naming a partition (as <c>PruningBounds.Partitions</c> recommends) read every tenant's rows. Each maintenance
/// run reads the parent's and the partitions' settings and policies at once (<c>PartitionRowSecurity.sql</c>) and, in
/// one short DDL transaction (lock_timeout, retried), gives each partition the parent's ENABLE and FORCE, creates the
/// parent's policies it lacks and replaces those that differ (name, command, permissive or restrictive, roles, USING,
/// WITH CHECK), marking each copy with the comment <see cref="CopyMarker"/>; a marked copy whose policy the parent no
/// longer has is dropped (a permissive one left behind would keep granting). Nothing is sent when nothing differs.
/// </summary>
/// <remarks>
/// What it never does: drop a policy that is not marked and whose name the parent does not have (one made on the
/// partition by hand), or take ENABLE or FORCE off a partition (the parent's RLS being disabled is kept as the
/// partition's stricter setting, reported by the health report and logged, 4017). A policy on a partition that has the
/// name of one of the parent's is the parent's copy: it is replaced by the parent's when it differs, and marked (when it
/// is the same and has no comment, it is only marked; one with a comment of its own, such as ScaleOps.Rls's, is left). A
/// partition whose owner the maintenance role cannot act as is left as it is, logged (4017) and counted by the health
/// report. Warnings are logged once per partition and condition (<see cref="ReportedConditions"/>).
/// </remarks>
internal sealed partial class RowSecuritySync(NpgsqlDataSource dataSource, DdlRunner ddl, ILogger<RowSecuritySync> logger)
{
    /// <summary>The comment on a policy that maintenance copied from the parent onto a partition.</summary>
    public const string CopyMarker = "ScaleOps.Partitioning: copy of the parent table policy of this name, kept in step by maintenance";

    private readonly ReportedConditions _reported = new();

    /// <summary>
    /// Brings the partitions' row-level security in step (with <paramref name="dryRun"/>, only reads it); returns the
    /// plans of the partitions that had (or, in a dry run, have) something to change. Given <c>read</c>, the plans of a
    /// plain read made already (<see cref="ReadCommand"/>, <see cref="ReadPlansAsync"/>), it does not read again unless
    /// something differs.
    /// </summary>
    public async Task<IReadOnlyList<PartitionPlan>> RunAsync(ManagedTable table, bool dryRun, CancellationToken cancellationToken,
        List<PartitionPlan>? read = null)
    {
        var plans = await PartitionSyncStep.RunAsync(
            dataSource,
            ddl,
            table,
            $"keep the row-level security of the partitions of {table.Qualified}",
            PartitionActionKind.SyncRowSecurity,
            dryRun,
            async (connection, transaction) => Plans(await ReadAsync(connection, transaction, table.Qualified, cancellationToken).ConfigureAwait(false), table),
            p => (p.Partition.Partition, p.Statements),
            cancellationToken,
            read).ConfigureAwait(false);

        var kept = plans.SelectMany(p => p.Kept.Select(k => (Partition: p.Partition.Partition!, Difference: k))).ToList();
        foreach (var (partition, difference) in _reported.Fresh(table.Qualified, kept, k => k.Partition + "\n" + k.Difference))
        {
            Log.RowSecurityNotSynced(logger, table.Qualified, partition, difference);
        }

        return [.. plans.Where(p => p.Statements.Count > 0)];
    }

    /// <summary>
    /// How many of the table's partitions have row-level security that differs from the parent's (for the health
    /// report): after a run, those maintenance cannot or will not change (see the remarks).
    /// </summary>
    public async Task<int> CountDifferingAsync(ManagedTable table, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var catalog = await ReadAsync(connection, null, table.Qualified, cancellationToken).ConfigureAwait(false);
        return Plans(catalog, table).Count(p => p.Statements.Count > 0 || p.Kept.Count > 0);
    }

    private static List<PartitionPlan> Plans(Catalog? catalog, ManagedTable table) =>
        catalog is null ? [] : [.. catalog.Partitions.Select(p => Plan(catalog.Parent, p, table.QualifyPartition(p.Partition!)))];

    /// <summary>Reads <c>PartitionRowSecurity.sql</c>: null when the table does not exist.</summary>
    private static async Task<Catalog?> ReadAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string qualified, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(Sql.PartitionRowSecurity, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualified });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await ReadAsync(reader, qualified, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The plain read of <c>PartitionRowSecurity.sql</c> for <paramref name="qualified"/>, to run in a batch with others.</summary>
    internal static NpgsqlBatchCommand ReadCommand(string qualified)
    {
        var command = new NpgsqlBatchCommand(Sql.PartitionRowSecurity);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualified });
        return command;
    }

    /// <summary>The plans from the reader's current result set, that of <see cref="ReadCommand"/>.</summary>
    internal static async Task<List<PartitionPlan>> ReadPlansAsync(NpgsqlDataReader reader, ManagedTable table, CancellationToken cancellationToken) =>
        Plans(await ReadAsync(reader, table.Qualified, cancellationToken).ConfigureAwait(false), table);

    private static async Task<Catalog?> ReadAsync(NpgsqlDataReader reader, string qualified, CancellationToken cancellationToken)
    {
        var relations = new List<Relation>();
        string? Text(int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var partition = Text(0);
            if (relations.Count == 0 || relations[^1].Partition != partition)
            {
                relations.Add(new Relation(partition, Text(1), reader.GetBoolean(2), reader.GetBoolean(3), reader.GetString(4), reader.GetBoolean(5), []));
            }

            if (Text(6) is { } name)
            {
                relations[^1].Policies.Add(new Policy(name, reader.GetBoolean(7), reader.GetString(8), Text(9) ?? "PUBLIC", Text(10), Text(11), Text(12)));
            }
        }

        return relations.Count == 0 || relations[0].Partition is not null ? null : new Catalog(relations[0], relations.Skip(1).ToList());
    }
}
