using System.Collections.Generic;

namespace ScaleOps.Partitioning.Lifecycle;

/// <summary>
/// An index created on every new partition before it is attached (so it costs nothing on a live table). Indexes
/// declared on the parent table are inherited by PostgreSQL anyway; templates add per-partition ones, such as BRIN.
/// </summary>
public sealed class PartitionIndexTemplate
{
    /// <summary>
    /// The suffix of the index name: the index on partition <c>p</c> is named <c>p_{Suffix}</c>; when that exceeds 63
    /// bytes, the table part of the partition name is cut, keeping its period and the suffix.
    /// </summary>
    /// <value>Required. Letters, digits and underscores only, at most 40 characters.</value>
    public string Suffix { get; set; } = "";

    /// <summary>The indexed columns, in order.</summary>
    /// <value>Required, at least one. Each is quoted.</value>
    public IList<string> Columns { get; set; } = [];

    /// <summary>Whether to build a BRIN index (tiny, ideal on the append-ordered time column) instead of a B-tree.</summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool Brin { get; set; }
}
