using System;
using System.Threading;
using System.Threading.Tasks;

namespace ScaleOps.Partitioning.Migration;

/// <summary>
/// Converts a live unpartitioned table into a partitioned one without holding an exclusive lock for more than
/// milliseconds: indexes built concurrently, a range CHECK added NOT VALID then validated online, a rename swap that
/// attaches the old table as the default partition (its CHECK spares the scan), then the old rows split into proper
/// partitions one period per transaction. Resumable: run it again after a crash and it continues where it stopped.
/// </summary>
public interface ITableMigrator
{
    /// <summary>
    /// Converts <paramref name="source"/> (a plain table) into the partitioned table <paramref name="target"/>, which you
    /// created empty with the shape and indexes you want and which then takes the source's name. The source's name
    /// must be declared in <see cref="PartitioningOptions.Tables"/> (that is what it becomes).
    /// </summary>
    /// <param name="schema">The schema of both tables.</param>
    /// <param name="source">The live unpartitioned table; it ends up as the partitioned table's name.</param>
    /// <param name="target">The new, empty partitioned table; it disappears under the source's name.</param>
    /// <param name="progress">Receives a report after each step and each moved period.</param>
    /// <param name="cancellationToken">Cancels between steps (the conversion can be resumed).</param>
    /// <returns>Row counts and what was done.</returns>
    Task<TableConversionResult> ConvertAsync(string schema, string source, string target, IProgress<ConversionProgress>? progress = null,
        CancellationToken cancellationToken = default);
}
