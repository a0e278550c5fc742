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
/// Keeps the table and column grants of a table's partitions (those in its own schema) in step with the parent's.
/// PostgreSQL does not recurse GRANT or REVOKE from a partitioned table to its partitions, and each partition carries a
/// copy of the parent's grants (<see cref="PartitionAccess"/>): a role revoked on the parent kept reading (or writing)
/// every existing partition by name, and a grant on the parent reached only the partitions created after it. Each
/// maintenance run reads the grants of the parent and of all its partitions at once (<c>PartitionGrants.sql</c>), and
/// in the same short DDL transaction (lock_timeout, retried) revokes what the parent does not give and grants what it
/// does, each as its grantor (<see cref="Plan"/>); nothing is sent when nothing differs. Grants made directly on a
/// partition are revoked: partitions mirror the parent's grants. The owner and the owners' own privileges are not
/// synced. A grant or revoke the maintenance role cannot make as its grantor is logged (4016, once per partition and condition:
/// <see cref="ReportedConditions"/>) and left as it is.
/// </summary>
/// <remarks>
/// Never CASCADE: a revoke on the parent that cascaded (or a RESTRICT one that was refused) leaves the parent without
/// the dependent grants (or with all of them), and the parent's grants are what the partition is compared with, so
/// every dependent grant the cascade removed is revoked here by name, dependents first, as its own grantor. A CASCADE
/// would instead remove, as the revoking role, grants made by roles the maintenance role may not be able to act as,
/// and, when the grantee still holds the option from another grantor on the parent, nothing the parent lost.
/// </remarks>
internal sealed partial class GrantSync(NpgsqlDataSource dataSource, DdlRunner ddl, ILogger<GrantSync> logger)
{
    private readonly ReportedConditions _reported = new();

    /// <summary>
    /// Brings the partitions' grants in step (with <paramref name="dryRun"/>, only reads them); returns the plans of the
    /// partitions that had (or, in a dry run, have) something to change. Given <c>read</c>, the plans of a plain read made
    /// already (<see cref="ReadCommand"/>, <see cref="ReadPlansAsync"/>), it does not read again unless something differs.
    /// </summary>
    public async Task<IReadOnlyList<PartitionPlan>> RunAsync(ManagedTable table, bool dryRun, CancellationToken cancellationToken,
        List<PartitionPlan>? read = null)
    {
        var plans = await PartitionSyncStep.RunAsync(
            dataSource,
            ddl,
            table,
            $"keep the grants of the partitions of {table.Qualified}",
            PartitionActionKind.SyncGrants,
            dryRun,
            async (connection, transaction) => Plans(await ReadAsync(connection, transaction, table.Qualified, cancellationToken).ConfigureAwait(false), table),
            p => (p.Partition.Partition, p.Statements),
            cancellationToken,
            read).ConfigureAwait(false);

        // Logged once per partition and condition while it lasts (again once it changed, or cleared and came back): the
        // health report is what shows it at each check.
        var skips = plans.SelectMany(p => p.Skipped.Select(s => (Partition: p.Partition.Partition!, Skipped: s))).ToList();
        foreach (var (partition, skipped) in _reported.Fresh(table.Qualified, skips,
            k => $"{k.Partition}\n{k.Skipped.Action}\n{k.Skipped.Grant}\n{k.Skipped.Reason}"))
        {
            Log.GrantNotSynced(logger, skipped.Action, skipped.Grant.Privilege + (skipped.Grant.Column is null ? "" : $" ({skipped.Grant.Column})"),
                table.Qualified, partition, skipped.Grant.Grantee ?? "PUBLIC", skipped.Grant.Grantor, skipped.Reason);
        }

        return [.. plans.Where(p => p.Statements.Count > 0)];
    }

    /// <summary>How many grants on the table's partitions the parent does not give (for the health report).</summary>
    public async Task<int> CountNotOnParentAsync(ManagedTable table, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var catalog = await ReadAsync(connection, null, table.Qualified, cancellationToken).ConfigureAwait(false);
        return Plans(catalog, table).Sum(p => p.NotOnParent);
    }

    private static List<PartitionPlan> Plans(Catalog? catalog, ManagedTable table) =>
        catalog is null ? [] : [.. catalog.Partitions.Select(p => Plan(catalog, p, table.QualifyPartition(p.Partition!)))];

    /// <summary>Reads <c>PartitionGrants.sql</c>: null when the table does not exist.</summary>
    /// <exception cref="InvalidOperationException">A privilege is not a table privilege.</exception>
    private static async Task<Catalog?> ReadAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string qualified, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(Sql.PartitionGrants, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualified });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await ReadAsync(reader, qualified, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The plain read of <c>PartitionGrants.sql</c> for <paramref name="qualified"/>, to run in a batch with others.</summary>
    internal static NpgsqlBatchCommand ReadCommand(string qualified)
    {
        var command = new NpgsqlBatchCommand(Sql.PartitionGrants);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = qualified });
        return command;
    }

    /// <summary>The plans from the reader's current result set, that of <see cref="ReadCommand"/>.</summary>
    internal static async Task<List<PartitionPlan>> ReadPlansAsync(NpgsqlDataReader reader, ManagedTable table, CancellationToken cancellationToken) =>
        Plans(await ReadAsync(reader, table.Qualified, cancellationToken).ConfigureAwait(false), table);

    private static async Task<Catalog?> ReadAsync(NpgsqlDataReader reader, string qualified, CancellationToken cancellationToken)
    {
        var relations = new List<Relation>();
        string me = "";
        var superuser = false;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var partition = reader.IsDBNull(0) ? null : reader.GetString(0);
            if (relations.Count == 0 || relations[^1].Partition != partition)
            {
                relations.Add(new Relation(partition, reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetString(2), reader.GetBoolean(3), []));
                me = reader.GetString(10);
                superuser = reader.GetBoolean(11);
            }

            if (reader.IsDBNull(5))
            {
                continue; // no grant at all
            }

            var privilege = reader.GetString(5);
            if (!GrantPlan.IsTablePrivilege(privilege))
            {
                throw new InvalidOperationException($"{qualified} or one of its partitions grants {privilege}, which is not a table privilege known to ScaleOps.");
            }

            relations[^1].Grants.Add(new GrantPlan.Grant(reader.IsDBNull(4) ? null : reader.GetString(4), privilege,
                reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetString(7), reader.GetBoolean(8), reader.GetBoolean(9)));
        }

        return relations.Count == 0 || relations[0].Partition is not null ? null : new Catalog(me, superuser, relations[0], relations.Skip(1).ToList());
    }
}
