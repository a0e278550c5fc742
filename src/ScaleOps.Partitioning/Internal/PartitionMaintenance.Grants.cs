using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Data;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning.Internal;

internal sealed partial class PartitionMaintenance
{
    /// <summary>
    /// The sync round: each table's partitions brought in step with its parent's row-level security
    /// (<see cref="RowSecuritySync"/>), then with its grants (<see cref="GrantSync"/>), each in its own short
    /// transaction. Row-level security goes first: a grant the sync adds then reaches a partition that already filters.
    /// A table whose sync fails is logged (4008), counted and reported with a <see cref="PartitionActionKind.SyncRowSecurity"/>
    /// or <see cref="PartitionActionKind.SyncGrants"/> action naming no partition; the run goes on with the other sync
    /// and the other tables.
    /// </summary>
    private async Task SyncAllGrantsAsync(IReadOnlyList<Resolved> tables, AdvisoryLockHandle leader, List<PartitionAction> done,
        List<MaintenanceFailure> failures, CancellationToken cancellationToken)
    {
        foreach (var resolved in tables)
        {
            await SyncAsync(resolved, PartitionActionKind.SyncRowSecurity, SyncRowSecurityAsync, leader, done, failures, cancellationToken).ConfigureAwait(false);
            await SyncAsync(resolved, PartitionActionKind.SyncGrants, SyncGrantsAsync, leader, done, failures, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task SyncAsync(Resolved resolved, PartitionActionKind kind, Func<Resolved, bool, CancellationToken, Task<List<PartitionAction>>> sync,
        AdvisoryLockHandle leader, List<PartitionAction> done, List<MaintenanceFailure> failures, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!await leader.IsHeldAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException("Lost the partition maintenance lock (its connection died); stopping this run.");
        }

        try
        {
            foreach (var action in await sync(resolved, false, cancellationToken).ConfigureAwait(false))
            {
                metrics.ActionDone(action.Kind);
                done.Add(action);
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            var table = resolved.Table.Qualified;
            failures.Add(new MaintenanceFailure(table, new PartitionAction(table, kind, "", DateTime.MinValue, DateTime.MaxValue), ex));
            metrics.MaintenanceFailed(kind);
            Log.MaintenanceStepFailed(logger, ex, kind.ToString(), "(every partition)", table);
        }
    }

    /// <summary>One table's grant sync (a dry run only reads): an action for each partition whose grants differed.</summary>
    private async Task<List<PartitionAction>> SyncGrantsAsync(Resolved resolved, bool dryRun, CancellationToken cancellationToken) =>
        [.. (await grants.RunAsync(resolved.Table, dryRun, cancellationToken).ConfigureAwait(false))
            .Select(p => Synced(resolved.Table, PartitionActionKind.SyncGrants, p.Partition.Partition!, p.Partition.Bound))];

    /// <summary>One table's row-level security sync (a dry run only reads): an action for each partition that differed.</summary>
    private async Task<List<PartitionAction>> SyncRowSecurityAsync(Resolved resolved, bool dryRun, CancellationToken cancellationToken) =>
        [.. (await rowSecurity.RunAsync(resolved.Table, dryRun, cancellationToken).ConfigureAwait(false))
            .Select(p => Synced(resolved.Table, PartitionActionKind.SyncRowSecurity, p.Partition.Partition!, p.Partition.Bound))];

    private static PartitionAction Synced(ManagedTable table, PartitionActionKind kind, string partition, string? bound)
    {
        var (from, to, _) = PartitionStore.Bounds(bound ?? "DEFAULT", partition);
        return new PartitionAction(table.Qualified, kind, partition, from ?? DateTime.MinValue, to ?? DateTime.MaxValue);
    }
}
