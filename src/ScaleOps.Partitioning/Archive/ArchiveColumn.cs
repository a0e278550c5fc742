namespace ScaleOps.Partitioning.Archive;

/// <summary>One archived column.</summary>
/// <param name="Name">The PostgreSQL column name.</param>
/// <param name="Type">The PostgreSQL type (<c>format_type</c>); values are stored as their exact PostgreSQL text form.</param>
public sealed record ArchiveColumn(string Name, string Type);
