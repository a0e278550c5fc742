using System;

namespace ScaleOps.Partitioning.Lifecycle;

/// <summary>One planned or performed maintenance step.</summary>
/// <param name="Table">The parent table, schema-qualified and quoted.</param>
/// <param name="Kind">What the step does.</param>
/// <param name="Partition">The partition's name (unquoted).</param>
/// <param name="From">The partition's inclusive lower bound (UTC); <see cref="DateTime.MinValue"/> for a
/// <see cref="PartitionActionKind.SyncGrants"/> of a default partition or one bounded FROM (MINVALUE).</param>
/// <param name="To">The partition's exclusive upper bound (UTC); <see cref="DateTime.MaxValue"/> for a
/// <see cref="PartitionActionKind.SyncGrants"/> of a default partition or one bounded TO (MAXVALUE).</param>
/// <param name="Rows">For <see cref="PartitionActionKind.MoveFromDefault"/> and archival: the rows concerned; otherwise null.</param>
public sealed record PartitionAction(string Table, PartitionActionKind Kind, string Partition, DateTime From, DateTime To, long? Rows = null);
