using System;
using System.Collections.Generic;

namespace ScaleOps.Partitioning.Archive;

/// <summary>
/// What an archived partition's Parquet file holds, written next to it only after the file was read back and
/// verified. Its presence is the promise that the partition may be removed from PostgreSQL.
/// </summary>
public sealed class ArchiveManifest
{
    /// <summary>The parent table's schema.</summary>
    public required string Schema { get; init; }

    /// <summary>The parent table.</summary>
    public required string Table { get; init; }

    /// <summary>The partition's name.</summary>
    public required string Partition { get; init; }

    /// <summary>
    /// The partition's inclusive lower bound (UTC); <see langword="null"/> when it is <c>MINVALUE</c> or <c>'-infinity'</c>
    /// (see <see cref="LowerBound"/>). Manifests written before gave 0001-01-01 there (with <see cref="LowerBound"/>
    /// <c>MINVALUE</c> or <c>-infinity</c>, or, older still, without it), a range the partition's rows of <c>-infinity</c> and
    /// BC lay outside of.
    /// </summary>
    public required DateTime? From { get; init; }

    /// <summary>
    /// The partition's lower bound as it was: <c>MINVALUE</c>, <c>-infinity</c>, or <see cref="From"/> as an ISO UTC
    /// timestamp (<c>2026-09-01 00:00:00+00</c>); a restore attaches the partition with it. <see langword="null"/> in
    /// manifests written before it was recorded, which gave <c>MINVALUE</c> and <c>'-infinity'</c> as 0001-01-01: such a
    /// manifest with <see cref="From"/> 0001-01-01 is not restored until this is set to what the bound was.
    /// </summary>
    public string? LowerBound { get; init; }

    /// <summary>The partition's exclusive upper bound (UTC).</summary>
    public required DateTime To { get; init; }

    /// <summary>The number of rows.</summary>
    public required long Rows { get; init; }

    /// <summary>
    /// SHA-256 (hex) over every row's column values in PostgreSQL text form, computed while exporting, again on
    /// read-back, and over the partition before it is removed.
    /// </summary>
    public required string RowChecksum { get; init; }

    /// <summary>SHA-256 (hex) of the Parquet file's bytes.</summary>
    public required string FileSha256 { get; init; }

    /// <summary>The Parquet blob's name in the archive container.</summary>
    public required string Blob { get; init; }

    /// <summary>
    /// The columns in file order: name, PostgreSQL type and Parquet encoding. A Parquet field has the column's name when
    /// it is a plain lowercase identifier, else <c>c{position}</c> (with <c>_</c> appended while another field has that
    /// name); files are read by position.
    /// </summary>
    public required IReadOnlyList<ArchiveColumn> Columns { get; init; }

    /// <summary>When the manifest was written (the host's TimeProvider).</summary>
    public required DateTimeOffset ArchivedAt { get; init; }

    /// <summary>
    /// The object id (<c>pg_class.oid</c>) of the table the rows were exported from; <see langword="null"/> in manifests
    /// written before it was recorded. A partition made again under the same name after this one was removed (late
    /// rows of its period moved out of a default partition, say) is another table: its archive does not replace this
    /// one, which is kept under a dated name (<c>{partition}.{ArchivedAt}.parquet</c> and <c>.manifest.json</c>).
    /// </summary>
    public long? RelationId { get; init; }

    /// <summary>
    /// The archive identity of the database the rows were exported from (<c>archive_identity</c> in the ScaleOps schema,
    /// made once by migration <c>partitioning/2</c>; pg_dump and physical backups carry it); <see langword="null"/> in
    /// manifests written before it was recorded, which are archived over and restored as before. Two databases archiving
    /// into one container (their blobs are named without the database) never take each other's archive for their own:
    /// a restore of another database's archive is refused unless asked for, and an archive of a partition of the same
    /// name keeps the other database's archive under a dated name instead of writing over it.
    /// </summary>
    public Guid? DatabaseId { get; init; }
}
