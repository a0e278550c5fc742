using System.Collections.Generic;

namespace ScaleOps.Partitioning.Lifecycle;

/// <summary>The outcome of one maintenance run (or, for a dry run, its plan).</summary>
/// <param name="Ran">False when another host holds the maintenance lock and this one did nothing.</param>
/// <param name="DryRun">Whether <see cref="Actions"/> is only the plan (nothing was changed).</param>
/// <param name="Actions">The steps, in the order they run.</param>
public sealed record MaintenanceResult(bool Ran, bool DryRun, IReadOnlyList<PartitionAction> Actions);
