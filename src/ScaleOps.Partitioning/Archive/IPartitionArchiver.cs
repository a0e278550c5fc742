using System.Threading;
using System.Threading.Tasks;

namespace ScaleOps.Partitioning.Archive;

/// <summary>
/// Verified archival of closed partitions to Azure Blob Storage as Parquet: export (streamed, one row group in memory),
/// upload, read back and verify row count and checksum, write the manifest, and only then remove the partition. A
/// crash between any two steps leaves the rows in PostgreSQL or verified in the blob; running again resumes.
/// </summary>
public interface IPartitionArchiver
{
    /// <summary>
    /// Archives one partition of a configured table, then removes it as the table's
    /// <see cref="Lifecycle.PartitionedTableOptions.RetentionMode"/> says. Idempotent: an already verified archive is
    /// not exported again. Only a closed partition (its upper bound at or before now) is accepted: archiving the
    /// current or a future one throws <see cref="PartitionNotClosedException"/>.
    /// </summary>
    /// <exception cref="PartitionNotClosedException">The partition's period has not ended.</exception>
    /// <exception cref="System.InvalidOperationException">
    /// The table is not configured, or the partition is not one of its partitions and has no verified archive to resume.
    /// </exception>
    /// <param name="schema">The parent table's schema.</param>
    /// <param name="table">The parent table (one of the configured tables).</param>
    /// <param name="partition">The partition's name.</param>
    /// <param name="cancellationToken">Cancels between steps.</param>
    /// <returns>The manifest.</returns>
    Task<ArchiveManifest> ArchiveAsync(string schema, string table, string partition, CancellationToken cancellationToken = default);

    /// <summary>Reads an archived partition's manifest, or <see langword="null"/> when it has none.</summary>
    /// <param name="schema">The parent table's schema.</param>
    /// <param name="table">The parent table.</param>
    /// <param name="partition">The partition's name.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The manifest.</returns>
    Task<ArchiveManifest?> GetManifestAsync(string schema, string table, string partition, CancellationToken cancellationToken = default);

    /// <summary>
    /// Re-imports an archived partition: verifies the file against its manifest, loads it into a new table and
    /// attaches it to the parent with its original bounds.
    /// </summary>
    /// <param name="schema">The parent table's schema.</param>
    /// <param name="table">The parent table (one of the configured tables).</param>
    /// <param name="partition">The partition's name.</param>
    /// <param name="cancellationToken">Cancels the restore (nothing is left half-attached).</param>
    /// <returns>The number of rows restored.</returns>
    Task<long> RestoreAsync(string schema, string table, string partition, CancellationToken cancellationToken = default);
}
