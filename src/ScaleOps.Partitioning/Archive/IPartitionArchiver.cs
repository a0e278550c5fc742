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
    /// current or a future one throws <see cref="PartitionNotClosedException"/>. An archive already under the
    /// partition's name that another table or another database (<see cref="ArchiveManifest.DatabaseId"/>) wrote is kept
    /// under a dated name first, never written over.
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
    /// attaches it to the parent with its original bounds. An archive written by another database (its manifest's
    /// <see cref="ArchiveManifest.DatabaseId"/> is not this database's: two databases archive into one container) is
    /// not restored: this database's own archive of the partition, kept under a dated name when the other's was written,
    /// is restored instead (the latest, if several), and without one the restore is refused unless
    /// <paramref name="allowOtherDatabase"/> says the other's is meant.
    /// </summary>
    /// <exception cref="System.InvalidOperationException">
    /// The table is not configured, the partition has no archive, or its archive is another database's, none of this
    /// database's is kept, and <paramref name="allowOtherDatabase"/> is false (nothing is restored).
    /// </exception>
    /// <param name="schema">The parent table's schema.</param>
    /// <param name="table">The parent table (one of the configured tables).</param>
    /// <param name="partition">The partition's name.</param>
    /// <param name="allowOtherDatabase">
    /// Restore the archive even when another database wrote it: a restore into a new database after a logical migration
    /// (its archive identity is new), or another database's rows brought here on purpose. That archive stays the other
    /// database's: archiving the restored partition here later keeps it under a dated name.
    /// </param>
    /// <param name="cancellationToken">Cancels the restore (nothing is left half-attached).</param>
    /// <returns>The number of rows restored.</returns>
    Task<long> RestoreAsync(string schema, string table, string partition, bool allowOtherDatabase = false, CancellationToken cancellationToken = default);
}
