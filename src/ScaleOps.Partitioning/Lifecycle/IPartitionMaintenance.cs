using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace ScaleOps.Partitioning.Lifecycle;

/// <summary>Runs partition maintenance on demand; the hosted service calls the same at start-up and on a schedule.</summary>
public interface IPartitionMaintenance
{
    /// <summary>
    /// Creates missing partitions ahead, moves rows out of a default partition, archives and removes expired
    /// partitions, for every configured table. Idempotent. Only one host runs it at a time (advisory lock); on the
    /// others it returns at once with <see cref="MaintenanceResult.Ran"/> false. Every table's creates run first, then
    /// moves out of default partitions, then archive and retention; a table or step that fails is reported in
    /// <see cref="MaintenanceResult.Failures"/> and the run goes on with the rest.
    /// </summary>
    /// <param name="dryRun">When true, nothing is changed: the result is the plan.</param>
    /// <param name="cancellationToken">Cancels between steps.</param>
    /// <returns>What was done (or would be done).</returns>
    Task<MaintenanceResult> RunMaintenanceAsync(bool dryRun = false, CancellationToken cancellationToken = default);

    /// <summary>Reports, per configured table: missing future partitions, rows in the default partition, partitions past retention, sizes.</summary>
    /// <param name="cancellationToken">Cancels the report.</param>
    /// <returns>One entry per table.</returns>
    Task<IReadOnlyList<PartitionHealth>> GetHealthAsync(CancellationToken cancellationToken = default);
}
