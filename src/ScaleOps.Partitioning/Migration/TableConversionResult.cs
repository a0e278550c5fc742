namespace ScaleOps.Partitioning.Migration;

/// <summary>The outcome of a table conversion.</summary>
/// <param name="RowsBefore">Rows in the source just before the swap (writes may add more afterwards).</param>
/// <param name="RowsAfter">Rows in the partitioned table at the end (fewer than <paramref name="RowsBefore"/> only when rows were deleted meanwhile).</param>
/// <param name="PeriodsMoved">Periods split out of the old table into their own partitions.</param>
/// <param name="Swapped">Whether this run did the swap (false when resuming after it).</param>
public sealed record TableConversionResult(long RowsBefore, long RowsAfter, int PeriodsMoved, bool Swapped);
