namespace ScaleOps.Partitioning.Migration;

/// <summary>A progress report of a table conversion.</summary>
/// <param name="Step">The step just done, for example <c>indexes</c>, <c>check</c>, <c>swap</c>, <c>move p2025_03</c>.</param>
/// <param name="RowsMoved">Rows moved out of the old table into proper partitions so far.</param>
/// <param name="RowsToMove">Rows the old table held when the split began (0 before).</param>
public sealed record ConversionProgress(string Step, long RowsMoved, long RowsToMove);
