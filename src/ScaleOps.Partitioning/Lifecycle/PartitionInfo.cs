using System;

namespace ScaleOps.Partitioning.Lifecycle;

/// <summary>One partition as PostgreSQL reports it.</summary>
/// <param name="Schema">The partition's schema.</param>
/// <param name="Name">The partition's name.</param>
/// <param name="From">The inclusive lower bound (UTC), or <see langword="null"/> for the default partition or MINVALUE.</param>
/// <param name="To">The exclusive upper bound (UTC), or <see langword="null"/> for the default partition or MAXVALUE.</param>
/// <param name="IsDefault">Whether this is the default partition.</param>
/// <param name="RowEstimate">The planner's row estimate (<c>reltuples</c>; 0 before the first ANALYZE).</param>
/// <param name="TotalBytes">The size including indexes and TOAST.</param>
public sealed record PartitionInfo(string Schema, string Name, DateTime? From, DateTime? To, bool IsDefault, long RowEstimate, long TotalBytes);
