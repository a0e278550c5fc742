using System.Collections.Generic;

namespace ScaleOps.Partitioning.Lifecycle;

/// <summary>The outcome of one maintenance run (or, for a dry run, its plan).</summary>
/// <param name="Ran">False when another host holds the maintenance lock and this one did nothing.</param>
/// <param name="DryRun">Whether <see cref="Actions"/> is only the plan (nothing was changed).</param>
/// <param name="Actions">The steps done (for a dry run, planned), in the order they ran: creates of every table first,
/// then the partitions whose grants were brought in step with their parent's (<see cref="PartitionActionKind.SyncGrants"/>),
/// then moves out of default partitions, then archive and retention.</param>
public sealed record MaintenanceResult(bool Ran, bool DryRun, IReadOnlyList<PartitionAction> Actions)
{
    /// <summary>
    /// The tables that could not be checked or planned and the steps that failed; the run went on with the others. A
    /// partition whose archive failed is not removed (its removal is neither done nor listed here).
    /// </summary>
    /// <value>Empty when everything planned was done.</value>
    public IReadOnlyList<MaintenanceFailure> Failures { get; init; } = [];
}
