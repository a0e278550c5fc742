using System;

namespace ScaleOps.Partitioning.Lifecycle;

/// <summary>A table or a step of a maintenance run that failed; the run went on with the rest.</summary>
/// <param name="Table">The parent table, schema-qualified and quoted.</param>
/// <param name="Action">The step that failed, or <see langword="null"/> when the table itself could not be checked or planned.</param>
/// <param name="Error">What went wrong.</param>
public sealed record MaintenanceFailure(string Table, PartitionAction? Action, Exception Error);
