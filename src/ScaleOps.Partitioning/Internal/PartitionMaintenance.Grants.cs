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
    /// The grants round: each table's partitions brought in step with its parent's grants in its own short transaction
    /// (<see cref="GrantSync"/>). A table whose sync fails is logged (4008), counted and reported with a
    /// <see cref="PartitionActionKind.SyncGrants"/> action naming no partition; the run goes on with the others.
    /// </summary>
    private async Task SyncAllGrantsAsync(IReadOnlyList<Resolved> tables, AdvisoryLockHandle leader, List<PartitionAction> done,
        List<MaintenanceFailure> failures, CancellationToken cancellationToken)
    {
        foreach (var resolved in tables)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!await leader.IsHeldAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new InvalidOperationException("Lost the partition maintenance lock (its connection died); stopping this run.");
            }

            try
            {
                foreach (var action in await SyncGrantsAsync(resolved, dryRun: false, cancellationToken).ConfigureAwait(false))
                {
                    metrics.ActionDone(action.Kind);
                    done.Add(action);
                }
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                var table = resolved.Table.Qualified;
                failures.Add(new MaintenanceFailure(table, new PartitionAction(table, PartitionActionKind.SyncGrants, "", DateTime.MinValue, DateTime.MaxValue), ex));
                metrics.MaintenanceFailed(PartitionActionKind.SyncGrants);
                Log.MaintenanceStepFailed(logger, ex, nameof(PartitionActionKind.SyncGrants), "(every partition)", table);
            }
        }
    }

    /// <summary>One table's grant sync (a dry run only reads): an action for each partition whose grants differed.</summary>
    private async Task<List<PartitionAction>> SyncGrantsAsync(Resolved resolved, bool dryRun, CancellationToken cancellationToken)
    {
        var table = resolved.Table;
        var changed = await grants.RunAsync(table, dryRun, cancellationToken).ConfigureAwait(false);
        return [.. changed.Select(p =>
        {
            var (from, to, _) = PartitionStore.Bounds(p.Partition.Bound ?? "DEFAULT", p.Partition.Partition!);
            return new PartitionAction(table.Qualified, PartitionActionKind.SyncGrants, p.Partition.Partition!, from ?? DateTime.MinValue, to ?? DateTime.MaxValue);
        })];
    }
}
